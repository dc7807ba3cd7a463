"""Attribution in SQL: web sessions, touchpoints in a conversion window, seven models, ROI.

Each tree is tiny and written inline; every expected value is worked out by hand (in the comments) from the
rules stated in c360/sql/customer/mrt__marketing__web_sessions.sql, c360/sql/_macros.sql (Google's GA4 default
channel group) and c360/sql/attribution/*.sql, except the differential test, which checks the SQL per-touch
credits against the pure-Python reference c360.attribution.credit_touchpoints on seeded random inputs.
"""
from __future__ import annotations

import random
from datetime import date, datetime, timezone
from decimal import Decimal

import pandas as pd
import pytest

from c360.attribution import PER_TOUCH_MODELS, credit_touchpoints
from conftest import build_layers, event, write_tree

ALL_MODELS = (*PER_TOUCH_MODELS, "markov", "shapley")


# --------------------------------------------------------------------------- helpers (this module only)
def ts(text: str) -> int:
    """Epoch seconds of a UTC 'YYYY-MM-DD HH:MM[:SS]'."""
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp())


def ga4(pseudo: str, session: int, at: str, name: str = "page_view", manual: tuple | None = None,
        params: dict | None = None, **fields) -> dict:
    """One GA4 event at UTC time `at` (event_date its UTC date). manual: (source, medium[, campaign]) as
    collected_traffic_source.manual_*; params: event_params source/medium/campaign/gclid as strings."""
    if manual is not None:
        src, medium, *campaign = manual
        fields["collected_traffic_source"] = {"manual_source": src, "manual_medium": medium,
                                              "manual_campaign_name": campaign[0] if campaign else None}
    extra = [{"key": k, "value": {"string_value": v}} for k, v in (params or {}).items()]
    return event(at[:10].replace("-", ""), ts(at), name=name, pseudo=pseudo, session=session, params=extra,
                 **fields)


