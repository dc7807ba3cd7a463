-- base__marketing__fx_rates: exchange rates into the reporting currency (marketing/fx_rates.csv; optional).
-- grain: one row per (currency, rate_date): rate_key = currency || ':' || rate_date (unique: two different rates
--   for one currency and day stop the run). One unit of `currency` is worth `rate` units of reporting_currency;
--   a rate applies from its rate_date until the currency's next rate_date (valid_until, exclusive; NULL: open).
-- dropped (_drop_reason): duplicate (the same currency, day and rate repeated).
WITH source AS (
    SELECT * FROM {{ source('marketing', 'fx_rates') }}
),

renamed AS (
    SELECT DISTINCT
        UPPER(TRIM(currency)) AS currency,
        date AS rate_date,
        rate
    FROM source
),

counted AS (
    SELECT
        source.*,
        ROW_NUMBER() OVER (
            PARTITION BY UPPER(TRIM(source.currency)), source.date, source.rate ORDER BY source.rate
        ) AS copy_number
    FROM source
)

SELECT
    CONCAT(UPPER(TRIM(counted.currency)), ':', CAST(counted.date AS STRING)) AS rate_key,
    UPPER(TRIM(counted.currency)) AS currency,
    counted.date AS rate_date,
    counted.rate,
    valid.valid_until,
    CASE WHEN counted.copy_number > 1 THEN 'duplicate' END AS _drop_reason
FROM counted
LEFT JOIN (
    SELECT
        currency,
        rate_date,
        LEAD(rate_date) OVER (PARTITION BY currency ORDER BY rate_date) AS valid_until
    FROM (SELECT DISTINCT currency, rate_date FROM renamed) AS days
) AS valid
    ON UPPER(TRIM(counted.currency)) = valid.currency AND counted.date = valid.rate_date
