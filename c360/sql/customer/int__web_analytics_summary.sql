-- int__web_analytics_summary: web activity of each customer, over all of their devices, over all time.
-- grain: one row per customer_id with at least one session (unique, not null).
-- first_touch_*: source/medium/channel of the customer's first session (by start time, then session_key).
WITH totals AS (
    SELECT
        customer_id,
        COUNT(*) AS total_sessions,
        COUNTIF(is_engaged) AS engaged_sessions,
        SUM(page_views) AS total_page_views,
        MIN(session_start_at) AS first_seen_at,
        MAX(session_end_at) AS last_seen_at,
        COUNT(DISTINCT session_date) AS days_active,
        COUNT(DISTINCT user_pseudo_id) AS devices,
        -- the first session by (session_start_at, session_key), in this one pass: the row with the least text
        -- key that sorts the same way (the start as fixed-width microseconds since 0001-01-01, blanks when
        -- NULL, then the unique session_key)
        MIN_BY(STRUCT(source AS source, medium AS medium, channel_group AS channel_group),
               CONCAT(COALESCE(LPAD(CAST(UNIX_MICROS(session_start_at) + 62135596800000000 AS STRING), 20, '0'),
                               REPEAT(' ', 20)),
                      session_key)) AS first_session
    FROM {{ ref('mrt__marketing__web_sessions') }}
    WHERE customer_id IS NOT NULL
    GROUP BY customer_id
)

SELECT
    totals.* EXCEPT (first_session),
    first_session.source AS first_touch_source,
    first_session.medium AS first_touch_medium,
    first_session.channel_group AS first_touch_channel_group
FROM totals
