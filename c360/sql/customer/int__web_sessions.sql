-- int__web_sessions: one row per web session with its traffic source (no customer: that joins in the mart,
--   so a later identity change never leaves a stale customer on an old session).
-- grain: session_key = user_pseudo_id || ':' || ga_session_id (unique, not null): ga_session_id is unique
--   only within a device. Events without a user_pseudo_id form sessions keyed '(no device):<id>', which
--   mrt__marketing__web_sessions drops and counts.
-- session_date / session_start_at: the earliest event_date / event_timestamp of the session.
-- source / medium / campaign: from the earliest event of the session that carries traffic info:
--   collected_traffic_source.manual_* first; else a gclid means google / cpc; else the event_params
--   source/medium/campaign; no traffic info at all means (direct) / (none). The user-scoped
--   traffic_source (the user's first acquisition) is not the session's source and is not used.
--   As GA4's unwanted referrals: an event whose medium is referral and whose source is a domain of
--   @unwanted_referrals or a subdomain of one (case-insensitive), and any event with the event parameter
--   ignore_referrer = 'true' (cross-domain, unwanted referral), carries no traffic info; the session takes the
--   next event that does, else (direct) / (none).
--   Source and medium are trimmed and lower-cased, campaign trimmed, as ad spend is, so spend matches.
-- channel_group: Google's GA4 default channel group rules, with the source-category seed.
-- incremental: merge on session_key of the sessions with an event on a date the loader touched this run,
--   or spanning such a date (rebuilt from all their events, so a late event updates its session wherever it
--   lands, and a session whose events are gone is removed).
{{ config(materialized='incremental', strategy='merge', unique_key='session_key',
          partition_by='session_date', cluster_by='user_pseudo_id',
          delete_where='EXISTS (SELECT 1 FROM ' ~ touched_dates() ~ ' AS t WHERE t.event_date BETWEEN '
                       ~ 'session_date AND DATE(session_end_at))') }}
{#- a full build reads the base table directly in each step below (a shared CTE would be materialized: a
    copy of every event); an incremental build first narrows it to the sessions it rebuilds -#}
{% set events = 'events' if is_incremental() else ref('base__ga4__events') %}
{% if is_incremental() -%}
{#- the touched dates, and the earliest date an event of a rebuilt session can have, as constants (run_query at
    build time), so that BigQuery prunes every partition of base__ga4__events before it: a rebuilt session that
    existed has its events on or after its session_date, or on a touched date (newly loaded); a new one has only
    newly loaded events, on touched dates -#}
{% set touched_in = date_list(run_query('SELECT DISTINCT event_date FROM ' ~ touched_dates())) %}
{% set floor_sql %}
SELECT MIN(d) AS d FROM (
    SELECT MIN(event_date) AS d FROM {{ touched_dates() }}
    UNION ALL
    SELECT MIN(previous.session_date) AS d FROM {{ this }} AS previous
    LEFT JOIN (
        SELECT DISTINCT user_pseudo_id, ga_session_id FROM {{ ref('base__ga4__events') }}
        WHERE event_date IN {{ touched_in }}
    ) AS seen
        ON seen.ga_session_id = previous.ga_session_id
        AND COALESCE(seen.user_pseudo_id, '') = COALESCE(previous.user_pseudo_id, '')
    WHERE seen.ga_session_id IS NOT NULL OR EXISTS (
        SELECT 1 FROM {{ touched_dates() }} AS t
        WHERE t.event_date BETWEEN previous.session_date AND DATE(previous.session_end_at))
) AS floors
{% endset %}
{% set floor = date_list(run_query(floor_sql), one=True) %}
{%- endif %}
WITH
{% if is_incremental() %}
events AS (
    SELECT events.* FROM {{ ref('base__ga4__events') }} AS events
    INNER JOIN (
        SELECT DISTINCT user_pseudo_id, ga_session_id FROM {{ ref('base__ga4__events') }}
        WHERE event_date IN {{ touched_in }}
        UNION DISTINCT
        SELECT user_pseudo_id, ga_session_id FROM {{ this }} AS previous
        WHERE EXISTS (SELECT 1 FROM {{ touched_dates() }} AS t
                      WHERE t.event_date BETWEEN previous.session_date AND DATE(previous.session_end_at))
    ) AS touched
        ON events.ga_session_id = touched.ga_session_id
        AND COALESCE(events.user_pseudo_id, '') = COALESCE(touched.user_pseudo_id, '')
    WHERE events.event_date >= {{ floor }}
),
{% endif %}

traffic_events AS (
    SELECT user_pseudo_id, ga_session_id, source, medium, campaign
    FROM (
        SELECT
            user_pseudo_id,
            ga_session_id,
            event_timestamp,
            param_ignore_referrer,
            CASE
                WHEN manual_source IS NOT NULL OR manual_medium IS NOT NULL THEN LOWER(TRIM(manual_source))
                WHEN gclid IS NOT NULL THEN 'google'
                ELSE LOWER(TRIM(param_source))
            END AS source,
            CASE
                WHEN manual_source IS NOT NULL OR manual_medium IS NOT NULL THEN LOWER(TRIM(manual_medium))
                WHEN gclid IS NOT NULL THEN 'cpc'
                ELSE LOWER(TRIM(param_medium))
            END AS medium,
            CASE
                WHEN manual_source IS NOT NULL OR manual_medium IS NOT NULL THEN TRIM(manual_campaign)
                ELSE TRIM(param_campaign)
            END AS campaign
        FROM {{ events }} AS events
        WHERE manual_source IS NOT NULL OR manual_medium IS NOT NULL OR gclid IS NOT NULL
            OR param_source IS NOT NULL OR param_medium IS NOT NULL
    ) AS tagged
    -- unwanted referrals and ignore_referrer carry no traffic info
    WHERE COALESCE(LOWER(TRIM(param_ignore_referrer)), '') != 'true'
        AND NOT (COALESCE(medium, '') = 'referral' AND EXISTS (
            SELECT 1 FROM UNNEST(@unwanted_referrals) AS unwanted
            WHERE tagged.source = LOWER(unwanted) OR ENDS_WITH(tagged.source, CONCAT('.', LOWER(unwanted)))))
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY user_pseudo_id, ga_session_id
        ORDER BY event_timestamp, source, medium, campaign
    ) = 1
),

