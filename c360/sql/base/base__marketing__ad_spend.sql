-- base__marketing__ad_spend: daily ad spend in the reporting currency, with source and medium normalized as
-- sessions are.
-- grain: one row per source row (several rows for one date/source/medium/campaign are summed in marts).
-- spend: NUMERIC in `currency`, the reporting currency; a row in another currency (original_currency) is
--   converted at the latest marketing/fx_rates rate on or before spend_date, rounded half to even to the minor
--   unit. fx_status as in base__crm__deals; c360.money stops the run on a row inside the analysis period (the
--   GA4 dates) that it cannot convert; one outside it is never used and keeps a NULL spend.
WITH source AS (
    SELECT * FROM {{ source('marketing', 'ad_spend') }}
),

reporting AS (
    SELECT * FROM {{ ref('base__reporting_currency') }}
),

rates AS (
    SELECT * FROM {{ ref('base__marketing__fx_rates') }}
),

priced AS (
    SELECT
        source.date AS spend_date,
        LOWER(TRIM(source.source)) AS source,
        LOWER(TRIM(source.medium)) AS medium,
        TRIM(source.campaign) AS campaign,
        CAST(source.spend AS NUMERIC) AS original_spend,
        UPPER(NULLIF(TRIM(source.currency), '')) AS original_currency,
        reporting.reporting_currency AS currency,
        reporting.minor_unit,
        rates.rate
    FROM source
    CROSS JOIN reporting
    LEFT JOIN rates
        ON UPPER(NULLIF(TRIM(source.currency), '')) = rates.currency
        AND UPPER(NULLIF(TRIM(source.currency), '')) != reporting.reporting_currency
        AND source.date >= rates.rate_date
        AND (rates.valid_until IS NULL OR source.date < rates.valid_until)
),

classified AS (
    SELECT
        *,
        {{ fx_status('original_spend', 'original_currency', 'currency', 'rate') }} AS fx_status
    FROM priced
)

SELECT
    spend_date,
    source,
    medium,
    campaign,
    {{ in_reporting_currency('original_spend', 'fx_status', 'rate', 'minor_unit') }} AS spend,
    currency,
    original_spend,
    original_currency,
    fx_status
FROM classified
