-- mrt__core__customer_360: one wide row per customer: CRM, product, deals and web, with survivorship rules.
-- grain: one row per customer_id (unique, not null); every customer of int__identity_device_bridged.
-- survivorship, per column:
--   customer__email, customer__company_name: CRM first (the surviving contact, then its duplicates by
--     created_at, contact_id), then the product (the most recently active product user); emails normalized.
--   customer__job_title: CRM only, same order.
--   customer__first_name, customer__last_name, customer__lifecycle_stage: the most recently updated CRM contact.
--   product__plan, product__signed_up_at, product__last_login_at: the most recently active product user.
--   source_contact_ids: every CRM contact merged into the customer (duplicates), comma-separated.
-- email domain (JaffleGaggle pattern): classification from the email-domain seed; a domain not in the seed is
--   corporate; 'ambiguous' stays ambiguous (is_personal_email NULL), never guessed; company_domain is the
--   CRM's company domain (base__crm__contacts.company_domain, by priority as company_name), else the domain of a
--   corporate email, for rolling customers up to accounts.
{{ config(cluster_by='customer_id') }}
WITH bridged AS (
    SELECT * FROM {{ ref('int__identity_device_bridged') }}
),

customers AS (
    SELECT DISTINCT customer_id FROM bridged
),

crm AS (
    SELECT
        bridged.customer_id,
        contacts.*,
        ROW_NUMBER() OVER (
            PARTITION BY bridged.customer_id
            ORDER BY contacts.contact_id = bridged.customer_id DESC, contacts.created_at ASC NULLS LAST, contacts.contact_id
        ) AS priority,
        ROW_NUMBER() OVER (
            PARTITION BY bridged.customer_id
            ORDER BY contacts.updated_at DESC NULLS LAST, contacts.contact_id
        ) AS recency
    FROM bridged
    INNER JOIN {{ ref('base__crm__contacts') }} AS contacts
        ON bridged.identifier_type = 'crm_contact_id' AND bridged.identifier_value = contacts.contact_id
),

-- each value: the first non-NULL one by priority / recency (both unique per customer), MIN_BY over the rows
-- where it is set
crm_values AS (
    SELECT
        customer_id,
        MIN_BY(email_normalized, IF(email_normalized IS NULL, NULL, priority)) AS email,
        MIN_BY(company_name, IF(company_name IS NULL, NULL, priority)) AS company_name,
        MIN_BY(company_domain, IF(company_domain IS NULL, NULL, priority)) AS company_domain,
        MIN_BY(job_title, IF(job_title IS NULL, NULL, priority)) AS job_title,
        MIN_BY(first_name, IF(first_name IS NULL, NULL, recency)) AS first_name,
        MIN_BY(last_name, IF(last_name IS NULL, NULL, recency)) AS last_name,
        MIN_BY(lifecycle_stage, IF(lifecycle_stage IS NULL, NULL, recency)) AS lifecycle_stage,
        MIN(created_at) AS crm_created_at,
        STRING_AGG(contact_id, ',' ORDER BY contact_id) AS source_contact_ids,
        COUNT(*) AS crm_contacts
    FROM crm
    GROUP BY customer_id
),

product AS (
    SELECT
        bridged.customer_id,
        users.*,
        ROW_NUMBER() OVER (
            PARTITION BY bridged.customer_id ORDER BY users.last_login_at DESC NULLS LAST, users.user_id
        ) AS recency
    FROM bridged
    INNER JOIN {{ ref('base__product__users') }} AS users
        ON bridged.identifier_type = 'user_id' AND bridged.identifier_value = users.user_id
),

product_values AS (  -- the first non-NULL value by recency, as in crm_values
    SELECT
        customer_id,
        MIN_BY(email_normalized, IF(email_normalized IS NULL, NULL, recency)) AS email,
        MIN_BY(company_name, IF(company_name IS NULL, NULL, recency)) AS company_name,
        MIN_BY(plan, IF(plan IS NULL, NULL, recency)) AS plan,
        MIN(signed_up_at) AS signed_up_at,
        MAX(last_login_at) AS last_login_at,
        STRING_AGG(user_id, ',' ORDER BY user_id) AS product_user_ids
    FROM product
    GROUP BY customer_id
),

