-- int__identity_evidence: the identity graph's edges, each traceable to the source record that asserts it.
-- grain: one row per kept edge; key edge_id (unique). node_a / node_b are node ids (type:value).
-- From int__identity_candidate_edges (see there for each edge_source, evidence_id and evidence_at).
-- dropped (_drop_reason): no_device (a login or form without user_pseudo_id), consent_denied (the
--   device's latest event denies analytics_storage), blocked_value (an end is in identity_blocklist or
--   matches identity_blocklist_patterns). Shared devices and over-cap components are handled later
--   (int__identity_device_links, int__identity_graph_edges).
-- materialized: a view on DuckDB (a projection of one table, read by two models: not worth a copy),
--   a table on BigQuery.
{{ config(materialized=('view' if target.type == 'duckdb' else 'table')) }}
WITH source AS (
    SELECT * FROM {{ ref('int__identity_candidate_edges') }}
),

final AS (
    SELECT
        edge_id,
        edge_source,
        node_a_type,
        node_a_value,
        node_a,
        node_b_type,
        node_b_value,
        node_b,
        evidence_id,
        evidence_at,
        exclusion_reason AS _drop_reason
    FROM source
)

SELECT * FROM final
