-- base__seeds__currencies: ISO 4217 currency codes with their minor unit (decimals of the smallest unit:
-- USD 2, JPY 0, KWD 3), from CLDR. The source tree's seeds/currencies.csv when present, else c360/seeds/.
-- grain: one row per currency (unique, not null).
-- dropped (_drop_reason): duplicate (a repeated currency: the first in file order is kept).
WITH source AS (
    SELECT * FROM {{ source('seeds', 'currencies') }}
),

renamed AS (
    SELECT
        UPPER(TRIM(currency)) AS currency,
        minor_unit,
        ROW_NUMBER() OVER (PARTITION BY UPPER(TRIM(currency)) ORDER BY _line) AS copy_number
    FROM source
)

SELECT
    * EXCEPT (copy_number),
    CASE WHEN copy_number > 1 THEN 'duplicate' END AS _drop_reason
FROM renamed
