-- int__identity_candidate_edges: every identity link a source asserts, before any guard, and why it would
--   be excluded. int__identity_evidence keeps the rows with no exclusion_reason: the graph's edges.
-- grain: one row per candidate edge; key edge_id = edge_source:evidence_id:node_b (unique).
-- nodes are identifiers written type:value, type in user_pseudo_id | user_id | email | crm_contact_id.
-- edge_source, node_a -> node_b, evidence_id, evidence_at:
--   login            user_pseudo_id -> user_id     one per (device, user_id): its latest GA4 event with that
--                                                  user_id (evidence_id ga4:device:session:micros:event_name)
--   form_submission  user_pseudo_id -> email       one per submission (evidence_id submission_id, submitted_at)
--   product_user     user_id -> user_id (itself)   the record exists; user_id -> email (evidence_id user_id,
--                                                  at last_login_at, else signed_up_at)
--   crm_contact      crm_contact_id -> itself, -> email, -> user_id (external_id); evidence_id contact_id,
--                                                  at updated_at, else created_at; and -> each earlier user_id
--                                                  or other email (a converted lead's) of the contact
--                                                  (base__crm__identity_evidence, at its evidence_at)
--   crm_merge        crm_contact_id -> crm_contact_id: a contact merged into another, and -> the merged
--                                                  contact's email / user_id (a CRM connector;
--                                                  base__crm__identity_evidence)
-- emails: trimmed, lower-cased (base), and with email_canonicalization gmail.com/googlemail.com lose dots
--   and +tag (domain gmail.com); outlook.com, hotmail.com, icloud.com, protonmail.com, proton.me,
--   fastmail.com lose the +tag. user_ids are trimmed. A NULL email or user_id asserts nothing (no row).
-- blocked (node_a_blocked_by / node_b_blocked_by): the value, lower-cased, is in identity_blocklist, or
--   matches one of identity_blocklist_patterns (the pattern is given). crm_contact_id is a system key
--   and is never blocked.
-- device_consent_denied: the device's latest event (by event_timestamp; at a tie a denial wins) has
--   analytics_storage 'No'. NULL counts as granted; a device without
--   GA4 events counts as granted.
-- exclusion_reason, first that applies: no_device (a login or form without user_pseudo_id),
--   consent_denied, blocked_value (either end blocked).
-- the consent of the device's latest event, in one aggregation (no join back, no sort of the events): each
-- event's UNIX_MICROS doubled, plus 1 when it denies, so the maximum is the latest event, a denial winning a tie
WITH device_consent AS (
    SELECT
        user_pseudo_id,
        MOD(MAX(UNIX_MICROS(event_timestamp) * 2 + IF(LOWER(TRIM(consent__analytics_storage)) = 'no', 1, 0)), 2)
            != 0 AS consent_denied
    FROM {{ ref('base__ga4__events') }}
    WHERE user_pseudo_id IS NOT NULL
    GROUP BY user_pseudo_id
),

-- per (device, user_id), only the events at its latest event_timestamp (all of them when it has none) go on
-- to the ranking below: the window MAX sorts nothing, so the ranking sorts only the events tied at the top
login_latest AS (
    SELECT *
    FROM (
        SELECT
            user_pseudo_id,
            TRIM(user_id) AS user_id,
            event_timestamp,
            event_name,
            ga_session_id,
            MAX(event_timestamp) OVER (PARTITION BY user_pseudo_id, TRIM(user_id)) AS latest_at
        FROM {{ ref('base__ga4__events') }}
        WHERE user_id IS NOT NULL
    ) AS keyed
    WHERE event_timestamp = latest_at OR latest_at IS NULL
),

login_events AS (
    SELECT
        user_pseudo_id,
        user_id,
        event_timestamp,
        CONCAT(
            'ga4:', COALESCE(user_pseudo_id, ''), ':', COALESCE(CAST(ga_session_id AS STRING), ''), ':',
            CAST(UNIX_MICROS(event_timestamp) AS STRING), ':', event_name
        ) AS evidence_id,
        ROW_NUMBER() OVER (
            PARTITION BY user_pseudo_id, user_id
            ORDER BY event_timestamp DESC, event_name DESC, ga_session_id DESC
        ) AS recency
    FROM login_latest
),