sessions AS (
    SELECT
        user_pseudo_id,
        ga_session_id,
        MIN(event_date) AS session_date,
        MIN(event_timestamp) AS session_start_at,
        MAX(event_timestamp) AS session_end_at,
        COUNT(*) AS events,
        COUNTIF(event_name = 'page_view') AS page_views,
        COALESCE(LOGICAL_OR(session_engaged), FALSE) AS is_engaged,
        COALESCE(SUM(engagement_time_msec), 0) AS engagement_time_msec,
        MAX(device_category) AS device_category,
        MAX(country) AS country,
        -- the first page_view by (event_timestamp, page_location): the MIN of a text key that sorts the same
        -- way (the timestamp as fixed-width microseconds since 0001-01-01, blanks when NULL, then the page)
        SUBSTR(MIN(IF(event_name = 'page_view' AND page_location IS NOT NULL AND user_pseudo_id IS NOT NULL,
                      CONCAT(COALESCE(LPAD(CAST(UNIX_MICROS(event_timestamp) + 62135596800000000 AS STRING), 20, '0'),
                                      REPEAT(' ', 20)),
                             page_location),
                      NULL)), 21) AS landing_page
    FROM {{ events }} AS events
    GROUP BY user_pseudo_id, ga_session_id
),

categories AS (
    SELECT * FROM {{ ref('base__seeds__ga4_source_categories') }}
),

sourced AS (
    SELECT
        sessions.*,
        COALESCE(traffic_events.source, '(direct)') AS source,
        COALESCE(traffic_events.medium, '(none)') AS medium,
        traffic_events.campaign,
        categories.source_category
    FROM sessions
    LEFT JOIN traffic_events
        ON sessions.user_pseudo_id = traffic_events.user_pseudo_id
        AND sessions.ga_session_id = traffic_events.ga_session_id
    LEFT JOIN categories
        ON COALESCE(traffic_events.source, '(direct)') = categories.source
),

grouped AS (
    SELECT
        *,
        {{ channel_group('source', 'medium', 'campaign', 'source_category') }} AS channel_group
    FROM sourced
),

final AS (
    SELECT
        CONCAT(COALESCE(user_pseudo_id, '(no device)'), ':', CAST(ga_session_id AS STRING)) AS session_key,
        user_pseudo_id,
        ga_session_id,
        session_date,
        session_start_at,
        session_end_at,
        source,
        medium,
        campaign,
        channel_group,
        landing_page,
        events,
        page_views,
        is_engaged,
        engagement_time_msec,
        device_category,
        country
    FROM grouped
)

SELECT * FROM final
