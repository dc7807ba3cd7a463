-- int__identity_customers: one customer per final component that holds a CRM contact or a product user.
--   A component of devices, emails or GA4 user ids only (an anonymous visitor, or a form email that matches
--   no live contact and no product user) is not a customer.
-- grain: one row per customer; keys customer_id (unique, not null) and component (unique).
-- customer_id, deterministic: the surviving CRM contact's contact_id when the component holds CRM contacts
--   (survivorship: earliest created_at, then the smallest contact_id); else a dbt_utils-style surrogate
--   key TO_HEX(MD5(CONCAT(source_system, '-', source_id))) with source_system product_user and source_id
--   the smallest user_id with a product record.
WITH nodes AS (
    SELECT node, node_type, node_value, component
    FROM {{ ref('int__identity_components') }}
    WHERE component IS NOT NULL
),

product_user_nodes AS (
    SELECT DISTINCT node_a AS node
    FROM {{ ref('int__identity_graph_edges') }}
    WHERE edge_source = 'product_user'
),

contacts AS (
    SELECT contact_id, created_at FROM {{ ref('base__crm__contacts') }}
),

surviving_contacts AS (
    SELECT component, contact_id
    FROM (
        SELECT
            n.component,
            c.contact_id,
            ROW_NUMBER() OVER (PARTITION BY n.component ORDER BY c.created_at ASC NULLS LAST, c.contact_id) AS survivorship
        FROM nodes AS n
        JOIN contacts AS c ON c.contact_id = n.node_value
        WHERE n.node_type = 'crm_contact_id'
    ) AS ranked
    WHERE survivorship = 1
),

per_component AS (
    SELECT
        n.component,
        COUNT(*) AS identifiers,
        CAST(COUNTIF(n.node_type = 'user_pseudo_id') AS INT64) AS devices,
        CAST(COUNTIF(n.node_type = 'crm_contact_id') AS INT64) AS crm_contacts,
        CAST(COUNTIF(n.node_type = 'user_id') AS INT64) AS user_ids,
        CAST(COUNTIF(n.node_type = 'email') AS INT64) AS emails,
        MIN(IF(p.node IS NOT NULL, n.node_value, NULL)) AS first_product_user_id
    FROM nodes AS n
    LEFT JOIN product_user_nodes AS p ON p.node = n.node
    GROUP BY n.component
),

keyed AS (
    SELECT
        c.*,
        s.contact_id AS crm_contact_id,
        CASE
            WHEN s.contact_id IS NOT NULL THEN 'crm_contact'
            WHEN c.first_product_user_id IS NOT NULL THEN 'product_user'
        END AS customer_source,
        COALESCE(s.contact_id, c.first_product_user_id) AS source_id
    FROM per_component AS c
    LEFT JOIN surviving_contacts AS s ON s.component = c.component
),

final AS (
    SELECT
        CASE
            WHEN customer_source = 'crm_contact' THEN crm_contact_id
            ELSE TO_HEX(MD5(CONCAT(customer_source, '-', source_id)))
        END AS customer_id,
        component,
        customer_source,
        source_id,
        crm_contact_id,
        identifiers,
        devices,
        crm_contacts,
        user_ids,
        emails
    FROM keyed
    WHERE customer_source IS NOT NULL
)

SELECT * FROM final