login AS (
    SELECT
        'login' AS edge_source,
        'user_pseudo_id' AS node_a_type,
        user_pseudo_id AS node_a_raw,
        'user_id' AS node_b_type,
        user_id AS node_b_raw,
        evidence_id,
        event_timestamp AS evidence_at
    FROM login_events
    WHERE recency = 1
),

form_submission AS (
    SELECT
        'form_submission' AS edge_source,
        'user_pseudo_id' AS node_a_type,
        user_pseudo_id AS node_a_raw,
        'email' AS node_b_type,
        email_normalized AS node_b_raw,
        submission_id AS evidence_id,
        submitted_at AS evidence_at
    FROM {{ ref('base__form_submissions') }}
    WHERE email_normalized IS NOT NULL
),

product_users AS (
    SELECT
        TRIM(user_id) AS user_id,
        email_normalized,
        user_id AS evidence_id,
        COALESCE(last_login_at, signed_up_at) AS evidence_at
    FROM {{ ref('base__product__users') }}
),

product_user AS (
    SELECT 'product_user' AS edge_source, 'user_id' AS node_a_type, user_id AS node_a_raw,
        'user_id' AS node_b_type, user_id AS node_b_raw, evidence_id, evidence_at
    FROM product_users
    UNION ALL
    SELECT 'product_user', 'user_id', user_id, 'email', email_normalized, evidence_id, evidence_at
    FROM product_users
    WHERE email_normalized IS NOT NULL
),

crm_contacts AS (
    SELECT
        contact_id,
        email_normalized,
        external_id,
        COALESCE(updated_at, created_at) AS evidence_at
    FROM {{ ref('base__crm__contacts') }}
),

crm_contact AS (
    SELECT 'crm_contact' AS edge_source, 'crm_contact_id' AS node_a_type, contact_id AS node_a_raw,
        'crm_contact_id' AS node_b_type, contact_id AS node_b_raw, contact_id AS evidence_id, evidence_at
    FROM crm_contacts
    UNION ALL
    SELECT 'crm_contact', 'crm_contact_id', contact_id, 'email', email_normalized, contact_id, evidence_at
    FROM crm_contacts
    WHERE email_normalized IS NOT NULL
    UNION ALL
    SELECT 'crm_contact', 'crm_contact_id', contact_id, 'user_id', external_id, contact_id, evidence_at
    FROM crm_contacts
    WHERE external_id IS NOT NULL
),

-- what the CRM states beyond a contact row (base__crm__identity_evidence): merged contacts (crm_merge,
-- crm_contact_id -> crm_contact_id) and earlier product user ids (crm_contact, crm_contact_id -> user_id)
crm_evidence AS (
    SELECT edge_source, 'crm_contact_id' AS node_a_type, contact_id AS node_a_raw, identifier_type AS node_b_type,
        identifier AS node_b_raw, evidence_id, evidence_at
    FROM {{ ref('base__crm__identity_evidence') }}
),

raw_edges AS (
    SELECT * FROM login
    UNION ALL
    SELECT * FROM form_submission
    UNION ALL
    SELECT * FROM product_user
    UNION ALL
    SELECT * FROM crm_contact
    UNION ALL
    SELECT * FROM crm_evidence
),

raw_values AS (
    SELECT DISTINCT identifier_type, raw_value
    FROM (
        SELECT node_a_type AS identifier_type, node_a_raw AS raw_value FROM raw_edges
        UNION ALL
        SELECT node_b_type AS identifier_type, node_b_raw AS raw_value FROM raw_edges
    ) AS both_ends
    WHERE raw_value IS NOT NULL
),

email_parts AS (
    SELECT
        identifier_type,
        raw_value,
        REGEXP_EXTRACT(raw_value, r'^(.*)@[^@]*$') AS local_part,
        REGEXP_EXTRACT(raw_value, r'@([^@]*)$') AS domain
    FROM raw_values
),

