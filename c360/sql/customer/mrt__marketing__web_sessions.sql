-- mrt__marketing__web_sessions: one row per web session, with its traffic source and its customer.
-- grain: session_key = user_pseudo_id || ':' || ga_session_id (unique, not null).
-- Sessions and their sources come from int__web_sessions (see its header for the source rules);
-- customer_id: through int__identity_resolved, NULL for an anonymous device.
-- dropped (_drop_reason): missing_user_pseudo_id (events of a device without an id form no session).
-- materialized: on DuckDB a view (int__web_sessions plus one join to the resolved devices: storing it would be
--   a second copy of every session, the largest write after the events); on BigQuery a table, partitioned
--   and clustered for the BI tools that read it.
{{ config(materialized=('view' if target.type == 'duckdb' else 'table'),
          partition_by='session_date', cluster_by='customer_id, user_pseudo_id') }}
WITH sessions AS (
    SELECT * FROM {{ ref('int__web_sessions') }}
),

identity AS (
    SELECT user_pseudo_id, customer_id FROM {{ ref('int__identity_resolved') }}
)

SELECT
    sessions.session_key,
    sessions.user_pseudo_id,
    sessions.ga_session_id,
    identity.customer_id,
    sessions.* EXCEPT (session_key, user_pseudo_id, ga_session_id),
    CASE WHEN sessions.user_pseudo_id IS NULL THEN 'missing_user_pseudo_id' END AS _drop_reason
FROM sessions
LEFT JOIN identity
    ON sessions.user_pseudo_id = identity.user_pseudo_id
