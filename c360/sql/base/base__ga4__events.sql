-- base__ga4__events: the GA4 export flattened to the fields the pipeline needs.
-- grain: one row per distinct event; (user_pseudo_id, ga_session_id) is the session key.
-- dropped (_drop_reason): superseded_intraday (an intraday shard whose daily shard exists),
--   duplicate (an exact copy of a kept event: same time, name, ids, params, consent, traffic, device and
--   geo, found by a 64-bit fingerprint of all of them), missing_session_id (no ga_session_id: no session).
-- event_date is the event's own date, not its shard's: a late event lands in its own date.
-- incremental: insert_overwrite of the event_date partitions whose rows the loader changed this run
--   (c360__touched_dates); a full refresh rebuilds every partition.
{{ config(materialized='incremental', strategy='insert_overwrite', partition_by='event_date',
          cluster_by='user_pseudo_id, ga_session_id') }}
WITH all_shards AS (
    SELECT _TABLE_SUFFIX FROM {{ source('ga4', 'events') }}
),

daily_shards AS (
    SELECT DISTINCT RIGHT(_TABLE_SUFFIX, 8) AS shard_date FROM all_shards WHERE NOT STARTS_WITH(_TABLE_SUFFIX, 'intraday_')
),

-- one pass over the export: the fields the pipeline needs, and a 64-bit fingerprint of everything that
-- makes an event distinct (the candidates for duplicates); the nested columns are not read again
flattened AS (
    SELECT
        PARSE_DATE('%Y%m%d', event_date) AS event_date,
        TIMESTAMP_MICROS(event_timestamp) AS event_timestamp,
        event_name,
        user_pseudo_id,
        user_id,
        {{ ga4_param('ga_session_id', 'int') }} AS ga_session_id,
        {{ ga4_param('ga_session_number', 'int') }} AS ga_session_number,
        {{ ga4_param('page_location') }} AS page_location,
        {{ ga4_param('page_referrer') }} AS page_referrer,
        {{ ga4_param('engagement_time_msec', 'int') }} AS engagement_time_msec,
        {{ ga4_param('session_engaged', 'int') }} = 1 AS session_engaged,
        collected_traffic_source.manual_source AS manual_source,
        collected_traffic_source.manual_medium AS manual_medium,
        collected_traffic_source.manual_campaign_name AS manual_campaign,
        COALESCE(collected_traffic_source.gclid, {{ ga4_param('gclid') }}) AS gclid,
        {{ ga4_param('source') }} AS param_source,
        {{ ga4_param('medium') }} AS param_medium,
        {{ ga4_param('campaign') }} AS param_campaign,
        traffic_source.source AS user_first_source,
        traffic_source.medium AS user_first_medium,
        traffic_source.name AS user_first_campaign,
        privacy_info.analytics_storage AS consent__analytics_storage,
        device.category AS device_category,
        geo.country AS country,
        stream_id,
        _TABLE_SUFFIX AS shard,
        STARTS_WITH(_TABLE_SUFFIX, 'intraday_') AS is_intraday,
        RIGHT(_TABLE_SUFFIX, 8) AS shard_date,
        FARM_FINGERPRINT(TO_JSON_STRING(STRUCT(event_timestamp, event_name, user_pseudo_id, user_id, stream_id,
            event_params, privacy_info, collected_traffic_source, device, geo))) AS event_fingerprint
    FROM {{ source('ga4', 'events') }}
    {% if is_incremental() %}
    WHERE PARSE_DATE('%Y%m%d', event_date) IN (SELECT event_date FROM {{ touched_dates() }})
    {% endif %}
),

repeated_fingerprints AS (
    SELECT event_fingerprint FROM flattened GROUP BY event_fingerprint HAVING COUNT(*) > 1
),

-- exact duplicates are decided only among the rows whose fingerprint repeats (a window over every event
-- would sort them all); the first copy is kept, a daily shard's before an intraday one's
numbered AS (
    SELECT *, 1 AS copy_number
    FROM flattened
    WHERE event_fingerprint NOT IN (SELECT event_fingerprint FROM repeated_fingerprints)
    UNION ALL
    SELECT
        *,
        ROW_NUMBER() OVER (
            PARTITION BY event_fingerprint, event_timestamp, event_name, user_pseudo_id, user_id, stream_id
            ORDER BY is_intraday, shard
        ) AS copy_number
    FROM flattened
    WHERE event_fingerprint IN (SELECT event_fingerprint FROM repeated_fingerprints)
)

SELECT
    * EXCEPT (is_intraday, shard_date, event_fingerprint, copy_number),
    CASE
        WHEN is_intraday AND shard_date IN (SELECT shard_date FROM daily_shards) THEN 'superseded_intraday'
        WHEN copy_number > 1 THEN 'duplicate'
        WHEN ga_session_id IS NULL THEN 'missing_session_id'
    END AS _drop_reason
FROM numbered
