"""GA4 export semantics of a session's traffic source: unwanted referrals (the `unwanted_referrals` parameter,
as GA4's "List unwanted referrals" setting), the ignore_referrer event parameter, and Google's source-category
list (c360/seeds/ga4_source_categories.csv) in the default channel group.

The inline story: one device, one session per case, on 2024-03-05. Every expected value is worked out by hand
from the rules in c360/sql/customer/int__web_sessions.sql and the channel_group macro (c360/sql/_macros.sql).
"""
from __future__ import annotations

import csv

import pytest

from c360 import models, params as P, sources, warehouse as engines
from c360.paths import PROJ_ROOT
from conftest import build_layers, event, write_tree

LAYERS = ("base", "identity", "customer")
SEED = PROJ_ROOT / "c360" / "seeds" / "ga4_source_categories.csv"
FIXTURES = PROJ_ROOT / "data" / "fixtures"
T0 = 1709632800  # 2024-03-05 10:00 UTC
CATEGORIES = {"SOURCE_CATEGORY_SEARCH", "SOURCE_CATEGORY_SHOPPING", "SOURCE_CATEGORY_SOCIAL", "SOURCE_CATEGORY_VIDEO"}


def tagged(session: int, offset: int, source: str | None, medium: str | None, ignore_referrer: bool = False,
           **fields) -> dict:
    """A page_view `offset` seconds into `session` whose event_params carry source / medium (older tagging)."""
    params = [{"key": k, "value": {"string_value": v}} for k, v in (("source", source), ("medium", medium)) if v]
    if ignore_referrer:
        params.append({"key": "ignore_referrer", "value": {"string_value": "true"}})
    return event("20240305", T0 + session + offset, session=session, params=params, **fields)


def plain(session: int, offset: int) -> dict:
    return event("20240305", T0 + session + offset, session=session)


# session id -> its events (ids are offsets from T0, so each session starts at its own time)
CASES = {
    # a self-referral first, then organic search
    100: [tagged(100, 0, "example-shop.com", "referral"), tagged(100, 60, "google", "organic")],
    # a subdomain of the listed domain, and nothing else
    200: [plain(200, 0), tagged(200, 30, "shop.example-shop.com", "referral")],
    # not a subdomain: 'notexample-shop.com' does not end with '.example-shop.com'
    300: [tagged(300, 0, "notexample-shop.com", "referral")],
    # case-insensitive: sources are lower-cased, and so are the listed domains
    400: [tagged(400, 0, "WWW.Example-Shop.COM", "referral")],
    # ignore_referrer (a cross-domain payment page) never counts; bing / organic is next
    500: [tagged(500, 0, "checkout.stripe.com", "referral", ignore_referrer=True), tagged(500, 60, "bing", "organic")],
    # a listed domain with a paid medium is not a referral: kept
    600: [event("20240305", T0 + 600, session=600, collected_traffic_source={
        "manual_source": "example-shop.com", "manual_medium": "cpc", "manual_campaign_name": "retarget"})],
    # Google's list: alibaba is a shopping site; referral is no paid medium -> Organic Shopping
    700: [tagged(700, 0, "alibaba", "referral")],
    # 'Google Shopping' (the list's own spelling), lower-cased, no medium -> (none) -> Organic Shopping
    800: [tagged(800, 0, "Google Shopping", None)],
    # a video site from the list
    900: [tagged(900, 0, "youtube.com", "referral")],
}

DEFAULT = {  # unwanted_referrals: [] (the default): every referral counts, only ignore_referrer is dropped
    100: ("example-shop.com", "referral", "Referral"),
    200: ("shop.example-shop.com", "referral", "Referral"),
    300: ("notexample-shop.com", "referral", "Referral"),
    400: ("www.example-shop.com", "referral", "Referral"),
    500: ("bing", "organic", "Organic Search"),
    600: ("example-shop.com", "cpc", "Paid Other"),
    700: ("alibaba", "referral", "Organic Shopping"),
    800: ("google shopping", "(none)", "Organic Shopping"),
    900: ("youtube.com", "referral", "Organic Video"),
}
UNWANTED = {  # unwanted_referrals: [example-shop.com]
    **DEFAULT,
    100: ("google", "organic", "Organic Search"),  # the next traffic info
    200: ("(direct)", "(none)", "Direct"),  # nothing else: direct
    400: ("(direct)", "(none)", "Direct"),
}