canonical AS (
    SELECT
        identifier_type,
        raw_value,
        CASE
            WHEN identifier_type != 'email' OR NOT @email_canonicalization OR local_part IS NULL THEN raw_value
            WHEN domain IN ('gmail.com', 'googlemail.com')
                THEN CONCAT(REPLACE(REGEXP_REPLACE(local_part, r'\+.*$', ''), '.', ''), '@', 'gmail.com')
            WHEN domain IN ('outlook.com', 'hotmail.com', 'icloud.com', 'protonmail.com', 'proton.me', 'fastmail.com')
                THEN CONCAT(REGEXP_REPLACE(local_part, r'\+.*$', ''), '@', domain)
            ELSE raw_value
        END AS identifier_value
    FROM email_parts
),

-- values any blocklist pattern matches: one combined regular expression first (the patterns are one
-- constant), then, for those few values only, the first pattern that matches them
pattern_candidates AS (
    SELECT DISTINCT identifier_value
    FROM canonical
    WHERE identifier_type != 'crm_contact_id'
        AND ARRAY_LENGTH(@identity_blocklist_patterns) > 0
        AND REGEXP_CONTAINS(LOWER(identifier_value),
                            CONCAT('(?:', ARRAY_TO_STRING(@identity_blocklist_patterns, ')|(?:'), ')'))
),

pattern_hits AS (
    SELECT identifier_value, CONCAT('identity_blocklist_patterns ', MIN(pattern)) AS blocked_by
    FROM pattern_candidates
    CROSS JOIN UNNEST(@identity_blocklist_patterns) AS pattern
    WHERE REGEXP_CONTAINS(LOWER(identifier_value), pattern)
    GROUP BY identifier_value
),

checked AS (
    SELECT
        canonical.identifier_type,
        canonical.raw_value,
        canonical.identifier_value,
        CASE
            WHEN canonical.identifier_type = 'crm_contact_id' THEN NULL
            WHEN LOWER(TRIM(canonical.identifier_value)) IN (
                SELECT LOWER(TRIM(blocked)) FROM UNNEST(@identity_blocklist) AS blocked
            ) THEN 'identity_blocklist'
            ELSE pattern_hits.blocked_by
        END AS blocked_by
    FROM canonical
    LEFT JOIN pattern_hits
        ON canonical.identifier_value = pattern_hits.identifier_value
),

final AS (
    SELECT
        CONCAT(
            e.edge_source, ':', e.evidence_id, ':',
            e.node_b_type, ':', COALESCE(b.identifier_value, '')
        ) AS edge_id,
        e.edge_source,
        e.node_a_type,
        a.identifier_value AS node_a_value,
        CONCAT(e.node_a_type, ':', a.identifier_value) AS node_a,
        e.node_b_type,
        b.identifier_value AS node_b_value,
        CONCAT(e.node_b_type, ':', b.identifier_value) AS node_b,
        e.evidence_id,
        e.evidence_at,
        a.blocked_by AS node_a_blocked_by,
        b.blocked_by AS node_b_blocked_by,
        e.node_a_type = 'user_pseudo_id' AND COALESCE(c.consent_denied, FALSE) AS device_consent_denied,
        CASE
            WHEN e.node_a_type = 'user_pseudo_id' AND e.node_a_raw IS NULL THEN 'no_device'
            WHEN e.node_a_type = 'user_pseudo_id' AND COALESCE(c.consent_denied, FALSE) THEN 'consent_denied'
            WHEN a.blocked_by IS NOT NULL OR b.blocked_by IS NOT NULL THEN 'blocked_value'
        END AS exclusion_reason
    FROM raw_edges AS e
    LEFT JOIN checked AS a
        ON a.identifier_type = e.node_a_type AND a.raw_value = e.node_a_raw
    LEFT JOIN checked AS b
        ON b.identifier_type = e.node_b_type AND b.raw_value = e.node_b_raw
    LEFT JOIN device_consent AS c
        ON e.node_a_type = 'user_pseudo_id' AND c.user_pseudo_id = e.node_a_raw
)

SELECT * FROM final
