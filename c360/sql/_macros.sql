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
