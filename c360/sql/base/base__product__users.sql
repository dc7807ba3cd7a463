-- base__product__users: users of the product; user_id is the GA4 user_id and a contact's external_id.
-- grain: one row per user_id (unique, not null).
-- dropped (_drop_reason): duplicate (a repeated user_id: the latest login is kept).
WITH source AS (
    SELECT * FROM {{ source('product', 'users') }}
),

renamed AS (
    SELECT
        user_id,
        email,
        LOWER(TRIM(email)) AS email_normalized,
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
