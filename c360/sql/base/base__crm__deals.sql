-- base__crm__deals: live CRM deals with their outcome.
-- grain: one row per deal_id (unique, not null).
-- deal_status: won (stage in @won_stages), lost (stage in @lost_stages), else open.
-- dropped (_drop_reason): deleted (_fivetran_deleted), duplicate (a repeated deal_id).
WITH source AS (
    SELECT * FROM {{ source('crm', 'deals') }}
),

renamed AS (
    SELECT
        deal_id,
        contact_id,
        deal_name,
        amount,
        currency,
        stage,
        CASE
            WHEN stage IN UNNEST(@won_stages) THEN 'won'
            WHEN stage IN UNNEST(@lost_stages) THEN 'lost'
            ELSE 'open'
        END AS deal_status,
        created_at,
        closed_at,
        DATE(closed_at) AS closed_date,
        COALESCE(_fivetran_deleted, FALSE) AS is_deleted,
        ROW_NUMBER() OVER (
            PARTITION BY deal_id
            ORDER BY COALESCE(_fivetran_deleted, FALSE), closed_at DESC, created_at DESC, stage, amount
        ) AS copy_number
    FROM source
),

final AS (
    SELECT
        * EXCEPT (is_deleted, copy_number),
        deal_status = 'won' AS is_won,
        CASE
            WHEN is_deleted THEN 'deleted'
            WHEN copy_number > 1 THEN 'duplicate'
        END AS _drop_reason
    FROM renamed
)

SELECT * FROM final
