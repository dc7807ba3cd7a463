"""The Customer 360: one wide row per customer, built on a tiny inline story.

The story (one build, shared by every test of this module):

  Ann   C1 (" Ann@Acme.com", created 01-01, updated 01-05, lifecycle lead, company "Acme Inc", no job title,
           external_id U1) and C2 ("ann@acme.com", created 02-01, updated 03-01, lifecycle customer, company
           "Acme Corporation", job title "VP Engineering") are duplicates by email: one customer, C1 (earliest
           created). Product user U1 (ann.lee@gmail.com, "Acme Product Co", plan team). Devices: 1001.1 logs
           in as U1; 1002.1 submitted a form as ann@acme.com.
  Bob   C3 (bob@gmail.com, no company, external_id U3); product user U3 ("Bob Consulting", plan pro);
           device 3003.1 logs in as U3.
  Carol C4 (carol@freelancer.com: 'ambiguous' in the seed).
  Dan   C5 (dan@newco.io: a domain not in the seed).
  Pat   product-only user P9 (pat@Startup.dev): a customer with a surrogate md5 key.
  9009.1 an anonymous device: no customer.

Every expected value below is worked out by hand from the rules stated in c360/sql/customer/*.sql.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pandas as pd
import pytest

from conftest import build_layers as conftest_build_layers, event, write_tree


# --------------------------------------------------------------------------- helpers (this module only)
def ts(text: str) -> int:
    """Epoch seconds of a UTC 'YYYY-MM-DD HH:MM[:SS]'."""
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp())


def ga4(pseudo: str, session: int, at: str, name: str = "page_view", **fields) -> dict:
    """One GA4 event at UTC time `at`, its event_date the UTC date of `at`."""
    return event(at[:10].replace("-", ""), ts(at), name=name, pseudo=pseudo, session=session, **fields)


def shards(events: list[dict]) -> dict[str, list[dict]]:
    """Events grouped into daily shard files by their event_date."""
    out: dict[str, list[dict]] = {}
    for e in events:
        out.setdefault(f"events_{e['event_date']}.jsonl", []).append(e)
    return out


def contact(cid: str, email: str = "", created: str = "2024-01-01", updated: str | None = None, **fields) -> dict:
    return {"contact_id": cid, "email": email, "created_at": f"{created}T00:00:00Z",
            "updated_at": f"{updated or created}T00:00:00Z", "_fivetran_deleted": "false", **fields}


def deal(did: str, cid: str, amount: float, stage: str, closed: str | None = None, deleted: bool = False) -> dict:
    return {"deal_id": did, "contact_id": cid, "deal_name": did, "amount": amount, "currency": "EUR",
            "stage": stage, "created_at": "2024-02-01T00:00:00Z", "closed_at": f"{closed}T12:00:00Z" if closed else "",
            "_fivetran_deleted": str(deleted).lower()}


def product_user(uid: str, email: str, company: str = "", plan: str = "free",
                 last_login: str = "2024-03-01") -> dict:
    return {"user_id": uid, "email": email, "company_name": company, "plan": plan,
            "signed_up_at": "2024-01-10T00:00:00Z", "last_login_at": f"{last_login}T00:00:00Z"}


def build_layers(root, warehouse, layers=("base", "identity", "customer"), **overrides):
    """The layers this file tests (see conftest.build_layers)."""
    return conftest_build_layers(root, warehouse, layers, **overrides)


def md5_key(source_system: str, source_id: str) -> str:
    return hashlib.md5(f"{source_system}-{source_id}".encode()).hexdigest()


PAT = md5_key("product_user", "P9")


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("c360")
    contacts = [
        contact("C1", " Ann@Acme.com", created="2024-01-01", updated="2024-01-05", first_name="Ann",
                last_name="Lee", company_name="Acme Inc", lifecycle_stage="lead", external_id="U1"),
        contact("C2", "ann@acme.com", created="2024-02-01", updated="2024-03-01", first_name="Annie",
                last_name="Lee-Smith", company_name="Acme Corporation", job_title="VP Engineering",
                lifecycle_stage="customer"),
        contact("C3", "bob@gmail.com", created="2024-01-02", first_name="Bob", lifecycle_stage="lead",
                external_id="U3"),
        contact("C4", "carol@freelancer.com", created="2024-01-03", company_name="Carol Design"),
        contact("C5", "dan@newco.io", created="2024-01-04", company_name="NewCo"),
    ]
    deals = [
        deal("D1", "C1", 1000, "closedwon", "2024-03-10"),
        deal("D2", "C1", 200, "closedlost", "2024-03-11"),
        deal("D3", "C2", 500, "closedwon", "2024-03-12"),
        deal("D4", "C2", 300, "presentationscheduled"),
        deal("D5", "C2", 50, "appointmentscheduled"),
        deal("D6", "C1", 999, "closedwon", "2024-03-13", deleted=True),  # soft-deleted: dropped in base
        deal("D7", "C5", 700, "closedwon", "2024-03-14"),
        deal("D8", "C5", 80, "closedlost", "2024-03-15"),
    ]
    users = [
        product_user("U1", "ann.lee@gmail.com", "Acme Product Co", "team", last_login="2024-03-05"),
        product_user("U3", "bob@gmail.com", "Bob Consulting", "pro"),
        product_user("P9", "pat@Startup.dev", "Startup Ltd", "free"),
    ]
    forms = [{"submission_id": "S1", "form_name": "demo", "email": "ann@acme.com", "ga_client_id": "GA1.1.1002.1",
              "submitted_at": "2024-03-01T09:05:00Z"}]
    newsletter = {"manual_source": "Newsletter", "manual_medium": "email", "manual_campaign_name": "march"}
    organic = [{"key": "source", "value": {"string_value": "google"}},
               {"key": "medium", "value": {"string_value": "organic"}}]
    events = [
        # Ann: device 1002.1 (the form) at 09:00 is her first session; device 1001.1 on 03-01 and 03-03
        ga4("1002.1", 5001, "2024-03-01 09:00", collected_traffic_source=newsletter),
        ga4("1001.1", 6001, "2024-03-01 10:00", name="login", user_id="U1"),
        ga4("1001.1", 6001, "2024-03-01 10:05"),
        ga4("1001.1", 6002, "2024-03-03 10:00", params=organic),
        # Bob: one device, sessions on 03-02 and 03-04, no traffic info
        ga4("3003.1", 7001, "2024-03-02 08:00", name="login", user_id="U3"),
        ga4("3003.1", 7002, "2024-03-04 08:00"),
        # an anonymous visitor
        ga4("9009.1", 8001, "2024-03-01 07:00", params=organic),
    ]
    root = write_tree(tmp / "src", shards(events), contacts=contacts, deals=deals, forms=forms, users=users)
    engine = build_layers(root, tmp / "w.duckdb")
    yield engine
    engine.con.close()


def row(eng, customer_id: str) -> dict:
    got = eng.query("SELECT * FROM mrt__core__customer_360 WHERE customer_id = @c", {"c": customer_id})
    assert len(got) == 1, got
    return {k: (None if v is None or (not isinstance(v, str) and pd.isna(v)) else v)
            for k, v in got.iloc[0].to_dict().items()}


# --------------------------------------------------------------------------- grain
def test_one_row_per_customer_with_a_unique_non_null_customer_id(eng):
    c360 = eng.query("SELECT customer_id FROM mrt__core__customer_360")
    assert c360["customer_id"].notna().all()
    assert c360["customer_id"].is_unique
    # C2 merged into C1; the product-only user P9 gets its surrogate key; the anonymous device is no customer
    assert set(c360["customer_id"]) == {"C1", "C3", "C4", "C5", PAT}


def test_every_customer_is_reachable_from_an_identifier_of_the_identity_graph(eng):
    bridged = eng.query("SELECT customer_id, node FROM int__identity_device_bridged")
    c360 = eng.query("SELECT customer_id FROM mrt__core__customer_360")
    assert set(c360["customer_id"]) == set(bridged["customer_id"])
    nodes = bridged.groupby("customer_id")["node"].apply(set).to_dict()
    assert {"crm_contact_id:C1", "crm_contact_id:C2", "user_pseudo_id:1001.1", "user_pseudo_id:1002.1"} <= nodes["C1"]
    assert "user_id:P9" in nodes[PAT]


# --------------------------------------------------------------------------- deals
def test_deal_totals_add_up_over_the_merged_duplicate_contacts(eng):
    ann = row(eng, "C1")
    # C1: D1 won 1000, D2 lost 200 (D6 soft-deleted); C2: D3 won 500, D4 open 300, D5 open 50
    assert (ann["deals"], ann["deals_won"], ann["deals_lost"], ann["deals_open"]) == (5, 2, 1, 2)
    assert ann["total_won_value"] == 1500  # 1000 + 500
    assert ann["open_pipeline_value"] == 350  # 300 + 50
    assert ann["latest_deal_closed_at"] == pd.Timestamp("2024-03-12T12:00:00Z")  # D3, the latest won/lost
    dan = row(eng, "C5")
    assert (dan["deals"], dan["deals_won"], dan["deals_lost"], dan["deals_open"]) == (2, 1, 1, 0)
    assert (dan["total_won_value"], dan["open_pipeline_value"]) == (700, 0)
    for customer in ("C3", "C4", PAT):  # no deals: zeros, not NULL
        r = row(eng, customer)
        assert (r["deals"], r["deals_won"], r["total_won_value"], r["open_pipeline_value"]) == (0, 0, 0, 0)


def test_deal_totals_reconcile_with_base_deals(eng):
    base = eng.query("SELECT deal_status, amount FROM base__crm__deals")
    c360 = eng.query("SELECT SUM(deals) AS deals, SUM(deals_won) AS won, SUM(deals_lost) AS lost, "
                     "SUM(deals_open) AS open, SUM(total_won_value) AS won_value, "
                     "SUM(open_pipeline_value) AS pipeline FROM mrt__core__customer_360").iloc[0]
    # 7 live deals (D6 deleted): won D1 D3 D7 = 2200, lost D2 D8, open D4 D5 = 350
    assert len(base) == 7
    assert (c360["deals"], c360["won"], c360["lost"], c360["open"]) == (7, 3, 2, 2)
    assert c360["won_value"] == base.loc[base.deal_status == "won", "amount"].sum() == 2200
    assert c360["pipeline"] == base.loc[base.deal_status == "open", "amount"].sum() == 350


# --------------------------------------------------------------------------- survivorship
def test_crm_email_and_company_win_over_the_product(eng):
    ann = row(eng, "C1")
    # product user U1 says ann.lee@gmail.com / Acme Product Co; the survivor C1 says ann@acme.com / Acme Inc
    assert ann["customer__email"] == "ann@acme.com"  # normalized: trimmed, lower-cased
    assert ann["customer__company_name"] == "Acme Inc"  # the survivor C1 before its duplicate C2
    assert ann["product__plan"] == "team"
    assert ann["product_user_ids"] == "U1"


def test_the_product_fills_a_company_missing_in_the_crm(eng):
    bob = row(eng, "C3")
    assert bob["customer__company_name"] == "Bob Consulting"
    assert bob["product__plan"] == "pro"
    pat = row(eng, PAT)  # no CRM at all: everything the product knows
    assert (pat["customer__email"], pat["customer__company_name"], pat["product__plan"]) == \
        ("pat@startup.dev", "Startup Ltd", "free")
    assert pat["source_contact_ids"] is None and pat["crm_contacts"] == 0


def test_duplicate_contacts_merge_into_one_row_listing_both(eng):
    ann = row(eng, "C1")
    assert ann["source_contact_ids"] == "C1,C2"
    assert ann["crm_contacts"] == 2
    assert ann["crm_created_at"] == pd.Timestamp("2024-01-01T00:00:00Z")
    assert eng.query("SELECT COUNT(*) AS n FROM mrt__core__customer_360 WHERE customer_id = 'C2'")["n"].iloc[0] == 0


def test_lifecycle_stage_and_name_come_from_the_most_recently_updated_contact(eng):
    ann = row(eng, "C1")
    # C2 updated 03-01 is more recent than the survivor C1 (01-05)
    assert ann["customer__lifecycle_stage"] == "customer"
    assert (ann["customer__first_name"], ann["customer__last_name"]) == ("Annie", "Lee-Smith")


def test_job_title_comes_from_the_crm_only(eng):
    # C1 has none, so its duplicate C2's title is used; Bob has none in the CRM and the product has no title
    assert row(eng, "C1")["customer__job_title"] == "VP Engineering"
    assert row(eng, "C3")["customer__job_title"] is None
    assert row(eng, PAT)["customer__job_title"] is None


# --------------------------------------------------------------------------- email classification
@pytest.mark.parametrize("customer, domain, kind, personal, company_domain", [
    ("C3", "gmail.com", "personal", True, None),
    ("C4", "freelancer.com", "ambiguous", None, None),   # kept ambiguous, never guessed
    ("C5", "newco.io", "corporate", False, "newco.io"),  # not in the seed: corporate
    ("C1", "acme.com", "corporate", False, "acme.com"),
    (PAT, "startup.dev", "corporate", False, "startup.dev"),
])
def test_email_domain_classification(eng, customer, domain, kind, personal, company_domain):
    r = row(eng, customer)
    assert (r["email_domain"], r["email_domain_type"], r["is_personal_email"], r["company_domain"]) == \
        (domain, kind, personal, company_domain)


# --------------------------------------------------------------------------- web summary
def test_web_summary_covers_every_device_of_the_customer(eng):
    ann = row(eng, "C1")
    # sessions 1002.1:5001 (03-01 09:00), 1001.1:6001 (03-01 10:00), 1001.1:6002 (03-03): 3 sessions on
    # 2 devices and 2 distinct days; the first is the newsletter session of the form device
    assert (ann["total_sessions"], ann["devices"], ann["days_active"]) == (3, 2, 2)
    assert ann["total_page_views"] == 3  # 5001: 1, 6001: 1 (plus the login), 6002: 1
    assert ann["first_seen_at"] == pd.Timestamp("2024-03-01T09:00:00Z")
    assert ann["last_seen_at"] == pd.Timestamp("2024-03-03T10:00:00Z")
    assert (ann["first_touch_source"], ann["first_touch_medium"], ann["first_touch_channel_group"]) == \
        ("newsletter", "email", "Email")
    bob = row(eng, "C3")
    assert (bob["total_sessions"], bob["devices"], bob["days_active"]) == (2, 1, 2)
    assert (bob["first_touch_source"], bob["first_touch_medium"], bob["first_touch_channel_group"]) == \
        ("(direct)", "(none)", "Direct")
    carol = row(eng, "C4")  # no device: zeros and no first touch
    assert (carol["total_sessions"], carol["devices"], carol["days_active"]) == (0, 0, 0)
    assert carol["first_touch_channel_group"] is None


def test_an_anonymous_device_is_in_no_customer_summary(eng):
    sessions = eng.query(
        "SELECT session_key, COALESCE(customer_id, '(anonymous)') FROM mrt__marketing__web_sessions ORDER BY 1")
    assert dict(sessions.values.tolist()) == {
        "1001.1:6001": "C1", "1001.1:6002": "C1", "1002.1:5001": "C1",
        "3003.1:7001": "C3", "3003.1:7002": "C3", "9009.1:8001": "(anonymous)"}
    total = eng.query("SELECT SUM(total_sessions) AS n FROM mrt__core__customer_360")["n"].iloc[0]
    assert total == 5  # the six sessions minus the anonymous one


# --------------------------------------------------------------------------- ties (a story of its own)
def page(url: str) -> list[dict]:
    return [{"key": "page_location", "value": {"string_value": url}}]


@pytest.fixture(scope="module")
def ties(tmp_path_factory):
    """Rows that tie on time: two page_views in one second; two devices of one customer (product user U5)
    whose sessions start in the same second."""
    tmp = tmp_path_factory.mktemp("ties")
    organic = [{"key": "source", "value": {"string_value": "google"}},
               {"key": "medium", "value": {"string_value": "organic"}}]
    newsletter = {"manual_source": "Newsletter", "manual_medium": "email", "manual_campaign_name": "march"}
    events = [
        # 4004.1: a session_start before the page_views (not a page_view: no landing page), then two page_views
        # in the same second, then a later one
        ga4("4004.1", 100, "2024-03-01 09:59", name="session_start", params=page("https://x.io/start")),
        ga4("4004.1", 100, "2024-03-01 10:00", params=page("https://x.io/b")),
        ga4("4004.1", 100, "2024-03-01 10:00", params=page("https://x.io/a")),
        ga4("4004.1", 100, "2024-03-01 10:01", params=page("https://x.io/0")),
        # 4004.1: a session without a page_view has no landing page
        ga4("4004.1", 101, "2024-03-02 10:00", name="scroll"),
        # U5 on two devices, both sessions starting at 08:00: the first by session_key is 5005.1:200
        ga4("5005.2", 200, "2024-03-03 08:00", name="login", user_id="U5", collected_traffic_source=newsletter),
        ga4("5005.1", 200, "2024-03-03 08:00", name="login", user_id="U5", params=organic),
    ]
    root = write_tree(tmp / "src", shards(events), users=[product_user("U5", "eve@example.org")])
    engine = build_layers(root, tmp / "w.duckdb")
    yield engine
    engine.con.close()


def test_the_landing_page_is_the_first_page_view_by_time_then_url(ties):
    got = ties.query("SELECT session_key, landing_page FROM int__web_sessions ORDER BY session_key")
    landing = dict(zip(got["session_key"], got["landing_page"]))
    assert landing["4004.1:100"] == "https://x.io/a"
    assert pd.isna(landing["4004.1:101"])


def test_first_touch_of_sessions_starting_together_is_the_first_by_session_key(ties):
    eve = row(ties, md5_key("product_user", "U5"))
    assert eve["total_sessions"] == 2 and eve["devices"] == 2
    assert (eve["first_touch_source"], eve["first_touch_medium"], eve["first_touch_channel_group"]) == \
        ("google", "organic", "Organic Search")
