"""The GA4 BigQuery export's row layout: the event_params keys in the order written (and how a value is typed), the
event names, the pre-built JSON pieces of a row (head, params, tail), and the export's columns as a pyarrow schema
(export_arrow_schema)."""
from __future__ import annotations

import numpy as np


STREAM_ID = "4178902345"

# ---------------------------------------------------------------------------------------------------------
# GA4 event_params: keys in the order written, and which are integers.
# ---------------------------------------------------------------------------------------------------------
# The first eleven are the ones the pipeline reads or tests (drawn from the main stream); the rest are the other
# parameters a web stream sends (drawn by Enrichment from its own streams, never read by the pipeline).
PARAM_KEYS = ("ga_session_id", "ga_session_number", "page_location", "page_referrer", "source", "medium",
              "campaign", "gclid", "engagement_time_msec", "percent_scrolled", "session_engaged",
              "page_title", "entrances", "engaged_session_event", "ignore_referrer", "debug_mode", "batch_page_id",
              "batch_ordering_id", "form_id", "form_name", "form_destination", "form_submit_text", "method",
              "currency", "value")
(P_SID, P_SNUM, P_LOC, P_REF, P_SRC, P_MED, P_CAMP, P_GCLID, P_ENG, P_SCROLL, P_ENGAGED,
 P_TITLE, P_ENTRANCES, P_ENGAGED_EVENT, P_IGNORE_REF, P_DEBUG, P_BATCH_PAGE, P_BATCH_ORDER, P_FORM_ID, P_FORM_NAME,
 P_FORM_DEST, P_FORM_TEXT, P_METHOD, P_CURRENCY, P_VALUE) = range(len(PARAM_KEYS))
# how a value is written: int_value number, int_value JSON string, string_value, double_value number
INT, INT_STR, STR, DBL = 0, 1, 2, 3
EVENT_NAMES = ("first_visit", "session_start", "page_view", "scroll", "login", "form_submit", "generate_lead",
               "user_engagement")
E_FIRST, E_START, E_PV, E_SCROLL, E_LOGIN, E_FORM, E_LEAD, E_ENGAGE = range(len(EVENT_NAMES))


