-- base__crm__identity_evidence: identity links a CRM states beyond one contact row (crm/identity_evidence.csv,
--   or a CRM connector: merged contacts, earlier values of the product user id property).
-- grain: one row per (edge_source, evidence_id, identifier_type, identifier).
-- edge_source / identifier_type: crm_merge / crm_contact_id (contact_id absorbed contact `identifier`),
--   crm_contact / user_id (contact_id held product user id `identifier` at evidence_at).
-- dropped (_drop_reason): unknown evidence (another edge_source / identifier_type pair), no identifier (empty),
--   duplicate (a repeated row: the latest evidence_at is kept).
WITH source AS (
    SELECT * FROM {{ source('crm', 'identity_evidence') }}
),

renamed AS (
    SELECT
        TRIM(contact_id) AS contact_id,
        TRIM(edge_source) AS edge_source,
        TRIM(identifier_type) AS identifier_type,
        NULLIF(TRIM(identifier), '') AS identifier,
        TRIM(evidence_id) AS evidence_id,
        evidence_at,
        ROW_NUMBER() OVER (
            PARTITION BY TRIM(edge_source), TRIM(evidence_id), TRIM(identifier_type), TRIM(identifier)
            ORDER BY evidence_at DESC, contact_id
        ) AS copy_number
    FROM source
)

SELECT
    * EXCEPT (copy_number),
    CASE
        WHEN CONCAT(edge_source, '/', identifier_type) NOT IN ('crm_merge/crm_contact_id', 'crm_contact/user_id')
            THEN 'unknown evidence'
        WHEN identifier IS NULL THEN 'no identifier'
        WHEN copy_number > 1 THEN 'duplicate'
    END AS _drop_reason
FROM renamed
