-- base__seeds__ga4_source_categories: traffic sources by category (search, social, shopping, video), as
-- Google's default channel group rules use them. The source tree's seeds/ga4_source_categories.csv when
-- present, else the project's own (c360/seeds/).
-- grain: one row per source (unique, not null).
-- dropped (_drop_reason): duplicate (a repeated source: the first in file order is kept).
WITH source AS (
    SELECT * FROM {{ source('seeds', 'ga4_source_categories') }}
),

renamed AS (
    SELECT
        LOWER(TRIM(source)) AS source,
        UPPER(TRIM(source_category)) AS source_category,
        ROW_NUMBER() OVER (PARTITION BY LOWER(TRIM(source)) ORDER BY _line) AS copy_number
    FROM source
)

SELECT
    * EXCEPT (copy_number),
    CASE WHEN copy_number > 1 THEN 'duplicate' END AS _drop_reason
FROM renamed