def shards(events: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for e in events:
        out.setdefault(f"events_{e['event_date']}.jsonl", []).append(e)
    return out


def contact(cid: str, external_id: str = "", email: str = "") -> dict:
    return {"contact_id": cid, "email": email, "external_id": external_id, "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z", "_fivetran_deleted": "false"}


def deal(did: str, cid: str, amount: float, stage: str, closed_at: str | None) -> dict:
    """closed_at: 'YYYY-MM-DD HH:MM' UTC, or None for an open deal."""
    return {"deal_id": did, "contact_id": cid, "deal_name": did, "amount": amount, "currency": "EUR",
            "stage": stage, "created_at": "2024-01-15T00:00:00Z",
            "closed_at": closed_at.replace(" ", "T") + ":00Z" if closed_at else "", "_fivetran_deleted": "false"}


def spend_row(day: str, source: str, medium: str, campaign: str, amount: float) -> dict:
    return {"date": day, "source": source, "medium": medium, "campaign": campaign, "spend": amount}


@pytest.fixture(scope="module")
def engines_opened():
    opened = []
    yield opened
    for eng in opened:
        eng.con.close()


@pytest.fixture(scope="module")
def build(tmp_path_factory, engines_opened):
    """build(events, contacts=(), deals=(), spend=None, layers=..., **params) -> engine, in a fresh folder."""
    def _build(events, contacts=(), deals=(), spend=None, layers=("base", "identity", "customer", "attribution"),
               **overrides):
        tmp = tmp_path_factory.mktemp("tree")
        root = write_tree(tmp / "src", shards(events), contacts=list(contacts), deals=list(deals), spend=spend)
        eng = build_layers(root, tmp / "w.duckdb", layers, **overrides)
        engines_opened.append(eng)
        return eng
    return _build


def session(eng, key: str) -> dict:
    got = eng.query("SELECT * FROM mrt__marketing__web_sessions WHERE session_key = @k", {"k": key})
    assert len(got) == 1, (key, got)
    return {k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in got.iloc[0].to_dict().items()}


# =========================================================================== sessions: source precedence
@pytest.fixture(scope="module")
def web(build):
    """Anonymous sessions only (the customer layer builds sessions for every device)."""
    events = [
        # 1.1: manual_* and event_params disagree on the same event
        ga4("1.1", 1, "2024-03-01 10:00", manual=("Newsletter", "EMAIL", "Spring_Promo"),
            params={"source": "google", "medium": "cpc", "campaign": "brand"}),
        # 2.1: a gclid (collected_traffic_source) and no manual source; 2.2: a gclid in event_params
        ga4("2.1", 1, "2024-03-01 10:00", collected_traffic_source={"gclid": "Cj0abc"}),
        ga4("2.2", 1, "2024-03-01 10:00", params={"gclid": "Cj0def"}),
        # 2.3: a gclid together with a manual source: the manual source wins
        ga4("2.3", 1, "2024-03-01 10:00", manual=("bing", "cpc"),
            params={"gclid": "Cj0ghi"}),
        # 3.1: no traffic info; only the user-scoped first acquisition says facebook / paid_social
        ga4("3.1", 1, "2024-03-01 10:00", traffic_source={"source": "facebook", "medium": "paid_social",
                                                           "name": "fb_acquisition"}),
        # 4.1: written out of order: the latest event (10:00:20) first; 10:00:00 carries nothing;
        #      10:00:10 is the earliest event with traffic info
        ga4("4.1", 1, "2024-03-01 10:00:20", manual=("facebook", "cpc", "retarget")),
        ga4("4.1", 1, "2024-03-01 10:00:00"),
        ga4("4.1", 1, "2024-03-01 10:00:10", params={"source": "Bing", "medium": "organic"}),
        # 5.1: a session across midnight, in two daily shards
        ga4("5.1", 1, "2024-03-01 23:59:30"),
        ga4("5.1", 1, "2024-03-02 00:00:30", params={"source": "google", "medium": "organic"}),
    ]
    return build(events, layers=("base", "identity", "customer"))


def source_of(eng, key):
    s = session(eng, key)
    return s["source"], s["medium"], s["campaign"], s["channel_group"]


def test_manual_source_beats_event_params_on_the_same_event(web):
    # source and medium lower-cased; the campaign kept as written
    assert source_of(web, "1.1:1") == ("newsletter", "email", "Spring_Promo", "Email")


def test_a_gclid_without_a_manual_source_means_google_cpc(web):
    assert source_of(web, "2.1:1") == ("google", "cpc", None, "Paid Search")
    assert source_of(web, "2.2:1") == ("google", "cpc", None, "Paid Search")
    assert source_of(web, "2.3:1") == ("bing", "cpc", None, "Paid Search")  # manual first, gclid second


def test_a_session_without_traffic_info_is_direct_and_ignores_the_user_scoped_source(web):
    assert source_of(web, "3.1:1") == ("(direct)", "(none)", None, "Direct")


def test_the_earliest_event_with_traffic_info_wins_over_a_later_one(web):
    assert source_of(web, "4.1:1") == ("bing", "organic", None, "Organic Search")
    s = session(web, "4.1:1")
    assert s["events"] == 3
    assert s["session_start_at"] == pd.Timestamp("2024-03-01T10:00:00Z")


def test_a_session_across_midnight_is_dated_by_its_earliest_event(web):
    s = session(web, "5.1:1")
    assert s["session_date"] == pd.Timestamp("2024-03-01")
    assert s["session_start_at"] == pd.Timestamp("2024-03-01T23:59:30Z")
    assert s["session_end_at"] == pd.Timestamp("2024-03-02T00:00:30Z")
    assert s["events"] == 2
    assert (s["source"], s["medium"]) == ("google", "organic")  # the 00:00:30 event carries it
    assert web.query("SELECT COUNT(*) AS n FROM mrt__marketing__web_sessions WHERE user_pseudo_id = '5.1'")["n"][0] == 1


# =========================================================================== channel group (Google's rules)
CHANNEL_CASES = [
    # (source, medium, campaign) -> Google's GA4 default channel group (support.google.com/analytics/answer/9756891)
    (("google", "cpc", None), "Paid Search"),            # search site + medium ^(.*cp.*|ppc|retargeting|paid.*)$
    (("Google", "CPC", None), "Paid Search"),            # case does not matter
    (("google", "organic", None), "Organic Search"),     # search site
    (("intranet-search", "organic", None), "Organic Search"),  # not a listed site, but medium exactly organic
    (("facebook", "paid_social", None), "Paid Social"),  # social site + medium paid.*
    (("linkedin", "referral", None), "Organic Social"),  # a social site wins before Referral
    (("forum", "social", None), "Organic Social"),       # medium social
    (("newsletter", "email", None), "Email"),
    (("email", "blast", None), "Email"),                 # source email
    (("partner-blog.com", "referral", None), "Referral"),
    (("gdn", "display", None), "Display"),
    (("gdn", "cpm", None), "Display"),                   # Display (cpm) comes before Paid Other (.*cp.*)
    (("partner-network", "cpc", None), "Paid Other"),    # paid medium, source in no category
    (("(direct)", "(not set)", None), "Direct"),
    (("weird-source", "weird-medium", None), "Unassigned"),
    (("google", "cpc", "Q3 Cross-Network Push"), "Cross-network"),  # before Paid Search
]


@pytest.fixture(scope="module")
def channels(build):
    events = [ga4(f"{i}.9", 1, "2024-03-01 10:00", manual=case) for i, (case, _) in enumerate(CHANNEL_CASES)]
    return build(events, layers=("base", "identity", "customer"))


@pytest.mark.parametrize("i", range(len(CHANNEL_CASES)), ids=[f"{c[0]}/{c[1]}->{g}" for c, g in CHANNEL_CASES])
def test_channel_group_follows_google_default_rules(channels, i):
    (_, _, campaign), group = CHANNEL_CASES[i]
    s = session(channels, f"{i}.9:1")
    assert (s["channel_group"], s["campaign"]) == (group, campaign)


# =========================================================================== conversion window
@pytest.fixture(scope="module")
def window(build):
    # C1's device 1.1 (every event carries user_id U1); D1 won 100, closed 2024-03-20 15:00
    sessions = {"s1": "2024-03-09 12:00",   # 11 days before the close: outside a 10-day window
                "s2": "2024-03-10 12:00",   # exactly 10 days before: inside (inclusive)
                "s3": "2024-03-17 23:30",   # exactly 3 days before: inside the 3-day window too
                "s4": "2024-03-20 09:00",   # the close date itself: inside
                "s5": "2024-03-21 09:00"}   # after the close: outside
    events = [ga4("1.1", i + 1, at, user_id="U1") for i, at in enumerate(sessions.values())]
    return build(events, contacts=[contact("C1", "U1")],
                 deals=[deal("D1", "C1", 100, "closedwon", "2024-03-20 15:00")],
                 conversion_window_days=10, sensitivity_windows_days="[3]")


def test_the_conversion_window_is_inclusive_at_both_ends(window):
    got = window.query("SELECT window_days, touch_order, session_key, days_before FROM int__attribution_touchpoints "
                       "WHERE deal_id = 'D1' ORDER BY 1, 2").values.tolist()
    assert got == [
        [3, 1, "1.1:3", 3], [3, 2, "1.1:4", 0],                          # s3, s4
        [10, 1, "1.1:2", 10], [10, 2, "1.1:3", 3], [10, 3, "1.1:4", 0],  # s2, s3, s4 (not s1, not s5)
    ]


# =========================================================================== credits: SQL vs the Python reference
CHOICES = [("google", "cpc"), ("google", "organic"), ("newsletter", "email"), ("facebook", "paid_social"), None]


def random_story(seed: int) -> dict:
    """Customers with a device each (or none), sessions in March 2024, won/lost/open deals; the reference
    touchpoints are derived here from the stated window rule, independently of the SQL."""
    rng = random.Random(seed)
    contacts, deals, events, sessions_of = [], [], [], {}
    for c in range(rng.randint(2, 4)):
        cid, uid, pseudo = f"C{c}", f"U{c}", f"{c + 1}00.1"
        contacts.append(contact(cid, uid))
        used, sessions = set(), []
        for sid in range(1, rng.randint(0, 8) + 1):
            while (slot := (rng.randint(1, 24), rng.randint(0, 86399))) in used:
                pass
            used.add(slot)
            at = datetime(2024, 3, slot[0], tzinfo=timezone.utc).timestamp() + slot[1]
            at_text = datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            events.append(ga4(pseudo, sid, at_text, user_id=uid, manual=rng.choice(CHOICES)))
            sessions.append({"session_key": f"{pseudo}:{sid}", "at": at, "day": date(2024, 3, slot[0])})
        sessions_of[cid] = sessions
        for d in range(rng.randint(1, 3)):
            stage = rng.choice(["closedwon", "closedwon", "closedlost", "qualifiedtobuy"])
            closed = f"2024-03-{rng.randint(5, 28):02d} 18:00" if stage != "qualifiedtobuy" else None
            deals.append(deal(f"D{c}{d}", cid, rng.randint(1, 40) * 25, stage, closed))
    # a customer with no device and a won deal: always unattributed
    contacts.append(contact("CZ"))
    sessions_of["CZ"] = []
    deals.append(deal("DZ", "CZ", 250, "closedwon", "2024-03-15 18:00"))
    if not events:
        events.append(ga4("999.1", 1, "2024-03-01 10:00"))
    return {"contacts": contacts, "deals": deals, "events": events, "sessions_of": sessions_of,
            "window": rng.choice([5, 10, 21]), "sensitivity": [rng.choice([2, 30])],
            "half_life": rng.choice([1.5, 3.5, 7.0])}


def reference_credits(story: dict) -> dict:
    """(window_days, deal_id, touch_order, model) -> (session_key, credit), from credit_touchpoints."""
    out = {}
    for window in {story["window"], *story["sensitivity"]}:
        for d in story["deals"]:
            if d["stage"] != "closedwon":
                continue
            closed = date.fromisoformat(d["closed_at"][:10])
            touches = sorted((s for s in story["sessions_of"][d["contact_id"]]
                              if 0 <= (closed - s["day"]).days <= window),
                             key=lambda s: (s["at"], s["session_key"]))
            if not touches:
                for model in PER_TOUCH_MODELS:
                    out[(window, d["deal_id"], 0, model)] = (None, 1.0)
                continue
            frame = pd.DataFrame({"deal_id": d["deal_id"], "touch_order": range(1, len(touches) + 1),
                                  "days_before": [(closed - s["day"]).days for s in touches]})
            for model in PER_TOUCH_MODELS:
                credited = credit_touchpoints(frame, model, story["half_life"])
                for t, credit in zip(touches, credited.itertuples()):
                    out[(window, d["deal_id"], credit.touch_order, model)] = (t["session_key"], credit.credit)
    return out


@pytest.fixture(scope="module", params=[2, 3, 8])  # seeds whose deals have 1 to 8 touches
def randomized(request, build):
    story = random_story(request.param)
    eng = build(story["events"], story["contacts"], story["deals"],
                conversion_window_days=story["window"],
                sensitivity_windows_days=f"[{story['sensitivity'][0]}]",
                half_life_days=story["half_life"])
    return story, eng


def test_sql_per_touch_credits_equal_the_python_reference(randomized):
    story, eng = randomized
    got = eng.query("SELECT window_days, deal_id, touch_order, model, session_key, credit "
                    "FROM mrt__marketing__attributed_touchpoints")
    sql = {(int(r.window_days), r.deal_id, int(r.touch_order), r.model):
           (None if pd.isna(r.session_key) else r.session_key, r.credit) for r in got.itertuples()}
    expected = reference_credits(story)
    assert sql.keys() == expected.keys()
    for key, (session_key, credit) in expected.items():
        assert sql[key][0] == session_key, key
        assert sql[key][1] == pytest.approx(credit, abs=1e-9), key


def test_the_credits_of_each_deal_add_up_to_one(randomized):
    _, eng = randomized
    sums = eng.query("SELECT window_days, deal_id, model, SUM(credit) AS total, "
                     "SUM(attributed_revenue) AS revenue, ANY_VALUE(deal_amount) AS amount "
                     "FROM mrt__marketing__attributed_touchpoints GROUP BY 1, 2, 3")
    assert len(sums) > 0
    assert sums["total"].to_numpy() == pytest.approx(1.0, abs=1e-9)
    assert sums["revenue"].to_numpy() == pytest.approx(sums["amount"].to_numpy())


def test_every_model_attributes_exactly_the_won_revenue_in_every_window(randomized):
    story, eng = randomized
    won = [d for d in story["deals"] if d["stage"] == "closedwon"]
    revenue = sum(d["amount"] for d in won)
    got = eng.query("SELECT window_days, model, SUM(conversions) AS conversions, "
                    "SUM(conversion_value) AS value FROM mrt__marketing__channel_attribution GROUP BY 1, 2")
    totals = {(int(r.window_days), r.model): (r.conversions, r.value) for r in got.itertuples()}
    windows = {story["window"], *story["sensitivity"]}
    assert set(totals) == {(w, m) for w in windows for m in ALL_MODELS}
    for key, (conversions, value) in totals.items():
        assert conversions == pytest.approx(len(won)), key
        assert value == pytest.approx(revenue), key


# =========================================================================== journeys, paths, unattributed
@pytest.fixture(scope="module")
def journeys(build):
    events = [
        # C1: Email on 03-01, Direct on 03-05 (the device logs in as U1 in both sessions)
        ga4("1.1", 1, "2024-03-01 10:00", user_id="U1", manual=("newsletter", "email")),
        ga4("1.1", 2, "2024-03-05 10:00", user_id="U1"),
        # C2: Paid Search on 03-02
        ga4("2.1", 1, "2024-03-02 10:00", user_id="U2", manual=("google", "cpc")),
    ]
    deals = [
        deal("D1", "C1", 1000, "closedwon", "2024-03-06 12:00"),   # Email > Direct, converts
        deal("D2", "C1", 400, "closedlost", "2024-03-07 12:00"),   # Email > Direct, lost
        deal("D3", "C2", 300, "closedlost", "2024-03-03 12:00"),   # Paid Search, lost
        deal("D4", "C3", 250, "closedwon", "2024-03-10 12:00"),    # C3 has no device: unattributed
        deal("D5", "C3", 90, "closedlost", "2024-03-10 12:00"),    # lost without touchpoints: no path
        deal("D6", "C1", 70, "qualifiedtobuy", None),              # open: not a journey
    ]
    return build(events, [contact("C1", "U1"), contact("C2", "U2"), contact("C3")], deals,
                 conversion_window_days=30, sensitivity_windows_days="[]")


def test_lost_deals_become_non_converting_journeys(journeys):
    got = journeys.query("SELECT window_days, path, conversions, conversion_value, non_conversions "
                         "FROM int__attribution_paths ORDER BY path").values.tolist()
    assert got == [[30, "Email > Direct", 1, 1000, 1],  # D1 won, D2 lost
                   [30, "Paid Search", 0, 0, 1]]        # D3 lost


def test_a_won_deal_without_touchpoints_is_unattributed_with_full_credit_in_every_model(journeys):
    got = journeys.query("SELECT model, touch_order, channel, credit, attributed_revenue "
                         "FROM mrt__marketing__attributed_touchpoints WHERE deal_id = 'D4' ORDER BY model")
    assert got.values.tolist() == [[m, 0, "(unattributed)", 1.0, 250.0] for m in sorted(PER_TOUCH_MODELS)]
    # lost and open deals get no credit rows
    deals = set(journeys.query("SELECT DISTINCT deal_id FROM mrt__marketing__attributed_touchpoints")["deal_id"])
    assert deals == {"D1", "D4"}


def test_markov_and_shapley_use_the_lost_journeys(journeys):
    got = journeys.query("SELECT model, channel, conversion_value FROM mrt__marketing__channel_attribution "
                         "WHERE model IN ('markov', 'shapley') ORDER BY 1, 2")
    # Markov: start->Email 2, Email->Direct 2, Direct->conv 1, Direct->null 1, start->Paid Search 1,
    #   Paid Search->null 1; P(conv) = 2/3 * 1/2 = 1/3. Removing Email or Direct gives 0 (removal 1 each),
    #   removing Paid Search leaves 1/3 (removal 0): 1000 split 500 / 500.
    # Shapley: set {Direct, Email} has 2 journeys and 1000 value: 500 per journey, /2 = 250 each; {Paid Search}
    #   converts nothing: 0. Scaled to 1000: 500 / 500.
    # (unattributed): D4's 250 in both.
    expected = {"(unattributed)": 250, "Direct": 500, "Email": 500, "Paid Search": 0}
    for model in ("markov", "shapley"):
        rows = got[got.model == model]
        assert dict(zip(rows.channel, rows.conversion_value)) == pytest.approx(expected), model


# =========================================================================== channel dimension and ROI
ROI_EVENTS = [
    ga4("1.1", 1, "2024-03-05 10:00", user_id="U1", manual=("google", "cpc", "brand")),
    ga4("2.1", 1, "2024-03-07 10:00", user_id="U2", manual=("google", "cpc", "brand")),
    ga4("3.1", 1, "2024-03-04 10:00", user_id="U3", manual=("newsletter", "email")),  # no campaign
]
ROI_DEALS = [deal("D1", "C1", 1000, "closedwon", "2024-03-06 12:00"),
             deal("D2", "C2", 500, "closedwon", "2024-03-08 12:00"),
             deal("D3", "C3", 200, "closedwon", "2024-03-05 12:00")]
ROI_SPEND = [spend_row("2024-03-05", "google", "cpc", "brand", 120),
             spend_row("2024-03-06", "Google", "CPC", "brand", 80),        # normalized like sessions
             spend_row("2024-03-05", "facebook", "cpc", "prospecting", 300),  # spend, no conversion
             spend_row("2023-12-01", "google", "cpc", "brand", 999)]       # before the GA4 period: left out


@pytest.fixture(scope="module")
def roi(build):
    """dimension -> engine, each built from the same tree (GA4 period 03-04 .. 03-07)."""
    cache = {}

    def _get(dimension):
        if dimension not in cache:
            cache[dimension] = build(ROI_EVENTS, [contact(f"C{i}", f"U{i}") for i in (1, 2, 3)], ROI_DEALS,
                                     spend=ROI_SPEND, attribution_channel=dimension,
                                     conversion_window_days=30, sensitivity_windows_days="[]")
        return cache[dimension]
    return _get


@pytest.mark.parametrize("dimension, session_channels, spend_channels", [
    ("channel_group", {"Paid Search", "Email"}, {"Paid Search": 200, "Paid Social": 300}),
    ("source_medium", {"google / cpc", "newsletter / email"}, {"google / cpc": 200, "facebook / cpc": 300}),
    ("campaign", {"brand", "(not set)"}, {"brand": 200, "prospecting": 300}),
])
def test_the_channel_dimension_parameter_sets_the_channel_labels(roi, dimension, session_channels, spend_channels):
    eng = roi(dimension)
    touch = set(eng.query("SELECT DISTINCT channel FROM int__attribution_touchpoints")["channel"])
    assert touch == session_channels
    spend = eng.query("SELECT channel, spend FROM mrt__marketing__channel_roi WHERE model = 'linear' AND spend > 0")
    assert dict(zip(spend.channel, spend.spend)) == spend_channels


# (brand conversions, brand revenue, (not set) conversions, (not set) revenue) per model. Paths: "brand" 2 won
# deals 1500 (D1 1000, D2 500), "(not set)" 1 won deal 200 (D3); one touch each, no lost journeys.
#   per-touch models: every journey's one touch gets it all -> 2, 1500, 1, 200.
#   markov: P(conv) = 1; without brand only start->(not set) (1/3) converts: removal 2/3; without (not set):
#     removal 1/3 -> shares 2/3, 1/3 of 3 conversions and of 1700: 2, 3400/3, 1, 1700/3.
#   shapley: sets {brand} CR 1, value per journey 750; {(not set)} CR 1, 200 -> conversions 1.5 / 1.5,
#     value 1700 * 750/950 and 1700 * 200/950.
# Revenue is split in cents by largest remainder (c360.money.allocate): markov 113333.33 / 56666.67 cents ->
#   floors 113333 + 56666, the cent left to the larger remainder (.67): 1133.33 / 566.67; shapley
#   134210.53 / 35789.47 cents -> floors 134210 + 35789, the cent left to the larger remainder (.53): 1342.11 / 357.89.
ROI_BY_MODEL = {**{m: (2, Decimal(1500), 1, Decimal(200)) for m in PER_TOUCH_MODELS},
                "markov": (2, Decimal("1133.33"), 1, Decimal("566.67")),
                "shapley": (1.5, Decimal("1342.11"), 1.5, Decimal("357.89"))}


@pytest.mark.parametrize("model", ALL_MODELS)
def test_roi_per_campaign_by_hand(roi, model):
    got = roi("campaign").query("SELECT * FROM mrt__marketing__channel_roi WHERE model = @m", {"m": model})
    rows = got.set_index("channel")
    assert sorted(rows.index) == ["(not set)", "brand", "prospecting"]
    brand_conv, brand_rev, not_set_conv, not_set_rev = ROI_BY_MODEL[model]
    brand, prospecting, not_set = rows.loc["brand"], rows.loc["prospecting"], rows.loc["(not set)"]
    # brand: spend 120 + 80 = 200 (the 2023 row is outside the GA4 period 03-04 .. 03-07)
    assert brand.attributed_conversions == pytest.approx(brand_conv)
    assert (brand.attributed_revenue, brand.spend) == (brand_rev, 200)  # decimals: exact
    assert brand.roas == pytest.approx(float(brand_rev / 200))
    assert brand.cost_per_won_deal == pytest.approx(200 / brand_conv)
    # prospecting: spend and no conversion -> zero revenue, roas 0, no cost per won deal
    assert (prospecting.attributed_conversions, prospecting.attributed_revenue, prospecting.spend) == (0, 0, 300)
    assert prospecting.roas == 0
    assert pd.isna(prospecting.cost_per_won_deal)
    # (not set): D3's session has no campaign and nothing was spent on it
    assert not_set.attributed_conversions == pytest.approx(not_set_conv)
    assert (not_set.attributed_revenue, not_set.spend) == (not_set_rev, 0)
    assert pd.isna(not_set.roas) and pd.isna(not_set.cost_per_won_deal)
    assert rows.attributed_revenue.sum() == 1700  # all won revenue, exactly: 1000 + 500 + 200


# =========================================================================== runs without won deals
def test_with_no_won_deal_every_model_lists_the_spend_channels_with_zero_revenue(build):
    # C1's only deal is lost; 50 spent on google / cpc (Paid Search) on 03-05, inside the GA4 period
    eng = build([ga4("1.1", 1, "2024-03-05 10:00", user_id="U1", manual=("google", "cpc"))], [contact("C1", "U1")],
                [deal("D1", "C1", 400, "closedlost", "2024-03-06 12:00")],
                spend=[spend_row("2024-03-05", "google", "cpc", "brand", 50)], sensitivity_windows_days="[]")
    got = eng.query("SELECT * FROM mrt__marketing__channel_roi ORDER BY model")
    assert got.model.tolist() == sorted(ALL_MODELS)
    assert set(got.channel) == {"Paid Search"}
    assert (got.attributed_conversions == 0).all() and (got.attributed_revenue == 0).all()
    assert (got.spend == 50).all() and (got.roas == 0).all() and got.cost_per_won_deal.isna().all()


def test_a_run_without_closed_deals_builds_the_attribution_layer(build):
    # one open deal only: no journey, so every attribution table is empty (and spend has nothing to match)
    eng = build([ga4("1.1", 1, "2024-03-05 10:00", user_id="U1")], [contact("C1", "U1")],
                [deal("D1", "C1", 400, "qualifiedtobuy", None)], sensitivity_windows_days="[]")
    assert eng.query("SELECT COUNT(*) AS n FROM mrt__marketing__channel_attribution")["n"][0] == 0


def test_untidy_utm_values_still_match_their_spend(build):
    # a tag typed ' Google ', 'CPC ', ' brand ' and spend written 'google', 'cpc', 'brand': the same campaign
    eng = build([ga4("1.1", 1, "2024-03-05 10:00", user_id="U1", manual=(" Google ", "CPC ", " brand "))],
                [contact("C1", "U1")], [deal("D1", "C1", 400, "closedwon", "2024-03-06 12:00")],
                spend=[spend_row("2024-03-05", "google", "cpc", "brand", 50)], sensitivity_windows_days="[]",
                attribution_channel="campaign")
    row = eng.query("SELECT * FROM mrt__marketing__channel_roi WHERE model = 'linear'").set_index("channel")
    assert list(row.index) == ["brand"]
    assert (row.loc["brand", "attributed_revenue"], row.loc["brand", "spend"]) == (400, 50)  # roas 8
