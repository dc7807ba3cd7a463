-- base__crm__contacts: live CRM contacts with business names and a normalized email.
-- grain: one row per contact_id (unique, not null).
-- dropped (_drop_reason): deleted (_fivetran_deleted), duplicate (a repeated contact_id: the most
--   recently updated row is kept).
WITH source AS (
    SELECT * FROM {{ source('crm', 'contacts') }}
),

renamed AS (
    SELECT
        contact_id,
        email,
        LOWER(TRIM(email)) AS email_normalized,
        first_name,
        last_name,
        company_name,
        job_title,
        lifecycle_stage,
        NULLIF(TRIM(external_id), '') AS external_id,
        created_at,
        updated_at,
        COALESCE(_fivetran_deleted, FALSE) AS is_deleted,
        ROW_NUMBER() OVER (
            PARTITION BY contact_id
            ORDER BY COALESCE(_fivetran_deleted, FALSE), updated_at DESC, created_at DESC, email, first_name, last_name
        ) AS copy_number
    FROM source
),

final AS (
    SELECT
        * EXCEPT (is_deleted, copy_number),
        CASE
            WHEN is_deleted THEN 'deleted'
            WHEN copy_number > 1 THEN 'duplicate'
        END AS _drop_reason
    FROM renamed
)

SELECT * FROM final
