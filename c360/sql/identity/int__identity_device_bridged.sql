-- int__identity_device_bridged: every identifier that belongs to a customer, with the evidence that links
--   it: devices, user_ids, emails and CRM contacts alike.
-- grain: one row per (identifier_type, identifier_value); key node = identifier_type:identifier_value
--   (unique). customer_id -> int__identity_customers.
-- linked_by, linked_at, evidence_id, edge_id: the identifier's most recent evidence (latest evidence_at,
--   then the smallest edge_id) among the int__identity_graph_edges inside its customer's component;
--   linked_by is that edge's edge_source (login | form_submission | product_user | crm_contact | crm_merge).
WITH nodes AS (
    SELECT node, node_type, node_value, component
    FROM {{ ref('int__identity_components') }}
    WHERE component IS NOT NULL
),

customers AS (
    SELECT customer_id, component, crm_contact_id FROM {{ ref('int__identity_customers') }}
),

edges AS (
    SELECT e.edge_id, e.edge_source, e.node_a, e.node_b, e.evidence_id, e.evidence_at
    FROM {{ ref('int__identity_graph_edges') }} AS e
    JOIN nodes AS a ON a.node = e.node_a
    JOIN nodes AS b ON b.node = e.node_b
    WHERE a.component = b.component
),

incident AS (
    SELECT node_a AS node, edge_id, edge_source, evidence_id, evidence_at FROM edges
    UNION ALL
    SELECT node_b AS node, edge_id, edge_source, evidence_id, evidence_at FROM edges WHERE node_b != node_a
),

latest AS (
    SELECT *
    FROM (
        SELECT
            *,
            ROW_NUMBER() OVER (PARTITION BY node ORDER BY evidence_at DESC, edge_id) AS recency
        FROM incident
    ) AS ranked
    WHERE recency = 1
),

final AS (
    SELECT
        n.node,
        n.node_type AS identifier_type,
        n.node_value AS identifier_value,
        c.customer_id,
        c.crm_contact_id,
        l.edge_source AS linked_by,
        l.evidence_at AS linked_at,
        l.evidence_id,
        l.edge_id
    FROM nodes AS n
    JOIN customers AS c ON c.component = n.component
    JOIN latest AS l ON l.node = n.node
)

SELECT * FROM final
