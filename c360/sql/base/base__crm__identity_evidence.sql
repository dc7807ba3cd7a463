-- base__crm__identity_evidence: identity links a CRM states beyond one contact row (crm/identity_evidence.csv,
--   or a CRM connector: merged contacts, earlier values of the product user id property).
-- grain: one row per (edge_source, evidence_id, identifier_type, identifier).
-- edge_source / identifier_type: crm_merge / crm_contact_id (contact_id absorbed contact `identifier`),
--   crm_merge / email or user_id (the absorbed contact's email or product user id), crm_contact / user_id
--   (contact_id held product user id `identifier` at evidence_at), crm_contact / email (an email of contact_id's
--   beyond its own: a converted lead's).
-- identifier: trimmed; an email normalized as base__crm__contacts.email_normalized is.
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
        CASE
            WHEN TRIM(identifier_type) = 'email'
                THEN NULLIF(LOWER(REGEXP_REPLACE({% if target.type == 'bigquery' %}NORMALIZE(identifier, NFKC){% else %}identifier{% endif %}, r'^[\s\x{0B}\x{85}\p{Z}\x{180E}\x{200B}-\x{200D}\x{2060}\x{FEFF}]+|[\s\x{0B}\x{85}\p{Z}\x{180E}\x{200B}-\x{200D}\x{2060}\x{FEFF}]+$', '')), '')
            ELSE NULLIF(TRIM(identifier), '')
        END AS identifier,
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
        WHEN CONCAT(edge_source, '/', identifier_type) NOT IN ('crm_merge/crm_contact_id', 'crm_merge/email', 'crm_merge/user_id',
                                                            'crm_contact/user_id', 'crm_contact/email')
            THEN 'unknown evidence'
        WHEN identifier IS NULL THEN 'no identifier'
        WHEN copy_number > 1 THEN 'duplicate'
    END AS _drop_reason
FROM renamed
