-- base__ga4__events: the GA4 export flattened to the fields the pipeline needs.
-- grain: one row per distinct event; (user_pseudo_id, ga_session_id) is the session key.
-- dropped (_drop_reason): superseded_intraday (an intraday shard whose daily shard exists),
--   duplicate (an exact copy of a kept event: same time, name, ids, params, consent, traffic, device and
--   geo, found by a 64-bit fingerprint of all of them), missing_session_id (no ga_session_id: no session).
-- event_date is the event's own date, not its shard's: a late event lands in its own date.
-- materialized: on BigQuery a table partitioned by event_date, since the flattening runs over the export,
--   billed per scan. Incremental (shard_overwrite): it re-reads only the shards from `lookback_days` before the
--   newest one it holds (constant _TABLE_SUFFIX bounds, c360.sources.bigquery.ga4_window) and replaces their
--   rows: the partitions from that date on, and the late events they hold in earlier dates (a DELETE with a
--   constant partition filter and an INSERT, one transaction); its row audit is kept per event date and shard. On DuckDB a view over
--   src__ga4__events, where the loader
--   already flattened every shard (a table would be a second copy of every event); what each read would
--   otherwise recompute is stored with it: base__ga4__events__daily_shards, and base__ga4__events__copies
--   (the rows whose fingerprint repeats, numbered), so a read is a scan of the source and an anti-join
--   against that small table.
-- ga4_events() is the flattening of c360/sql/_ga4_events.sql: over the export in place on BigQuery, the table
-- the loader flattened the shards into on DuckDB. Each step below reads it directly (no CTE over every event,
-- which DuckDB would buffer in memory).
{{ config(materialized=('view' if target.type == 'duckdb' else 'incremental'),
          strategy=('insert_overwrite' if target.type == 'duckdb' else 'shard_overwrite'),
          audit_key=(none if target.type == 'duckdb' else
                     "CONCAT(IFNULL(CAST(event_date AS STRING), ''), ' ', shard)"),
          partition_by='event_date', cluster_by='user_pseudo_id, ga_session_id') }}
{%- if target.type == 'bigquery' %}
{% set events -%}
{{ ga4_events() }} AS ev
{%- endset %}
WITH daily_shards AS (
    SELECT DISTINCT shard_date FROM {{ ga4_events() }} AS ev WHERE NOT is_intraday
),


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
{% set daily_shards, numbered = 'daily_shards', 'numbered' -%}
{% else %}
{#- DuckDB: the same numbering, without sorting every event (a window over all of them is 3x slower): exact
    duplicates are decided only among the rows whose fingerprint repeats, stored numbered (helper_table:
    built with the view, in its transaction); every other row is its event's only copy -#}
{% set daily_shards = helper_table('daily_shards',
       'SELECT DISTINCT shard_date FROM ' ~ ga4_events() ~ ' AS ev WHERE NOT is_intraday') %}
{% set copies_sql %}
SELECT
    *,
    ROW_NUMBER() OVER (
        PARTITION BY event_fingerprint, event_timestamp, event_name, user_pseudo_id, user_id, stream_id
        ORDER BY is_intraday, shard
    ) AS copy_number
FROM {{ ga4_events() }} AS ev
WHERE event_fingerprint IN (
    SELECT event_fingerprint FROM {{ ga4_events() }} AS ev GROUP BY event_fingerprint HAVING COUNT(*) > 1
)
{% endset %}
{% set copies = helper_table('copies', copies_sql) %}
{% set numbered -%}
(
    SELECT *, 1 AS copy_number FROM {{ ga4_events() }} AS ev
    WHERE event_fingerprint NOT IN (SELECT event_fingerprint FROM {{ copies }})
    UNION ALL
    SELECT * FROM {{ copies }}
) AS numbered
{%- endset %}
{% endif %}

SELECT
    * EXCEPT (is_intraday, shard_date, event_fingerprint, copy_number),
    CASE
        WHEN is_intraday AND shard_date IN (SELECT shard_date FROM {{ daily_shards }}) THEN 'superseded_intraday'
        WHEN copy_number > 1 THEN 'duplicate'
        WHEN ga_session_id IS NULL THEN 'missing_session_id'
    END AS _drop_reason
FROM {{ numbered }}
