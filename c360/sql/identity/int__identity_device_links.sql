-- int__identity_device_links: the device edges that may join a customer, after the shared-device guard.
-- grain: one row per kept device edge; key edge_id (unique). Columns as int__identity_evidence, plus the
--   anchor (see int__identity_device_anchors).
-- dropped (_drop_reason): shared_device (an edge of a shared device to an anchor other than the one with
--   its most recent evidence: a shared device never bridges two CRM customers).
-- materialized: a view on DuckDB (a projection of one table, read by two models: not worth a copy),
--   a table on BigQuery.
{{ config(materialized=('view' if target.type == 'duckdb' else 'table')) }}
WITH source AS (
    SELECT * FROM {{ ref('int__identity_device_anchors') }}
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
        anchor,
        CASE WHEN is_shared_device AND NOT is_attached_anchor THEN 'shared_device' END AS _drop_reason
    FROM source
)

SELECT * FROM final
