-- mrt__marketing__attributed_touchpoints: the credit each touchpoint of a won deal receives, per model.
-- grain: one row per (window_days, deal_id, touch_order, model) (unique); window_days as in
--   int__attribution_touchpoints, so the sensitivity windows come from the same rules.
-- Models (per touch): first_touch, last_touch, linear, time_decay (weight 2^(-days_before / @half_life_days),
--   normalized per deal), position_based (40% first, 40% last, 20% spread over the middle; one touch 100%,
--   two touches 50/50). Credits of a deal add up to 1; attributed_revenue = credit * deal_amount.
--   A won deal with no touchpoint keeps one '(unattributed)' row with credit 1 in every model.
-- Markov and Shapley are channel-level, not per touch: see mrt__marketing__channel_attribution.
WITH touchpoints AS (
    SELECT * FROM {{ ref('int__attribution_touchpoints') }}
    WHERE deal_status = 'won'
),

weighted AS (
    SELECT
        *,
        -- relative to the deal's most recent touch, so a deal whose touches are all old cannot underflow to 0/0
        POW(2.0, -(days_before - MIN(days_before) OVER (PARTITION BY window_days, deal_id)) / @half_life_days)
            AS decay_weight
    FROM touchpoints
),

-- the time_decay credit, normalized per deal once, before the rows are repeated for every model
normalized AS (
    SELECT
        *,
        decay_weight / SUM(decay_weight) OVER (PARTITION BY window_days, deal_id) AS decay_credit
    FROM weighted
),

credited AS (
    SELECT
        normalized.* EXCEPT (decay_weight, decay_credit),
        model,
        CASE
            WHEN touches = 0 THEN 1.0
            WHEN model = 'first_touch' THEN IF(touch_order = 1, 1.0, 0.0)
            WHEN model = 'last_touch' THEN IF(touch_order = touches, 1.0, 0.0)
            WHEN model = 'linear' THEN 1.0 / touches
            WHEN model = 'time_decay' THEN decay_credit
            WHEN model = 'position_based' THEN
                CASE
                    WHEN touches = 1 THEN 1.0
                    WHEN touches = 2 THEN 0.5
                    WHEN touch_order IN (1, touches) THEN 0.4
                    ELSE 0.2 / (touches - 2)
                END
        END AS credit
    FROM normalized
    CROSS JOIN UNNEST(['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based']) AS model
    WHERE model IN UNNEST(@attribution_models)
)

SELECT
    *,
    credit * deal_amount AS attributed_revenue
FROM credited