joined AS (
    SELECT
        customers.customer_id,
        COALESCE(crm_values.email, product_values.email) AS customer__email,
        COALESCE(crm_values.company_name, product_values.company_name) AS customer__company_name,
        crm_values.job_title AS customer__job_title,
        crm_values.company_domain AS crm_company_domain,
        crm_values.first_name AS customer__first_name,
        crm_values.last_name AS customer__last_name,
        crm_values.lifecycle_stage AS customer__lifecycle_stage,
        crm_values.crm_created_at,
        crm_values.source_contact_ids,
        COALESCE(crm_values.crm_contacts, 0) AS crm_contacts,
        product_values.product_user_ids,
        product_values.plan AS product__plan,
        product_values.signed_up_at AS product__signed_up_at,
        product_values.last_login_at AS product__last_login_at
    FROM customers
    LEFT JOIN crm_values
        ON customers.customer_id = crm_values.customer_id
    LEFT JOIN product_values
        ON customers.customer_id = product_values.customer_id
),

domains AS (
    SELECT * FROM {{ ref('base__seeds__email_domains') }}
),

enriched AS (
    SELECT
        with_domain.*,
        CASE WHEN with_domain.email_domain IS NOT NULL
             THEN COALESCE(domains.classification, 'corporate') END AS email_domain_type
    FROM (
        SELECT joined.*, SPLIT(joined.customer__email, '@')[SAFE_OFFSET(1)] AS email_domain
        FROM joined
    ) AS with_domain
    LEFT JOIN domains
        ON with_domain.email_domain = domains.domain
),

final AS (
    SELECT
        enriched.customer_id,
        enriched.customer__email,
        enriched.customer__first_name,
        enriched.customer__last_name,
        enriched.customer__company_name,
        enriched.customer__job_title,
        enriched.customer__lifecycle_stage,
        enriched.email_domain,
        enriched.email_domain_type,
        CASE enriched.email_domain_type WHEN 'personal' THEN TRUE WHEN 'corporate' THEN FALSE END AS is_personal_email,
        COALESCE(enriched.crm_company_domain,
                 IF(enriched.email_domain_type = 'corporate', enriched.email_domain, NULL)) AS company_domain,
        enriched.source_contact_ids,
        enriched.crm_contacts,
        enriched.crm_created_at,
        enriched.product_user_ids,
        enriched.product__plan,
        enriched.product__signed_up_at,
        enriched.product__last_login_at,
        COALESCE(deals.deals, 0) AS deals,
        COALESCE(deals.deals_won, 0) AS deals_won,
        COALESCE(deals.deals_lost, 0) AS deals_lost,
        COALESCE(deals.deals_open, 0) AS deals_open,
        COALESCE(deals.total_won_value, 0) AS total_won_value,
        COALESCE(deals.open_pipeline_value, 0) AS open_pipeline_value,
        deals.first_deal_created_at,
        deals.latest_deal_closed_at,
        COALESCE(web.total_sessions, 0) AS total_sessions,
        COALESCE(web.engaged_sessions, 0) AS engaged_sessions,
        COALESCE(web.total_page_views, 0) AS total_page_views,
        web.first_seen_at,
        web.last_seen_at,
        COALESCE(web.days_active, 0) AS days_active,
        COALESCE(web.devices, 0) AS devices,
        web.first_touch_source,
        web.first_touch_medium,
        web.first_touch_channel_group
    FROM enriched
    LEFT JOIN {{ ref('int__deal_aggregates') }} AS deals
        ON enriched.customer_id = deals.customer_id
    LEFT JOIN {{ ref('int__web_analytics_summary') }} AS web
        ON enriched.customer_id = web.customer_id
)

SELECT * FROM final
