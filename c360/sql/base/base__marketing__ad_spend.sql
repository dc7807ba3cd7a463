-- base__marketing__ad_spend: daily ad spend, with source and medium normalized as sessions are.
-- grain: one row per source row (several rows for one date/source/medium/campaign are summed in marts).
WITH source AS (
    SELECT * FROM {{ source('marketing', 'ad_spend') }}
)

SELECT
    date AS spend_date,
    LOWER(TRIM(source)) AS source,
    LOWER(TRIM(medium)) AS medium,
    TRIM(campaign) AS campaign,
    spend
FROM source
