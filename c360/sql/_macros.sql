{#- Shared SQL snippets, available to every model (dbt-style macros). -#}

{#- Google's GA4 default channel group for a source / medium / campaign, given the source's category
    (SOURCE_CATEGORY_SEARCH | _SOCIAL | _SHOPPING | _VIDEO from the ga4_source_categories seed).
    Rules are evaluated in order; the first match wins. -#}
{% macro channel_group(source, medium, campaign, category) -%}
CASE
    WHEN {{ source }} = '(direct)' AND {{ medium }} IN ('(none)', '(not set)') THEN 'Direct'
    WHEN REGEXP_CONTAINS(LOWER(COALESCE({{ campaign }}, '')), r'cross-network') THEN 'Cross-network'
    WHEN ({{ category }} = 'SOURCE_CATEGORY_SHOPPING'
            OR REGEXP_CONTAINS(LOWER(COALESCE({{ campaign }}, '')), r'^(.*(([^a-df-z]|^)shop|shopping).*)$'))
        AND REGEXP_CONTAINS({{ medium }}, r'^(.*cp.*|ppc|retargeting|paid.*)$') THEN 'Paid Shopping'
    WHEN {{ category }} = 'SOURCE_CATEGORY_SEARCH'
        AND REGEXP_CONTAINS({{ medium }}, r'^(.*cp.*|ppc|retargeting|paid.*)$') THEN 'Paid Search'
    WHEN {{ category }} = 'SOURCE_CATEGORY_SOCIAL'
        AND REGEXP_CONTAINS({{ medium }}, r'^(.*cp.*|ppc|retargeting|paid.*)$') THEN 'Paid Social'
    WHEN {{ category }} = 'SOURCE_CATEGORY_VIDEO'
        AND REGEXP_CONTAINS({{ medium }}, r'^(.*cp.*|ppc|retargeting|paid.*)$') THEN 'Paid Video'
    WHEN {{ medium }} IN ('display', 'banner', 'expandable', 'interstitial', 'cpm') THEN 'Display'
    WHEN REGEXP_CONTAINS({{ medium }}, r'^(.*cp.*|ppc|retargeting|paid.*)$') THEN 'Paid Other'
    WHEN {{ category }} = 'SOURCE_CATEGORY_SHOPPING'
        OR REGEXP_CONTAINS(LOWER(COALESCE({{ campaign }}, '')), r'^(.*(([^a-df-z]|^)shop|shopping).*)$')
        THEN 'Organic Shopping'
    WHEN {{ category }} = 'SOURCE_CATEGORY_SOCIAL'
        OR {{ medium }} IN ('social', 'social-network', 'social-media', 'sm', 'social network', 'social media')
        THEN 'Organic Social'
    WHEN {{ category }} = 'SOURCE_CATEGORY_VIDEO' OR REGEXP_CONTAINS({{ medium }}, r'^(.*video.*)$') THEN 'Organic Video'
    WHEN {{ category }} = 'SOURCE_CATEGORY_SEARCH' OR {{ medium }} = 'organic' THEN 'Organic Search'
    WHEN {{ source }} IN ('email', 'e-mail', 'e_mail', 'e mail') OR {{ medium }} IN ('email', 'e-mail', 'e_mail', 'e mail')
        THEN 'Email'
    WHEN {{ medium }} = 'affiliate' THEN 'Affiliates'
    WHEN {{ medium }} IN ('referral', 'app', 'link') THEN 'Referral'
    WHEN {{ medium }} = 'audio' THEN 'Audio'
    WHEN {{ source }} = 'sms' OR {{ medium }} = 'sms' THEN 'SMS'
    WHEN REGEXP_CONTAINS({{ medium }}, r'(push$|mobile|notification)') OR {{ source }} = 'firebase'
        THEN 'Mobile Push Notifications'
    ELSE 'Unassigned'
END
{%- endmacro %}

{#- The attribution channel of a row, by the `attribution_channel` parameter's dimension. -#}
{% macro attribution_channel(dimension, channel_group, source, medium, campaign) -%}
CASE {{ dimension }}
    WHEN 'channel_group' THEN {{ channel_group }}
    WHEN 'source_medium' THEN CONCAT({{ source }}, ' / ', {{ medium }})
    ELSE COALESCE({{ campaign }}, '(not set)')
END
{%- endmacro %}

{#- Money. Amounts are NUMERIC (DECIMAL(38, 9) on DuckDB); these stay in decimal arithmetic, never a float.
    `digits` is a currency's minor unit (0 to 4 decimals: JPY 0, USD 2, KWD 3; 9 = NUMERIC's own scale). -#}
{% macro minor_unit_factor(digits) -%}
CASE {{ digits }} WHEN 0 THEN CAST('1' AS NUMERIC) WHEN 1 THEN CAST('10' AS NUMERIC) WHEN 2 THEN CAST('100' AS NUMERIC)
    WHEN 3 THEN CAST('1000' AS NUMERIC) WHEN 4 THEN CAST('10000' AS NUMERIC) ELSE CAST('1000000000' AS NUMERIC) END
{%- endmacro %}

{% macro minor_unit_size(digits) -%}
CASE {{ digits }} WHEN 0 THEN CAST('1' AS NUMERIC) WHEN 1 THEN CAST('0.1' AS NUMERIC) WHEN 2 THEN CAST('0.01' AS NUMERIC)
    WHEN 3 THEN CAST('0.001' AS NUMERIC) WHEN 4 THEN CAST('0.0001' AS NUMERIC) ELSE CAST('0.000000001' AS NUMERIC) END
{%- endmacro %}

{#- `x` rounded to `digits` decimals, half to even (banker's rounding), as a NUMERIC. -#}
{% macro round_half_even(x, digits) -%}
CAST((
    FLOOR(({{ x }}) * {{ minor_unit_factor(digits) }})
    + CASE
        WHEN ({{ x }}) * {{ minor_unit_factor(digits) }} - FLOOR(({{ x }}) * {{ minor_unit_factor(digits) }})
            > CAST('0.5' AS NUMERIC) THEN 1
        WHEN ({{ x }}) * {{ minor_unit_factor(digits) }} - FLOOR(({{ x }}) * {{ minor_unit_factor(digits) }})
            < CAST('0.5' AS NUMERIC) THEN 0
        WHEN MOD(CAST(FLOOR(({{ x }}) * {{ minor_unit_factor(digits) }}) AS NUMERIC), CAST('2' AS NUMERIC))
            = CAST('0' AS NUMERIC) THEN 0
        ELSE 1
    END
) * {{ minor_unit_size(digits) }} AS NUMERIC)
{%- endmacro %}

{#- How an amount in `original_currency` reaches the reporting currency `currency`, given the exchange `rate`
    found for its date (NULL: none): same currency | converted | no rate | no reporting currency | no amount. -#}
{% macro fx_status(original_amount, original_currency, currency, rate) -%}
CASE
    WHEN {{ original_amount }} IS NULL THEN 'no amount'
    WHEN {{ original_currency }} IS NULL OR {{ original_currency }} = {{ currency }} THEN 'same currency'
    WHEN {{ currency }} IS NULL THEN 'no reporting currency'
    WHEN {{ rate }} IS NULL THEN 'no rate'
    ELSE 'converted'
END
{%- endmacro %}

{#- The amount in the reporting currency: as it is, or converted at `rate` and rounded half to even to the minor
    unit; NULL when it cannot be converted (fx_status says why). -#}
{% macro in_reporting_currency(original_amount, fx_status, rate, minor_unit) -%}
CASE
    WHEN {{ fx_status }} = 'same currency' THEN {{ original_amount }}
    WHEN {{ fx_status }} = 'converted' THEN {{ round_half_even(original_amount ~ ' * ' ~ rate, minor_unit) }}
END
{%- endmacro %}
