-- base__reporting_currency: the one currency every money figure is reported in, and its minor unit.
-- grain: one row.
-- reporting_currency: @reporting_currency when set, else the single currency of the live deals (a blank
--   currency counts as the reporting currency; with no currency on any deal, the single currency of the ad
--   spend); NULL when the deals hold several (c360.money stops the run after the base layer, naming them and
--   their deal counts) or no row names one (amounts are reported unlabelled). Ad spend in another currency is
--   converted like a deal.
-- minor_unit: decimals of the currency's smallest unit (base__seeds__currencies; 2 when the code is not there).
WITH deal_currencies AS (
    SELECT DISTINCT UPPER(NULLIF(TRIM(currency), '')) AS currency
    FROM {{ source('crm', 'deals') }}
    WHERE NOT COALESCE(_fivetran_deleted, FALSE) AND NULLIF(TRIM(currency), '') IS NOT NULL
),

spend_currencies AS (
    SELECT DISTINCT UPPER(NULLIF(TRIM(currency), '')) AS currency
    FROM {{ source('marketing', 'ad_spend') }}
    WHERE NULLIF(TRIM(currency), '') IS NOT NULL
),

counted AS (
    SELECT
        (SELECT COUNT(*) FROM deal_currencies) AS deal_currencies,
        (SELECT MIN(currency) FROM deal_currencies) AS deal_currency,
        (SELECT COUNT(*) FROM spend_currencies) AS spend_currencies,
        (SELECT MIN(currency) FROM spend_currencies) AS spend_currency
),

chosen AS (
    SELECT
        CASE
            WHEN @reporting_currency != '' THEN @reporting_currency
            WHEN deal_currencies = 1 THEN deal_currency
            WHEN deal_currencies = 0 AND spend_currencies = 1 THEN spend_currency
        END AS reporting_currency,
        CASE
            WHEN @reporting_currency != '' THEN 'parameter reporting_currency'
            WHEN deal_currencies = 1 THEN 'the single currency of the deals'
            WHEN deal_currencies = 0 AND spend_currencies = 1 THEN 'the single currency of the ad spend'
            WHEN deal_currencies = 0 AND spend_currencies = 0 THEN 'no currency in the deals or ad spend'
            ELSE 'several currencies and no reporting_currency'
        END AS chosen_by,
        deal_currencies + spend_currencies AS currencies_seen
    FROM counted
)

SELECT
    chosen.reporting_currency,
    COALESCE(currencies.minor_unit, 2) AS minor_unit,
    chosen.chosen_by,
    chosen.currencies_seen
FROM chosen
LEFT JOIN {{ ref('base__seeds__currencies') }} AS currencies
    ON chosen.reporting_currency = currencies.currency
