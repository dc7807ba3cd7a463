-- int__identity_graph_edges: the edges the customers are built from: the anchor edges (product_user,
--   crm_contact) and the device links; a device in a first-pass component with more than
--   max_identifiers_per_customer identifiers keeps only its single best link (latest evidence_at, then
--   the smallest edge_id), so a customer is not merged blindly.
-- grain: one row per kept edge; key edge_id (unique). Columns as int__identity_evidence, plus
--   pass1_component (the edge's component in int__identity_components_pass1).
-- dropped (_drop_reason): component_over_cap (a device link other than its device's best link, in an
--   over-cap component).
WITH anchor_edges AS (
    SELECT edge_id, edge_source, node_a_type, node_a_value, node_a, node_b_type, node_b_value, node_b,
        evidence_id, evidence_at
    FROM {{ ref('int__identity_evidence') }}
    WHERE edge_source IN ('product_user', 'crm_contact', 'crm_merge')
),

device_links AS (
    SELECT edge_id, edge_source, node_a_type, node_a_value, node_a, node_b_type, node_b_value, node_b,
        evidence_id, evidence_at
    FROM {{ ref('int__identity_device_links') }}
),

pass1 AS (
    SELECT node, component FROM {{ ref('int__identity_components_pass1') }}
),

component_sizes AS (
    SELECT component, COUNT(*) AS identifiers
    FROM pass1
    GROUP BY component
),

sized_device_links AS (
    SELECT
        l.*,
        p.component AS pass1_component,
        s.identifiers > @max_identifiers_per_customer AS is_over_cap
    FROM device_links AS l
    JOIN pass1 AS p ON p.node = l.node_a
    JOIN component_sizes AS s ON s.component = p.component
),

-- only the links of over-cap components are ranked (a device's links all share its pass-1 component)
ranked_device_links AS (
    SELECT edge_id, ROW_NUMBER() OVER (PARTITION BY node_a ORDER BY evidence_at DESC, edge_id) AS link_rank
    FROM sized_device_links
    WHERE is_over_cap
),

final AS (
    SELECT
        e.*,
        p.component AS pass1_component,
        CAST(NULL AS STRING) AS _drop_reason
    FROM anchor_edges AS e
    JOIN pass1 AS p ON p.node = e.node_a
    UNION ALL
    SELECT
        l.edge_id, l.edge_source, l.node_a_type, l.node_a_value, l.node_a, l.node_b_type, l.node_b_value, l.node_b,
        l.evidence_id, l.evidence_at, l.pass1_component,
        CASE WHEN r.link_rank > 1 THEN 'component_over_cap' END AS _drop_reason
    FROM sized_device_links AS l
    LEFT JOIN ranked_device_links AS r ON r.edge_id = l.edge_id
)

SELECT * FROM final
