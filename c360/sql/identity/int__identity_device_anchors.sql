-- int__identity_device_anchors: each device edge (login, form_submission) with the anchor it points to,
--   to find shared devices before they can bridge customers.
-- grain: one row per device edge of int__identity_evidence; key edge_id (unique).
-- anchor: the int__identity_anchor_components component of the edge's identifier (node_b), or the
--   identifier itself when no product or CRM record names it. anchor_has_crm_contact: the anchor holds a
--   CRM contact (CRM contacts sharing an email are one anchor: a CRM duplicate is one customer).
-- is_shared_device: the device points to more than one anchor holding a CRM contact. Such a device is
--   attached only to the anchor with its most recent evidence (latest evidence_at, then the smallest
--   anchor id): is_attached_anchor. Its edges to other anchors are dropped in int__identity_device_links.
WITH device_edges AS (
    SELECT *
    FROM {{ ref('int__identity_evidence') }}
    WHERE edge_source IN ('login', 'form_submission')
),

anchor_nodes AS (
    SELECT node, component FROM {{ ref('int__identity_anchor_components') }}
),

crm_anchors AS (
    SELECT DISTINCT component
    FROM anchor_nodes
    WHERE STARTS_WITH(node, 'crm_contact_id:')
),

anchored AS (
    SELECT
        e.*,
        COALESCE(a.component, e.node_b) AS anchor,
        c.component IS NOT NULL AS anchor_has_crm_contact
    FROM device_edges AS e
    LEFT JOIN anchor_nodes AS a ON a.node = e.node_b
    LEFT JOIN crm_anchors AS c ON c.component = COALESCE(a.component, e.node_b)
),

per_anchor AS (
    SELECT
        node_a AS device,
        anchor,
        MAX(evidence_at) AS last_evidence_at
    FROM anchored
    GROUP BY node_a, anchor
),

ranked_anchors AS (
    SELECT
        device,
        anchor,
        last_evidence_at,
        ROW_NUMBER() OVER (PARTITION BY device ORDER BY last_evidence_at DESC, anchor) AS recency
    FROM per_anchor
),

per_device AS (
    SELECT
        node_a AS device,
        COUNT(DISTINCT anchor) AS device_anchors,
        COUNT(DISTINCT IF(anchor_has_crm_contact, anchor, NULL)) AS device_crm_anchors
    FROM anchored
    GROUP BY node_a
),

final AS (
    SELECT
        e.edge_id,
        e.edge_source,
        e.node_a_type,
        e.node_a_value,
        e.node_a,
        e.node_b_type,
        e.node_b_value,
        e.node_b,
        e.evidence_id,
        e.evidence_at,
        e.anchor,
        e.anchor_has_crm_contact,
        d.device_anchors,
        d.device_crm_anchors,
        d.device_crm_anchors > 1 AS is_shared_device,
        r.recency = 1 AS is_attached_anchor,
        w.anchor AS attached_anchor,
        w.last_evidence_at AS attached_at
    FROM anchored AS e
    JOIN per_device AS d ON d.device = e.node_a
    JOIN ranked_anchors AS r ON r.device = e.node_a AND r.anchor = e.anchor
    JOIN ranked_anchors AS w ON w.device = e.node_a AND w.recency = 1
)

SELECT * FROM final
