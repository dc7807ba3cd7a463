-- base__form_submissions: CRM form submissions with the GA4 device (user_pseudo_id) they came from.
-- grain: one row per submission_id (unique, not null).
-- ga_client_id is a bare client id ('1234567890.1700000000') or a raw _ga cookie
-- ('GA1.1.1234567890.1700000000'); both name that user_pseudo_id. Anything else gives NULL.
-- dropped (_drop_reason): duplicate (a repeated submission_id).
-- email_normalized: the email NFKC-normalized (DuckDB: the loader did it, c360.sources.contract.EMAIL_COLUMNS),
--   every Unicode white space (tab, NBSP, em space, zero-width space, BOM) trimmed off both ends, lower case.
WITH source AS (
    SELECT * FROM {{ source('crm', 'form_submissions') }}
),

renamed AS (
    SELECT
        submission_id,
        form_name,
        email,
        NULLIF(LOWER(REGEXP_REPLACE({% if target.type == 'bigquery' %}NORMALIZE(email, NFKC){% else %}email{% endif %}, r'^[\s\x{0B}\x{85}\p{Z}\x{180E}\x{200B}-\x{200D}\x{2060}\x{FEFF}]+|[\s\x{0B}\x{85}\p{Z}\x{180E}\x{200B}-\x{200D}\x{2060}\x{FEFF}]+$', '')), '') AS email_normalized,
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
