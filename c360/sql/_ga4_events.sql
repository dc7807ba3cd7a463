{#- The GA4 export flattened to the fields the pipeline needs, in one pass over `export` (the export's nested
    rows with their `_TABLE_SUFFIX`), with a 64-bit fingerprint of everything that makes an event distinct.
    BigQuery: base__ga4__events reads this over the export in place (ga4_events()). DuckDB: the loader writes
    it while it parses the raw shards (src__ga4__events), so each shard is parsed and flattened once and the
    nested rows are never stored. An event_date that is not YYYYMMDD is NULL (the loader sets such rows aside;
    base__ga4__events' not_null test stops a run that meets one). -#}
SELECT
    SAFE.PARSE_DATE('%Y%m%d', event_date) AS event_date,
    TIMESTAMP_MICROS(event_timestamp) AS event_timestamp,
    event_name,
    user_pseudo_id,
    user_id,
    {{ ga4_param('ga_session_id', 'int') }} AS ga_session_id,
    {{ ga4_param('ga_session_number', 'int') }} AS ga_session_number,
    {{ ga4_param('page_location') }} AS page_location,
    {{ ga4_param('page_referrer') }} AS page_referrer,
    {{ ga4_param('engagement_time_msec', 'int') }} AS engagement_time_msec,
    {{ ga4_param('session_engaged', 'int') }} = 1 AS session_engaged,
    collected_traffic_source.manual_source AS manual_source,
    collected_traffic_source.manual_medium AS manual_medium,
    collected_traffic_source.manual_campaign_name AS manual_campaign,
    COALESCE(collected_traffic_source.gclid, {{ ga4_param('gclid') }}) AS gclid,
    {{ ga4_param('source') }} AS param_source,
    {{ ga4_param('medium') }} AS param_medium,
    {{ ga4_param('campaign') }} AS param_campaign,
    {{ ga4_param('ignore_referrer') }} AS param_ignore_referrer,
    traffic_source.source AS user_first_source,
    traffic_source.medium AS user_first_medium,
    traffic_source.name AS user_first_campaign,
    privacy_info.analytics_storage AS consent__analytics_storage,
    device.category AS device_category,
    geo.country AS country,
    stream_id,
    _TABLE_SUFFIX AS shard,
    STARTS_WITH(_TABLE_SUFFIX, 'intraday_') AS is_intraday,
    RIGHT(_TABLE_SUFFIX, 8) AS shard_date,
    FARM_FINGERPRINT(TO_JSON_STRING(STRUCT(event_timestamp, event_name, user_pseudo_id, user_id, stream_id,
        event_params, privacy_info, collected_traffic_source, device, geo))) AS event_fingerprint
FROM {{ export }}
