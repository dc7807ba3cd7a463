-- int__attribution_paths: the path table of ChannelAttribution and fractribution, per window.
-- grain: one row per (window_days, path) (unique). path: the channels of a journey in touch order, joined
--   with ' > '; conversions / conversion_value: won deals and their amounts; non_conversions: lost deals.
-- Journeys without a touchpoint have no path; their deals appear as (unattributed) in the channel models.
WITH touchpoints AS (
    SELECT * FROM {{ ref('int__attribution_touchpoints') }}
    WHERE touches > 0
),

journeys AS (
    SELECT
        window_days,
        deal_id,
        ANY_VALUE(deal_status) AS deal_status,
        ANY_VALUE(deal_amount) AS deal_amount,
        STRING_AGG(channel, ' > ' ORDER BY touch_order) AS path
    FROM touchpoints
    GROUP BY window_days, deal_id
)

SELECT
    window_days,
    path,
    COUNTIF(deal_status = 'won') AS conversions,
    COALESCE(SUM(IF(deal_status = 'won', deal_amount, 0)), 0) AS conversion_value,
    COUNTIF(deal_status = 'lost') AS non_conversions
FROM journeys
GROUP BY window_days, path
