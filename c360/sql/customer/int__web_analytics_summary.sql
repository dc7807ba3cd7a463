-- int__web_analytics_summary: web activity of each customer, over all of their devices, over all time.
-- grain: one row per customer_id with at least one session (unique, not null).
-- first_touch_*: source/medium/channel of the customer's first session (by start time, then session_key).
WITH sessions AS (
    SELECT * FROM {{ ref('mrt__marketing__web_sessions') }}
    WHERE customer_id IS NOT NULL
),

first_sessions AS (
    SELECT customer_id, source, medium, channel_group
    FROM sessions
    QUALIFY ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY session_start_at, session_key) = 1
),

totals AS (
    SELECT
        customer_id,
        COUNT(*) AS total_sessions,
        COUNTIF(is_engaged) AS engaged_sessions,
        SUM(page_views) AS total_page_views,
        MIN(session_start_at) AS first_seen_at,
        MAX(session_end_at) AS last_seen_at,
        COUNT(DISTINCT session_date) AS days_active,
        COUNT(DISTINCT user_pseudo_id) AS devices
    FROM sessions
    GROUP BY customer_id
)

SELECT
    totals.*,
    first_sessions.source AS first_touch_source,
    first_sessions.medium AS first_touch_medium,
    first_sessions.channel_group AS first_touch_channel_group
FROM totals
INNER JOIN first_sessions
    ON totals.customer_id = first_sessions.customer_id
