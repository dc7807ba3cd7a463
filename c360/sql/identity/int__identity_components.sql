-- int__identity_components: every identifier of the graph with its final component.
-- grain: one row per node of int__identity_graph_edges; key node (unique).
-- component: the smallest node id of its int__identity_components_pass2 component; NULL when the
--   identifier is unresolved. A pass-2 component still over max_identifiers_per_customer is split: each
--   CRM contact stands alone (component = itself), every other identifier in it is unresolved.
-- cap_guard: NULL (within the cap), reattached (its first-pass component was over the cap; devices
--   re-attached by their best link), split (still over the cap after that).
WITH pass1 AS (
    SELECT node, component FROM {{ ref('int__identity_components_pass1') }}
),

pass2 AS (
    SELECT node, component FROM {{ ref('int__identity_components_pass2') }}
),

pass1_sizes AS (
    SELECT component, COUNT(*) AS identifiers FROM pass1 GROUP BY component
),

pass2_sizes AS (
    SELECT component, COUNT(*) AS identifiers FROM pass2 GROUP BY component
),

final AS (
    SELECT
        p2.node,
        SPLIT(p2.node, ':')[OFFSET(0)] AS node_type,
        SUBSTR(p2.node, STRPOS(p2.node, ':') + 1) AS node_value,
        CASE
            WHEN s2.identifiers <= @max_identifiers_per_customer THEN p2.component
            WHEN STARTS_WITH(p2.node, 'crm_contact_id:') THEN p2.node
        END AS component,
        p1.component AS pass1_component,
        s1.identifiers AS pass1_identifiers,
        p2.component AS pass2_component,
        s2.identifiers AS pass2_identifiers,
        CASE
            WHEN s2.identifiers > @max_identifiers_per_customer THEN 'split'
            WHEN s1.identifiers > @max_identifiers_per_customer THEN 'reattached'
        END AS cap_guard
    FROM pass2 AS p2
    JOIN pass2_sizes AS s2 ON s2.component = p2.component
    LEFT JOIN pass1 AS p1 ON p1.node = p2.node
    LEFT JOIN pass1_sizes AS s1 ON s1.component = p1.component
)

SELECT * FROM final
