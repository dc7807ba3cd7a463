-- base__crm__deals: live CRM deals with their outcome, their amount in the reporting currency.
-- grain: one row per deal_id (unique, not null).
-- deal_status: from is_won / is_closed when the source has them (a CRM connector: the pipeline stage's own
--   outcome): won (is_won), lost (closed, not won), else open; otherwise won (stage in @won_stages), lost
--   (stage in @lost_stages), else open.
-- amount: NUMERIC in `currency`, the reporting currency (base__reporting_currency). A deal in another currency
--   (original_currency, original_amount) is converted at the latest marketing/fx_rates rate on or before its
--   closed_date (an open deal without a close: the latest rate), rounded half to even to the currency's minor
--   unit; fx_rate is 1 for a deal already in the reporting currency (or with no currency). fx_status names what
--   happened: same currency | converted | no rate | no reporting currency | no amount; c360.money stops the run
--   on 'no rate' and 'no reporting currency', naming the deals.
-- dropped (_drop_reason): deleted (_fivetran_deleted), duplicate (a repeated deal_id).
WITH source AS (
    SELECT * FROM {{ source('crm', 'deals') }}
),

reporting AS (
    SELECT * FROM {{ ref('base__reporting_currency') }}
),

rates AS (
    SELECT * FROM {{ ref('base__marketing__fx_rates') }}
),

renamed AS (
    SELECT
        deal_id,
        contact_id,
        deal_name,
        CAST(amount AS NUMERIC) AS original_amount,
        UPPER(NULLIF(TRIM(currency), '')) AS original_currency,
        stage,
        CASE
            WHEN is_won THEN 'won'
            WHEN is_closed THEN 'lost'
            WHEN is_won IS NOT NULL OR is_closed IS NOT NULL THEN 'open'
            WHEN stage IN UNNEST(@won_stages) THEN 'won'
            WHEN stage IN UNNEST(@lost_stages) THEN 'lost'
            ELSE 'open'
        END AS deal_status,
        created_at,
        closed_at,
        DATE(closed_at) AS closed_date,
        COALESCE(_fivetran_deleted, FALSE) AS is_deleted,
        ROW_NUMBER() OVER (
            PARTITION BY deal_id
            ORDER BY COALESCE(_fivetran_deleted, FALSE), closed_at DESC, created_at DESC, stage, amount, currency
        ) AS copy_number
    FROM source
),

priced AS (
    SELECT
        renamed.*,
        reporting.reporting_currency AS currency,
        reporting.minor_unit,
        {{ fx_status('renamed.original_amount', 'renamed.original_currency', 'reporting.reporting_currency',
                     'rates.rate') }} AS fx_status,
        rates.rate
    FROM renamed
    CROSS JOIN reporting
    LEFT JOIN rates
        ON renamed.original_currency = rates.currency
        AND renamed.original_currency != reporting.reporting_currency
        AND COALESCE(renamed.closed_date, DATE '9999-12-31') >= rates.rate_date
        AND (rates.valid_until IS NULL OR COALESCE(renamed.closed_date, DATE '9999-12-31') < rates.valid_until)
),

final AS (
    SELECT
        deal_id,
        contact_id,
        deal_name,
        {{ in_reporting_currency('original_amount', 'fx_status', 'rate', 'minor_unit') }} AS amount,
        currency,
        original_amount,
        original_currency,
        CASE
            WHEN fx_status = 'same currency' THEN CAST('1' AS NUMERIC)
            WHEN fx_status = 'converted' THEN rate
        END AS fx_rate,
        fx_status,
        stage,
        deal_status,
        created_at,
        closed_at,
        closed_date,
        deal_status = 'won' AS is_won,
        CASE
            WHEN is_deleted THEN 'deleted'
            WHEN copy_number > 1 THEN 'duplicate'
        END AS _drop_reason
    FROM priced
)

SELECT * FROM final
