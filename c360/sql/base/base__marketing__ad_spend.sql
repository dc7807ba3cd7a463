-- base__marketing__ad_spend: daily ad spend, with source and medium normalized as sessions are.
-- grain: one row per (spend_date, source, medium, campaign); repeated rows are summed, not dropped.
WITH source AS (
    SELECT * FROM {{ source('marketing', 'ad_spend') }}
)

SELECT
    date AS spend_date,
    LOWER(TRIM(source)) AS source,
    LOWER(TRIM(medium)) AS medium,
    TRIM(campaign) AS campaign,
    SUM(spend) AS spend
FROM source
GROUP BY 1, 2, 3, 4
