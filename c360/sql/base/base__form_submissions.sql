-- base__form_submissions: CRM form submissions with the GA4 device (user_pseudo_id) they came from.
-- grain: one row per submission_id (unique, not null).
-- ga_client_id is a bare client id ('1234567890.1700000000') or a raw _ga cookie
-- ('GA1.1.1234567890.1700000000'); both name that user_pseudo_id. Anything else gives NULL.
-- dropped (_drop_reason): duplicate (a repeated submission_id).
WITH source AS (
    SELECT * FROM {{ source('crm', 'form_submissions') }}
),

renamed AS (
    SELECT
        submission_id,
        form_name,
        email,
        LOWER(TRIM(email)) AS email_normalized,
        ga_client_id,
        REGEXP_EXTRACT(TRIM(ga_client_id), r'^(?:GA[0-9]+\.[0-9]+\.)?([0-9]+\.[0-9]+)$') AS user_pseudo_id,
        submitted_at,
        ROW_NUMBER() OVER (PARTITION BY submission_id ORDER BY submitted_at, email, ga_client_id) AS copy_number
    FROM source
)

SELECT
    * EXCEPT (copy_number),
    CASE WHEN copy_number > 1 THEN 'duplicate' END AS _drop_reason
FROM renamed
