-- mrt__marketing__channel_roi: return on ad spend per attribution model and channel, at conversion_window_days.
-- grain: one row per (model, channel) (unique); every model's attributed revenue adds up to the won revenue.
-- spend: ad_spend rows from the first to the last event date of the GA4 data (the analysis period), mapped to
--   the channel dimension with the same rules as sessions (source/medium/campaign -> channel_group, etc.).
-- Channels with spend and no conversions appear with zero revenue; roas = revenue / spend,
--   cost_per_won_deal = spend / attributed conversions (NULL where the divisor is 0).
-- attributed_revenue and spend are NUMERIC in `currency`, the reporting currency (base__reporting_currency);
--   each model's attributed_revenue adds up to the won revenue exactly.
WITH attributed AS (
    SELECT model, channel, conversions, conversion_value AS revenue
    FROM {{ ref('mrt__marketing__channel_attribution') }}
    WHERE window_days = @conversion_window_days
),

period AS (
    SELECT MIN(event_date) AS first_date, MAX(event_date) AS last_date FROM {{ ref('base__ga4__events') }}
),

categories AS (
    SELECT * FROM {{ ref('base__seeds__ga4_source_categories') }}
),

spend_rows AS (
    SELECT
        spend.*,
        {{ channel_group('spend.source', 'spend.medium', 'spend.campaign', 'categories.source_category') }} AS channel_group
    FROM {{ ref('base__marketing__ad_spend') }} AS spend
    CROSS JOIN period
    LEFT JOIN categories
        ON spend.source = categories.source
    WHERE spend.spend_date BETWEEN period.first_date AND period.last_date
),

spend AS (
    SELECT
        {{ attribution_channel('@attribution_channel', 'channel_group', 'source', 'medium', 'campaign') }} AS channel,
        SUM(spend) AS spend
    FROM spend_rows
    GROUP BY 1
),

grid AS (
    SELECT models.model, channels.channel
    -- every requested model, even one with no conversion (a period without won deals still shows its spend)
    FROM (SELECT DISTINCT model FROM UNNEST(@attribution_models) AS model) AS models
    CROSS JOIN (SELECT channel FROM attributed UNION DISTINCT SELECT channel FROM spend) AS channels
)

SELECT
    grid.model,
    grid.channel,
    (SELECT reporting_currency FROM {{ ref('base__reporting_currency') }}) AS currency,
    COALESCE(attributed.conversions, 0) AS attributed_conversions,
    COALESCE(attributed.revenue, 0) AS attributed_revenue,
    COALESCE(spend.spend, 0) AS spend,
    SAFE_DIVIDE(COALESCE(attributed.revenue, 0), spend.spend) AS roas,
    SAFE_DIVIDE(spend.spend, NULLIF(attributed.conversions, 0)) AS cost_per_won_deal
FROM grid
LEFT JOIN attributed
    ON grid.model = attributed.model AND grid.channel = attributed.channel
LEFT JOIN spend
    ON grid.channel = spend.channel
