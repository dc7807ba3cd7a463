-- base__seeds__email_domains: email domains classified by hand (the JaffleGaggle seed pattern).
-- grain: one row per domain (unique, not null); classification in personal | corporate | ambiguous.
-- The source tree's seeds/email_domains.csv when present, else the project's own (c360/seeds/).
-- dropped (_drop_reason): duplicate (a repeated domain: the first in file order is kept).
WITH source AS (
    SELECT * FROM {{ source('seeds', 'email_domains') }}
),

renamed AS (
    SELECT
        LOWER(TRIM(domain)) AS domain,
        LOWER(TRIM(classification)) AS classification,
        ROW_NUMBER() OVER (PARTITION BY LOWER(TRIM(domain)) ORDER BY _line) AS copy_number
    FROM source
)

SELECT
    * EXCEPT (copy_number),
    CASE WHEN copy_number > 1 THEN 'duplicate' END AS _drop_reason
FROM renamed
