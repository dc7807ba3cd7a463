-- int__identity_guard_hits: what each identity guard stopped, one row per hit.
-- grain: one row per (guard, identifier_type, identifier_value), unique.
-- guard:
--   consent_denied      a device whose latest event denies analytics_storage and that had candidate edges
--   blocked_value       an identifier value in identity_blocklist or matching identity_blocklist_patterns
--   shared_device       a device pointing to more than one anchor with a CRM contact (attached to one)
--   component_over_cap  a first-pass component over max_identifiers_per_customer; the identifier is its
--                       smallest node (the component id)
-- edges_dropped: the evidence edges this hit removed (for blocked_value and consent_denied, the candidate
--   edges dropped for that reason; an edge is counted under the first reason that applies).
WITH candidates AS (
    SELECT * FROM {{ ref('int__identity_candidate_edges') }}
),

consent_denied AS (
    SELECT
        'consent_denied' AS guard,
        node_a_type AS identifier_type,
        node_a_value AS identifier_value,
        CONCAT(
            'latest event denies analytics_storage: ', CAST(COUNT(*) AS STRING), ' candidate edge(s) never linked'
        ) AS detail,
        CAST(COUNTIF(COALESCE(exclusion_reason = 'consent_denied', FALSE)) AS INT64) AS edges_dropped
    FROM candidates
    WHERE device_consent_denied AND node_a_value IS NOT NULL
    GROUP BY node_a_type, node_a_value
),

blocked_ends AS (
    SELECT node_a_type AS identifier_type, node_a_value AS identifier_value, node_a_blocked_by AS blocked_by,
        edge_id, exclusion_reason
    FROM candidates
    WHERE node_a_blocked_by IS NOT NULL
    UNION ALL
    SELECT node_b_type, node_b_value, node_b_blocked_by, edge_id, exclusion_reason
    FROM candidates
    WHERE node_b_blocked_by IS NOT NULL
),

blocked_value AS (
    SELECT
        'blocked_value' AS guard,
        identifier_type,
        identifier_value,
        CONCAT(
            'blocked by ', MIN(blocked_by), '; in ', CAST(COUNT(DISTINCT edge_id) AS STRING), ' candidate edge(s)'
        ) AS detail,
        COUNT(DISTINCT IF(exclusion_reason = 'blocked_value', edge_id, NULL)) AS edges_dropped
    FROM blocked_ends
    GROUP BY identifier_type, identifier_value
),

shared_device AS (
    SELECT
        'shared_device' AS guard,
        node_a_type AS identifier_type,
        node_a_value AS identifier_value,
        CONCAT(
            'points to ', CAST(MAX(device_crm_anchors) AS STRING), ' anchors with CRM contacts; attached to ',
            MAX(attached_anchor), ' (most recent evidence); ', CAST(COUNTIF(NOT is_attached_anchor) AS STRING),
            ' link(s) to other anchors dropped'
        ) AS detail,
        CAST(COUNTIF(NOT is_attached_anchor) AS INT64) AS edges_dropped
    FROM {{ ref('int__identity_device_anchors') }}
    WHERE is_shared_device
    GROUP BY node_a_type, node_a_value
),

components AS (
    SELECT * FROM {{ ref('int__identity_components') }}
),

links_before AS (
    SELECT c.pass1_component, COUNT(*) AS links
    FROM {{ ref('int__identity_device_links') }} AS l
    JOIN components AS c ON c.node = l.node_a
    GROUP BY c.pass1_component
),

links_after AS (
    SELECT pass1_component, COUNT(*) AS links
    FROM {{ ref('int__identity_graph_edges') }}
    WHERE edge_source IN ('login', 'form_submission')
    GROUP BY pass1_component
),

over_cap_components AS (
    SELECT
        pass1_component,
        MAX(pass1_identifiers) AS identifiers,
        CAST(COUNTIF(cap_guard = 'split' AND component IS NOT NULL) AS INT64) AS contacts_alone,
        CAST(COUNTIF(component IS NULL) AS INT64) AS unresolved
    FROM components
    WHERE cap_guard IS NOT NULL
    GROUP BY pass1_component
),

component_over_cap AS (
    SELECT
        'component_over_cap' AS guard,
        SPLIT(o.pass1_component, ':')[OFFSET(0)] AS identifier_type,
        SUBSTR(o.pass1_component, STRPOS(o.pass1_component, ':') + 1) AS identifier_value,
        CONCAT(
            CAST(o.identifiers AS STRING), ' identifiers > max_identifiers_per_customer ',
            CAST(@max_identifiers_per_customer AS STRING), '; devices re-attached by their best link (',
            CAST(COALESCE(b.links, 0) - COALESCE(a.links, 0) AS STRING), ' link(s) dropped); ',
            CASE
                WHEN o.unresolved > 0 OR o.contacts_alone > 0 THEN CONCAT(
                    'still over the cap: split, ', CAST(o.contacts_alone AS STRING),
                    ' CRM contact(s) stand alone, ', CAST(o.unresolved AS STRING), ' identifier(s) unresolved')
                ELSE 'now within the cap'
            END
        ) AS detail,
        COALESCE(b.links, 0) - COALESCE(a.links, 0) AS edges_dropped
    FROM over_cap_components AS o
    LEFT JOIN links_before AS b ON b.pass1_component = o.pass1_component
    LEFT JOIN links_after AS a ON a.pass1_component = o.pass1_component
),

final AS (
    SELECT * FROM consent_denied
    UNION ALL
    SELECT * FROM blocked_value
    UNION ALL
    SELECT * FROM shared_device
    UNION ALL
    SELECT * FROM component_over_cap
)

SELECT * FROM final
