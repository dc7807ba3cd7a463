-- base__product__users: users of the product; user_id is the GA4 user_id and a contact's external_id.
-- grain: one row per user_id (unique, not null).
-- dropped (_drop_reason): duplicate (a repeated user_id: the latest login is kept).
-- email_normalized: the email NFKC-normalized (DuckDB: the loader did it, c360.sources.contract.EMAIL_COLUMNS),
--   every Unicode white space (tab, NBSP, em space, zero-width space, BOM) trimmed off both ends, lower case.
WITH source AS (
    SELECT * FROM {{ source('product', 'users') }}
),

renamed AS (
    SELECT
        user_id,
        email,
        NULLIF(LOWER(REGEXP_REPLACE({% if target.type == 'bigquery' %}NORMALIZE(email, NFKC){% else %}email{% endif %}, r'^[\s\x{0B}\x{85}\p{Z}\x{180E}\x{200B}-\x{200D}\x{2060}\x{FEFF}]+|[\s\x{0B}\x{85}\p{Z}\x{180E}\x{200B}-\x{200D}\x{2060}\x{FEFF}]+$', '')), '') AS email_normalized,
        company_name,
        plan,
        signed_up_at,
        last_login_at,
        ROW_NUMBER() OVER (
            PARTITION BY user_id ORDER BY last_login_at DESC, signed_up_at DESC, email, plan
        ) AS copy_number
    FROM source
)

SELECT
    * EXCEPT (copy_number),
    CASE WHEN copy_number > 1 THEN 'duplicate' END AS _drop_reason
FROM renamed
