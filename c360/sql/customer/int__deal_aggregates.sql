-- int__deal_aggregates: the deals of each customer, over all the CRM contacts merged into it.
-- grain: one row per customer_id that has at least one live deal (unique, not null).
-- total_won_value / deals_won: deal_status = 'won' (the won_stages parameter); open_pipeline_value: open deals.
WITH deals AS (
    SELECT * FROM {{ ref('base__crm__deals') }}
),

contacts AS (
    SELECT identifier_value AS contact_id, customer_id
    FROM {{ ref('int__identity_device_bridged') }}
    WHERE identifier_type = 'crm_contact_id'
),

final AS (
    SELECT
        contacts.customer_id,
        COUNT(*) AS deals,
        COUNTIF(deals.deal_status = 'won') AS deals_won,
        COUNTIF(deals.deal_status = 'lost') AS deals_lost,
        COUNTIF(deals.deal_status = 'open') AS deals_open,
        COALESCE(SUM(IF(deals.deal_status = 'won', deals.amount, 0)), 0) AS total_won_value,
        COALESCE(SUM(IF(deals.deal_status = 'open', deals.amount, 0)), 0) AS open_pipeline_value,
        MIN(deals.created_at) AS first_deal_created_at,
        MAX(IF(deals.deal_status IN ('won', 'lost'), deals.closed_at, NULL)) AS latest_deal_closed_at
    FROM deals
    INNER JOIN contacts
        ON deals.contact_id = contacts.contact_id
    GROUP BY contacts.customer_id
)

SELECT * FROM final
