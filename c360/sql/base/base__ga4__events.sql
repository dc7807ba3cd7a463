-- base__ga4__events: the GA4 export flattened to the fields the pipeline needs.
-- grain: one row per distinct event; (user_pseudo_id, ga_session_id) is the session key.
-- dropped (_drop_reason): superseded_intraday (an intraday shard whose daily shard exists),
--   duplicate (an exact copy of a kept event: same time, name, ids, params, consent, traffic, device and
--   geo, found by a 64-bit fingerprint of all of them), missing_session_id (no ga_session_id: no session).
-- event_date is the event's own date, not its shard's: a late event lands in its own date.
-- incremental: insert_overwrite of the event_date partitions whose rows the loader changed this run
--   (c360__touched_dates); a full refresh rebuilds every partition.
-- ga4_events() is the flattening of c360/sql/_ga4_events.sql: over the export in place on BigQuery, the table
-- the loader flattened the shards into on DuckDB. Each step below reads it directly (no CTE over every event,
-- which DuckDB would buffer in memory).
{{ config(materialized='incremental', strategy='insert_overwrite', partition_by='event_date',
          cluster_by='user_pseudo_id, ga_session_id') }}
{% set events -%}
{{ ga4_events() }} AS ev{% if is_incremental() %} WHERE event_date IN (SELECT event_date FROM {{ touched_dates() }}){% endif %}
{%- endset %}
WITH daily_shards AS (
    SELECT DISTINCT shard_date FROM {{ ga4_events() }} AS ev WHERE NOT is_intraday
),

{% if target.type == 'bigquery' %}
-- BigQuery bills every scan of the export: one window over every event, the export read once (the shard list
-- above reads only the _TABLE_SUFFIX pseudo-column); the first copy is kept, a daily shard's before an
-- intraday one's
numbered AS (
    SELECT
        *,
        ROW_NUMBER() OVER (
            PARTITION BY event_fingerprint, event_timestamp, event_name, user_pseudo_id, user_id, stream_id
            ORDER BY is_intraday, shard
        ) AS copy_number
    FROM {{ events }}
)
{% else %}
repeated_fingerprints AS (
    SELECT event_fingerprint FROM {{ events }} GROUP BY event_fingerprint HAVING COUNT(*) > 1
),

-- the same numbering, without sorting every event (a window over all of them is 3x slower on DuckDB):
-- exact duplicates are decided only among the rows whose fingerprint repeats
numbered AS (
    SELECT *, 1 AS copy_number
    FROM {{ events }} {{ 'AND' if is_incremental() else 'WHERE' }}
        event_fingerprint NOT IN (SELECT event_fingerprint FROM repeated_fingerprints)
    UNION ALL
    SELECT
        *,
        ROW_NUMBER() OVER (
            PARTITION BY event_fingerprint, event_timestamp, event_name, user_pseudo_id, user_id, stream_id
            ORDER BY is_intraday, shard
        ) AS copy_number
    FROM {{ events }} {{ 'AND' if is_incremental() else 'WHERE' }}
        event_fingerprint IN (SELECT event_fingerprint FROM repeated_fingerprints)
)
{% endif %}

SELECT
    * EXCEPT (is_intraday, shard_date, event_fingerprint, copy_number),
    CASE
        WHEN is_intraday AND shard_date IN (SELECT shard_date FROM daily_shards) THEN 'superseded_intraday'
        WHEN copy_number > 1 THEN 'duplicate'
        WHEN ga_session_id IS NULL THEN 'missing_session_id'
    END AS _drop_reason
FROM numbered
