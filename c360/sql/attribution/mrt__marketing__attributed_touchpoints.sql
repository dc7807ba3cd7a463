-- mrt__marketing__attributed_touchpoints: the credit each touchpoint of a won deal receives, per model.
-- grain: one row per (window_days, deal_id, touch_order, model) (unique); window_days as in
--   int__attribution_touchpoints, so the sensitivity windows come from the same rules.
-- Models (per touch): first_touch, last_touch, linear, time_decay (weight 2^(-days_before / @half_life_days),
--   relative to the deal's most recent touch and kept to 12 decimals, normalized per deal), position_based
--   (40% first, 40% last, 20% spread over the middle; one touch 100%, two touches 50/50). Credits of a deal add
--   up to 1 (a FLOAT64 fraction). A won deal with no touchpoint keeps one '(unattributed)' row with credit 1.
-- attributed_revenue (NUMERIC): the deal's amount split by credit in its currency's minor unit (cents; the
--   amount's own 9 decimals when it is not a whole number of cents), by largest remainder: every touch gets its
--   share rounded down, the cents left over go one each to the largest remainders (ties: the earlier touch).
--   For every deal and model the attributed revenue adds up to the deal amount exactly; nothing is a float sum,
--   so the table does not depend on how many threads built it.
-- Markov and Shapley are channel-level, not per touch: see mrt__marketing__channel_attribution.
WITH touchpoints AS (
    SELECT * FROM {{ ref('int__attribution_touchpoints') }}
    WHERE deal_status = 'won'
),

reporting AS (
    SELECT * FROM {{ ref('base__reporting_currency') }}
),

weighted AS (
    SELECT
        *,
        -- an integer (weights to 12 decimals): its sum per deal is exact, whatever order the rows are added in
        CAST(ROUND(
            POW(2.0, -(days_before - MIN(days_before) OVER (PARTITION BY window_days, deal_id)) / @half_life_days)
            * 1e12) AS INT64) AS decay_weight
    FROM touchpoints
),

normalized AS (
    SELECT
        *,
        CAST(decay_weight AS FLOAT64)
            / CAST(SUM(decay_weight) OVER (PARTITION BY window_days, deal_id) AS FLOAT64) AS decay_credit
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
),

-- the deal amount in whole allocation units: the minor unit when the amount is a whole number of them
scaled AS (
    SELECT
        credited.*,
        CASE
            WHEN deal_amount * {{ minor_unit_factor('reporting.minor_unit') }}
                = FLOOR(deal_amount * {{ minor_unit_factor('reporting.minor_unit') }})
                THEN reporting.minor_unit
            ELSE 9
        END AS allocation_digits
    FROM credited
    CROSS JOIN reporting
),

floored AS (
    SELECT
        *,
        CAST(deal_amount * {{ minor_unit_factor('allocation_digits') }} AS NUMERIC) AS deal_units,
        CAST(FLOOR(credit * CAST(deal_amount * {{ minor_unit_factor('allocation_digits') }} AS FLOAT64)) AS NUMERIC)
            AS floor_units,
        credit * CAST(deal_amount * {{ minor_unit_factor('allocation_digits') }} AS FLOAT64)
            - FLOOR(credit * CAST(deal_amount * {{ minor_unit_factor('allocation_digits') }} AS FLOAT64))
            AS remainder_units
    FROM scaled
),

ranked AS (
    SELECT
        *,
        deal_units - SUM(floor_units) OVER (PARTITION BY window_days, deal_id, model) AS units_left,
        ROW_NUMBER() OVER (
            PARTITION BY window_days, deal_id, model
            ORDER BY IF(credit > 0, 0, 1), remainder_units DESC, touch_order
        ) AS remainder_rank
    FROM floored
)

SELECT
    * EXCEPT (allocation_digits, deal_units, floor_units, remainder_units, units_left, remainder_rank),
    CAST((floor_units + IF(remainder_rank <= units_left, 1, 0)) * {{ minor_unit_size('allocation_digits') }} AS NUMERIC)
        AS attributed_revenue
FROM ranked
