-- base__crm__contacts: live CRM contacts with business names and a normalized email.
-- grain: one row per contact_id (unique, not null).
-- dropped (_drop_reason): deleted (_fivetran_deleted), duplicate (a repeated contact_id: the most
--   recently updated row is kept).
-- email_normalized: the email NFKC-normalized (DuckDB: the loader did it, c360.sources.contract.EMAIL_COLUMNS),
--   every Unicode white space (tab, NBSP, em space, zero-width space, BOM) trimmed off both ends, lower case.
-- company_domain: the company's web domain when the CRM has one (optional; a CRM connector: the account's
--   website), lower case, without scheme, `www.`, port or path.
WITH source AS (
    SELECT * FROM {{ source('crm', 'contacts') }}
),

renamed AS (
    SELECT
        contact_id,
        email,
        NULLIF(LOWER(REGEXP_REPLACE({% if target.type == 'bigquery' %}NORMALIZE(email, NFKC){% else %}email{% endif %}, r'^[\s\x{0B}\x{85}\p{Z}\x{180E}\x{200B}-\x{200D}\x{2060}\x{FEFF}]+|[\s\x{0B}\x{85}\p{Z}\x{180E}\x{200B}-\x{200D}\x{2060}\x{FEFF}]+$', '')), '') AS email_normalized,
        first_name,
        last_name,
        company_name,
        NULLIF(REGEXP_EXTRACT(LOWER(TRIM(company_domain)), r'^(?:[a-z][a-z0-9+.-]*://)?(?:www[.])?([^/:?#]*)'), '')
            AS company_domain,
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
