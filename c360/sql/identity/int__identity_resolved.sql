-- int__identity_resolved: the GA4 devices that resolve to a customer.
-- grain: one row per resolved user_pseudo_id (unique, not null).
-- customer_id -> int__identity_customers; crm_contact_id: the customer's surviving CRM contact (NULL if it
--   has none). identity_source (login | form_submission), identified_at, evidence_id: the device's most
--   recent evidence linking it to the customer (see int__identity_device_bridged).
{{ config(cluster_by='user_pseudo_id') }}
WITH source AS (
    SELECT * FROM {{ ref('int__identity_device_bridged') }}
    WHERE identifier_type = 'user_pseudo_id'
),

final AS (
    SELECT
        identifier_value AS user_pseudo_id,
        customer_id,
        crm_contact_id,
        linked_by AS identity_source,
        linked_at AS identified_at,
        evidence_id
    FROM source
)

SELECT * FROM final
