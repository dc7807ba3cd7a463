-- int__attribution_touchpoints: the sessions before each closed deal, for every window the run analyses.
-- grain: one row per (window_days, deal_id, touch_order) (unique); window_days is conversion_window_days and
--   each of sensitivity_windows_days.
-- A deal (won or lost) is a journey; its touchpoints are the sessions of every device resolved to the deal
--   contact's customer with closed_date - window_days <= session_date <= closed_date (both ends inclusive),
--   ordered by session_start_at, then session_key. A deal with no such session has one row with
--   touch_order 0 and channel '(unattributed)', so revenue totals reconcile.
WITH windows AS (
    SELECT DISTINCT window_days
    FROM UNNEST(ARRAY_CONCAT([@conversion_window_days], @sensitivity_windows_days)) AS window_days
),

deals AS (
    SELECT * FROM {{ ref('base__crm__deals') }}
    WHERE deal_status IN ('won', 'lost') AND closed_date IS NOT NULL
),

contacts AS (
    SELECT identifier_value AS contact_id, customer_id
    FROM {{ ref('int__identity_device_bridged') }}
    WHERE identifier_type = 'crm_contact_id'
),

sessions AS (
    SELECT
        *,
        {{ attribution_channel('@attribution_channel', 'channel_group', 'source', 'medium', 'campaign') }} AS channel
    FROM {{ ref('mrt__marketing__web_sessions') }}
    WHERE customer_id IS NOT NULL
),

journeys AS (
    SELECT
        windows.window_days,
        deals.deal_id,
        deals.deal_status,
        deals.amount AS deal_amount,
        deals.closed_date,
        contacts.customer_id
    FROM deals
    CROSS JOIN windows
    LEFT JOIN contacts
        ON deals.contact_id = contacts.contact_id
),

touched AS (
    SELECT
        journeys.*,
        sessions.session_key,
        sessions.session_date,
        sessions.session_start_at,
        sessions.source,
        sessions.medium,
        sessions.campaign,
        sessions.channel_group,
        sessions.channel,
        DATE_DIFF(journeys.closed_date, sessions.session_date, DAY) AS days_before
    FROM journeys
    INNER JOIN sessions
        ON journeys.customer_id = sessions.customer_id
        AND sessions.session_date
            BETWEEN DATE_SUB(journeys.closed_date, INTERVAL journeys.window_days DAY) AND journeys.closed_date
),

ordered AS (
    SELECT
        *,
        ROW_NUMBER() OVER (
            PARTITION BY window_days, deal_id ORDER BY session_start_at, session_key
        ) AS touch_order,
        COUNT(*) OVER (PARTITION BY window_days, deal_id) AS touches
    FROM touched
),

unattributed AS (
    SELECT
        journeys.*,
        CAST(NULL AS STRING) AS session_key,
        CAST(NULL AS DATE) AS session_date,
        CAST(NULL AS TIMESTAMP) AS session_start_at,
        CAST(NULL AS STRING) AS source,
        CAST(NULL AS STRING) AS medium,
        CAST(NULL AS STRING) AS campaign,
        '(unattributed)' AS channel_group,
        '(unattributed)' AS channel,
        CAST(NULL AS INT64) AS days_before,
        0 AS touch_order,
        0 AS touches
    FROM journeys
    WHERE NOT EXISTS (
        SELECT 1 FROM touched
        WHERE touched.window_days = journeys.window_days AND touched.deal_id = journeys.deal_id
    )
)

SELECT * FROM ordered
UNION ALL
SELECT * FROM unattributed