def _param_pieces(intraday: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per key: (prefix, suffix) object arrays indexed by INT/INT_STR/STR, around the value's text.

    Daily shards write only the typed field that holds the value; intraday rows write all four, the others null.
    """
    fields = ("string_value", "int_value", "float_value", "double_value")
    out = []
    for key in PARAM_KEYS:
        pre, post = [], []
        for kind in (INT, INT_STR, STR, DBL):
            q = '"' if kind in (INT_STR, STR) else ""
            field = {STR: "string_value", DBL: "double_value"}.get(kind, "int_value")
            at = fields.index(field)
            before = "".join(f'"{f}":null,' for f in fields[:at]) if intraday else ""
            after = "".join(f',"{f}":null' for f in fields[at + 1:]) if intraday else ""
            pre.append(f',{{"key":"{key}","value":{{{before}"{field}":{q}')
            post.append(f"{q}{after}}}}}")
        out.append((np.array(pre, dtype=object), np.array(post, dtype=object)))
    return out


PIECES = {False: _param_pieces(False), True: _param_pieces(True)}
PRIVACY_JSON = np.array(["null", '{"analytics_storage":"Yes","ads_storage":"Yes","uses_transient_token":"No"}',
                         '{"analytics_storage":"No","ads_storage":"No","uses_transient_token":"No"}'], dtype=object)
CONSENT_VALUE = np.array([None, "Yes", "No"], dtype=object)
HEAD = '{"event_date":"%s","event_timestamp":%d,"event_name":"%s","event_params":['
HEAD_QUOTED = '{"event_date":"%s","event_timestamp":"%d","event_name":"%s","event_params":['
# the rest of a row, in the export's column order (event_params closed first)
TAIL = ('],"event_previous_timestamp":null,"event_value_in_usd":%s,"event_bundle_sequence_id":%s,'
        '"event_server_timestamp_offset":%s,"user_id":%s,"user_pseudo_id":%s,"privacy_info":%s,"user_properties":%s,'
        '"user_first_touch_timestamp":%s,"user_ltv":%s,%s,%s,"app_info":null%s,"stream_id":"' + STREAM_ID + '",'
        '"platform":"WEB","event_dimensions":null%s,"items":[],"collected_traffic_source":%s,"is_active_user":%s%s,'
        '"batch_page_id":%s,"batch_ordering_id":%s,"session_traffic_source_last_click":%s,"publisher":null}\n')
USER_LTV_JSON = '{"revenue":0.0,"currency":"USD"}'  # no purchases on this site: lifetime revenue 0
EVENT_NAME_ARRAY = np.array(EVENT_NAMES, dtype=object)


def export_arrow_schema():
    """The GA4 BigQuery export's columns as a pyarrow schema, in the export's order: what a synthetic Parquet
    shard holds (the columns of the fixtures' shard, data/fixtures/build_fixtures.py, with the same types, plus
    the rest of the export)."""
    import pyarrow as pa

    s, i, f = pa.string(), pa.int64(), pa.float64()

    def struct(*names, t=s):
        return pa.struct([(n, t) for n in names])

    value = pa.struct([("string_value", s), ("int_value", i), ("float_value", f), ("double_value", f)])
    user_value = pa.struct(list(value) + [pa.field("set_timestamp_micros", i)])
    manual = struct("campaign_id", "campaign_name", "source", "medium", "term", "content", "source_platform",
                    "creative_format", "marketing_tactic")
    item = pa.struct([(n, s) for n in ("item_id", "item_name", "item_brand", "item_variant", "item_category",
                                       "item_category2", "item_category3", "item_category4", "item_category5")]
                     + [("price_in_usd", f), ("price", f), ("quantity", i), ("item_revenue_in_usd", f),
                        ("item_revenue", f), ("item_refund_in_usd", f), ("item_refund", f)]
                     + [(n, s) for n in ("coupon", "affiliation", "location_id", "item_list_id", "item_list_name",
                                         "item_list_index", "promotion_id", "promotion_name", "creative_name",
                                         "creative_slot")]
                     + [("item_params", pa.list_(pa.struct([("key", s), ("value", value)])))])
    return pa.schema([
        ("event_date", s), ("event_timestamp", i), ("event_name", s),
        ("event_params", pa.list_(pa.struct([("key", s), ("value", value)]))),
        ("event_previous_timestamp", i), ("event_value_in_usd", f), ("event_bundle_sequence_id", i),
        ("event_server_timestamp_offset", i), ("user_id", s), ("user_pseudo_id", s),
        ("privacy_info", struct("analytics_storage", "ads_storage", "uses_transient_token")),
        ("user_properties", pa.list_(pa.struct([("key", s), ("value", user_value)]))),
        ("user_first_touch_timestamp", i), ("user_ltv", pa.struct([("revenue", f), ("currency", s)])),
        ("device", pa.struct([(n, s) for n in ("category", "mobile_brand_name", "mobile_model_name",
                                               "mobile_marketing_name", "mobile_os_hardware_model",
                                               "operating_system", "operating_system_version", "vendor_id",
                                               "advertising_id", "language", "is_limited_ad_tracking")]
                             + [("time_zone_offset_seconds", i), ("browser", s), ("browser_version", s),
                                ("web_info", struct("browser", "browser_version", "hostname"))])),
        ("geo", struct("city", "country", "continent", "region", "sub_continent", "metro")),
        ("app_info", struct("id", "version", "install_store", "firebase_app_id", "install_source")),
        ("traffic_source", struct("name", "medium", "source")),
        ("stream_id", s), ("platform", s),
        ("event_dimensions", struct("hostname")),
        ("ecommerce", pa.struct([("total_item_quantity", i), ("purchase_revenue_in_usd", f),
                                 ("purchase_revenue", f), ("refund_value_in_usd", f), ("refund_value", f),
                                 ("shipping_value_in_usd", f), ("shipping_value", f), ("tax_value_in_usd", f),
                                 ("tax_value", f), ("unique_items", i), ("transaction_id", s)])),
        ("items", pa.list_(item)),
        ("collected_traffic_source", struct("manual_campaign_name", "manual_source", "manual_medium", "gclid")),
        ("is_active_user", pa.bool_()), ("batch_event_index", i), ("batch_page_id", i), ("batch_ordering_id", i),
        ("session_traffic_source_last_click", pa.struct([
            ("manual_campaign", manual),
            ("google_ads_campaign", struct("customer_id", "account_name", "campaign_id", "campaign_name",
                                           "ad_group_id", "ad_group_name")),
            ("cross_channel_campaign", struct("campaign_id", "campaign_name", "source", "medium", "source_platform",
                                              "default_channel_group", "primary_channel_group")),
            ("sa360_campaign", struct("campaign_id", "campaign_name", "source", "medium", "ad_group_id",
                                      "ad_group_name", "creative_format", "engine_account_name",
                                      "engine_account_type", "manager_account_name")),
            ("cm360_campaign", struct("campaign_id", "campaign_name", "source", "medium", "account_id",
                                      "account_name", "advertiser_id", "advertiser_name", "creative_id",
                                      "creative_format", "creative_name", "creative_type", "creative_type_id",
                                      "creative_version", "placement_id", "placement_cost_structure",
                                      "placement_name", "rendering_id", "site_id", "site_name")),
            ("dv360_campaign", struct("campaign_id", "campaign_name", "source", "medium", "advertiser_id",
                                      "advertiser_name", "creative_id", "creative_format", "creative_name",
                                      "exchange_id", "exchange_name", "insertion_order_id", "insertion_order_name",
                                      "line_item_id", "line_item_name", "partner_id", "partner_name")),
        ])),
        ("publisher", pa.struct([("ad_revenue_in_usd", f), ("ad_format", s), ("ad_source_name", s),
                                 ("ad_unit_id", s)])),
    ])