def sessions(eng) -> dict[int, tuple]:
    rows = eng.query("SELECT ga_session_id, source, medium, channel_group FROM int__web_sessions")
    return {int(r.ga_session_id): (r.source, r.medium, r.channel_group) for r in rows.itertuples()}


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """The story built with the default parameters, then the same warehouse re-run with
    unwanted_referrals: [example-shop.com] and no new data (the parameter alone must rebuild every session)."""
    tmp = tmp_path_factory.mktemp("ga4")
    root = write_tree(tmp / "src", {"events_20240305.jsonl": [e for evs in CASES.values() for e in evs]})
    warehouse = tmp / "w.duckdb"
    eng = build_layers(root, warehouse, LAYERS)
    default = sessions(eng)
    eng.con.close()

    params = P.load(overrides=[f"source_root={root}", f"warehouse={warehouse}",
                               "unwanted_referrals=[example-shop.com]"])
    eng = engines.connect(params)
    sources.load_sources(eng, root, params["on_bad_rows"])
    built = {layer: models.build(eng, layer, params) for layer in LAYERS}
    unwanted = sessions(eng)
    eng.con.close()
    return {"default": default, "unwanted": unwanted, "built": built}


def test_the_default_keeps_every_referral_and_drops_ignore_referrer(builds):
    assert builds["default"] == DEFAULT


def test_unwanted_referrals_drop_the_domain_and_its_subdomains_only(builds):
    got = builds["unwanted"]
    assert got[100] == UNWANTED[100]  # self-referral skipped: the session's next traffic info
    assert got[200] == UNWANTED[200]  # a subdomain matches; no other traffic info: (direct) / (none)
    assert got[300] == UNWANTED[300]  # notexample-shop.com is another domain
    assert got[400] == UNWANTED[400]  # case-insensitive
    assert got[600] == UNWANTED[600]  # cpc from a listed domain is not a referral
    assert got == UNWANTED


def test_changing_the_parameter_alone_rebuilds_the_sessions(builds):
    customer = builds["built"]["customer"].set_index("model")
    assert not customer.loc["int__web_sessions", "unchanged"]
    assert builds["built"]["base"].set_index("model")["unchanged"].all()  # base reads no such parameter


def test_unwanted_referrals_must_be_lower_case_domains():
    assert P.validate_partial({"unwanted_referrals": []}) == {"unwanted_referrals": []}
    assert P.validate_partial({"unwanted_referrals": ["example-shop.com", "pay.example.co.uk", "localhost"]})
    for bad in (["Example.com"], ["https://example.com"], ["example.com/"], [""], ["-example.com"], ["a..b"], "x.com"):
        with pytest.raises(P.ParamError, match="unwanted_referrals"):
            P.validate_partial({"unwanted_referrals": bad})


def test_the_fixture_with_unwanted_referrals_has_no_self_referral(tmp_path):
    """data/fixtures/README.md, section 4 "With unwanted referrals": #37 -> Email, #40 -> Direct, #35 Direct."""
    eng = build_layers(FIXTURES, tmp_path / "w.duckdb", LAYERS, unwanted_referrals="[example-shop.com]")
    rows = eng.query("SELECT ga_session_id, source, medium, channel_group FROM int__web_sessions")
    eng.con.close()
    self_referrals = rows[rows["source"].str.endswith("example-shop.com") & (rows["channel_group"] == "Referral")]
    assert self_referrals.empty
    by_id = {int(r.ga_session_id): (r.source, r.medium, r.channel_group) for r in rows.itertuples()}
    assert by_id[1709323200] == ("newsletter", "email", "Email")  # 37
    assert by_id[1710867600] == ("(direct)", "(none)", "Direct")  # 40
    assert by_id[1711450800] == ("(direct)", "(none)", "Direct")  # 35
    assert rows["channel_group"].value_counts().to_dict() == {  # README: 16 / 9 / 6 / 6 / 5 / 5
        "Direct": 16, "Organic Search": 9, "Paid Social": 6, "Email": 6, "Referral": 5, "Paid Search": 5}


# --- the source-category seed: Google's list ----------------------------------------------------------------

def seed_rows() -> list[dict]:
    with SEED.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_the_seed_is_googles_whole_list():
    rows = seed_rows()
    assert len(rows) >= 700
    assert list(rows[0]) == ["source", "source_category"]
    sources_ = [r["source"] for r in rows]
    assert all(s and s == s.strip().lower() for s in sources_)  # sessions' sources are lower-cased
    assert len(set(sources_)) == len(sources_)  # one category per source
    assert {r["source_category"] for r in rows} == CATEGORIES
    got = {r["source"]: r["source_category"] for r in rows}
    assert got["alibaba"] == "SOURCE_CATEGORY_SHOPPING"
    assert got["google shopping"] == "SOURCE_CATEGORY_SHOPPING"
    assert got["google"] == "SOURCE_CATEGORY_SEARCH"
    assert got["youtube.com"] == "SOURCE_CATEGORY_VIDEO"
    assert got["facebook"] == "SOURCE_CATEGORY_SOCIAL"
