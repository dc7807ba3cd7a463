"""CRM connectors (c360.sources.connectors): the Fivetran HubSpot tables give the same customers, device links
and attributed deals as the contract layout on the same people; the multi-contact and merge rules; bad input
named by connector, table and column, before any load.

The comparison runs on the fixture story written as HubSpot tables (data/fixtures/hubspot/, built by
data/fixtures/build_hubspot.py from crm/*.csv, not by the connector), and on generated people whose contract CRM
is converted to HubSpot tables here by a separate, simple rewrite (`to_hubspot`)."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd
import pytest

from c360 import models, params as P, sources
from c360 import warehouse as engines
from c360.dag import datatests
from c360.paths import PROJ_ROOT
from c360.sources import connectors
from c360.sources.connectors import ConnectorError, connector
from conftest import event, write_csv

FIXTURES = PROJ_ROOT / "data" / "fixtures"


def run_all(root: Path, warehouse: Path, **overrides) -> engines.DuckDBEngine:
    """Every layer on `root`; every error-level data test (and the rows balance of the base layer) must pass."""
    params = P.load(overrides=[f"source_root={root}", f"warehouse={warehouse}",
                               *(f"{k}={v}" for k, v in overrides.items())])
    eng = engines.connect(params)
    loaded = sources.load_sources(eng, root, params["on_bad_rows"], params=params)
    for layer in models.LAYERS:
        models.build(eng, layer, params)
        datatests.run(eng, layer, rows_read=loaded.rows_read() if layer == "base" else None)
    return eng


def rows(eng, sql: str) -> set[tuple]:
    return {tuple(None if pd.isna(v) else v for v in r) for r in eng.query(sql).itertuples(index=False)}


CUSTOMERS = "SELECT customer_id, customer_source FROM int__identity_customers"
DEVICES = "SELECT user_pseudo_id, customer_id FROM int__identity_resolved"
# every won deal's credit per model and channel, as cents (the attributed revenue is NUMERIC)
CREDITS = ("SELECT window_days, deal_id, model, channel, CAST(SUM(attributed_revenue) * 100 AS INT64) AS cents "
           "FROM mrt__marketing__attributed_touchpoints GROUP BY 1, 2, 3, 4")
CHANNELS = ("SELECT window_days, model, channel, CAST(conversion_value * 100 AS INT64) AS cents "
            "FROM mrt__marketing__channel_attribution")
DEALS = "SELECT deal_id, deal_status, CAST(amount * 100 AS INT64) AS cents FROM base__crm__deals"


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """The fixture story twice: the contract's crm/*.csv and the same CRM as Fivetran HubSpot tables."""
    folder = tmp_path_factory.mktemp("story")
    contract = run_all(FIXTURES, folder / "contract.duckdb")
    hubspot = run_all(FIXTURES, folder / "hubspot.duckdb", crm_connector="fivetran_hubspot")
    yield contract, hubspot
    contract.close()
    hubspot.close()


def test_the_hubspot_story_resolves_the_same_customers_and_devices(story):
    contract, hubspot = story
    assert rows(hubspot, CUSTOMERS) == rows(contract, CUSTOMERS)
    assert rows(hubspot, DEVICES) == rows(contract, DEVICES)
    # the story's numbers (data/fixtures/README.md): Olivia's O1 stays unlinked with canonicalization off
    assert ("1015000001.1711306800", "1016") not in rows(hubspot, DEVICES)


def test_the_hubspot_story_credits_the_same_won_deals(story):
    contract, hubspot = story
    assert rows(hubspot, DEALS) == rows(contract, DEALS)
    assert rows(hubspot, CREDITS) == rows(contract, CREDITS)
    assert rows(hubspot, CHANNELS) == rows(contract, CHANNELS)
    agg = "SELECT customer_id, deals, deals_won, CAST(total_won_value * 100 AS INT64) FROM int__deal_aggregates"
    assert rows(hubspot, agg) == rows(contract, agg)


def test_what_only_hubspot_adds_is_the_merge_and_the_earlier_user_id(story):
    """The expected differences, and only these: contact 1017 (merged into 1016, deleted) is one more contact
    row, dropped as deleted; the merge links its id to Olivia (so her deal 5012, opened on 1017, is still hers);
    Grace's earlier product user id G-7 is one more identifier of her customer; the three junk forms
    (test@example.com twice, noreply@globex.com) are on no HubSpot contact, so their blocked edges are absent."""
    contract, hubspot = story
    assert hubspot.query("SELECT COUNT(*) AS n FROM src__crm__contacts").n[0] == \
        contract.query("SELECT COUNT(*) AS n FROM src__crm__contacts").n[0] + 1
    assert rows(hubspot, "SELECT edge_source, node_a, node_b FROM int__identity_evidence "
                         "WHERE edge_source = 'crm_merge'") == {("crm_merge", "crm_contact_id:1016",
                                                                 "crm_contact_id:1017")}
    assert rows(hubspot, "SELECT contact_id FROM base__crm__deals WHERE deal_id = '5012'") == {("1017",)}
    assert rows(contract, "SELECT contact_id FROM base__crm__deals WHERE deal_id = '5012'") == {("1016",)}
    nodes = "SELECT node, customer_id FROM int__identity_device_bridged"
    assert rows(hubspot, nodes) - rows(contract, nodes) == {("crm_contact_id:1017", "1016"), ("user_id:G-7", "1008")}
    assert rows(contract, nodes) - rows(hubspot, nodes) == set()
    blocked = ("SELECT evidence_id FROM int__identity_candidate_edges WHERE exclusion_reason = 'blocked_value' "
               "AND edge_source = 'form_submission'")
    assert rows(contract, blocked) - rows(hubspot, blocked) == {("FS-009",), ("FS-011",), ("FS-015",)}
    assert rows(hubspot, blocked) - rows(contract, blocked) == set()


def test_the_multi_contact_deals_of_the_story_go_to_the_contact_created_first(story):
    _, hubspot = story
    picked = rows(hubspot, "SELECT deal_id, contact_id, deal_contacts FROM src__crm__deals WHERE deal_contacts > 1")
    # 5003: 1003 (created 02-15) and 1004 (01-10), one person: 1004. 5002: Bob 1002 (03-11) and Ivan 1010 (03-12)
    assert picked == {("5003", "1004", 2), ("5002", "1002", 2)}
    note = connectors.deal_contacts_note(hubspot, {"crm_connector": "fivetran_hubspot"})
    assert "2 of 12 deals have several contacts" in note


def test_frank_has_two_client_ids_from_his_property_history(story):
    _, hubspot = story
    forms = rows(hubspot, "SELECT user_pseudo_id, CAST(submitted_at AS STRING) FROM base__form_submissions "
                          "WHERE STARTS_WITH(email_normalized, 'frank')")
    assert forms == {("1006000001.1709661600", "2024-03-05 18:02:00+00"),
                     ("1050000001.1709888400", "2024-03-18 13:02:00+00")}


# -- hand-built HubSpot trees
CONTACT = ["id", "property_email", "property_firstname", "property_lastname", "property_company",
           "property_jobtitle", "property_lifecyclestage", "property_createdate", "property_lastmodifieddate",
           "property_hs_merged_object_ids", "property_ga_client_id", "property_product_user_id", "_fivetran_deleted"]
DEAL = ["deal_id", "property_dealname", "property_amount", "property_deal_currency_code", "property_createdate",
        "property_closedate", "deal_pipeline_stage_id", "is_deleted"]
STAGES = [{"stage_id": "won", "label": "Won", "closed_won": "true", "is_closed": "true"},
          {"stage_id": "lost", "label": "Lost", "closed_won": "false", "is_closed": "true"},
          {"stage_id": "talking", "label": "Talking", "closed_won": "false", "is_closed": "false"}]


def contact(cid: str, email: str, created: str = "2024-03-01T09:00:00Z", **props) -> dict:
    return {"id": cid, "property_email": email, "property_firstname": "F", "property_lastname": "L",
            "property_createdate": created, "property_lastmodifieddate": "2024-03-20T09:00:00Z",
            "_fivetran_deleted": "false", **props}


def hubspot_tree(root: Path, contacts, deals=(), links=(), history=None, events=None) -> Path:
    """A source root with GA4 events and a hubspot/ folder (no crm/)."""
    (root / "ga4").mkdir(parents=True, exist_ok=True)
    import json
    shard = events or [event("20240310", 1710061200, pseudo="111.222", session=1)]
    (root / "ga4" / "events_20240310.jsonl").write_text("".join(json.dumps(e) + "\n" for e in shard))
    write_csv(root / "hubspot/contact.csv", CONTACT, list(contacts))
    write_csv(root / "hubspot/deal.csv", DEAL, list(deals))
    write_csv(root / "hubspot/deal_contact.csv", ["deal_id", "contact_id"], list(links))
    write_csv(root / "hubspot/deal_pipeline_stage.csv", ["stage_id", "label", "closed_won", "is_closed"], STAGES)
    if history is not None:
        write_csv(root / "hubspot/contact_property_history.csv", ["contact_id", "name", "value", "timestamp"],
                  history)
    return root


def deal(did: str, stage: str = "won", amount: str = "100.00") -> dict:
    return {"deal_id": did, "property_dealname": f"deal {did}", "property_amount": amount,
            "property_deal_currency_code": "USD", "property_createdate": "2024-03-02T09:00:00Z",
            "property_closedate": "2024-03-15T09:00:00Z", "deal_pipeline_stage_id": stage, "is_deleted": "false"}


def build_base_hubspot(root: Path, warehouse: Path, layers=("base",), **overrides):
    params = P.load(overrides=[f"source_root={root}", f"warehouse={warehouse}", "crm_connector=fivetran_hubspot",
                               *(f"{k}={v}" for k, v in overrides.items())])
    eng = engines.connect(params)
    sources.load_sources(eng, root, params["on_bad_rows"], params=params)
    for layer in layers:
        models.build(eng, layer, params)
    return eng


def test_a_deal_with_several_contacts_goes_to_the_live_contact_created_first_then_the_smallest_id(tmp_path):
    contacts = [contact("1", "gone@acme.com", "2024-01-01T00:00:00Z", _fivetran_deleted="true"),
                contact("20", "b@acme.com", "2024-02-01T00:00:00Z"),
                contact("3", "c@acme.com", "2024-02-01T00:00:00Z"),
                contact("4", "d@acme.com", "2024-01-15T00:00:00+01:00")]  # 2024-01-14 23:00Z: the earliest live
    links = [{"deal_id": "7", "contact_id": c} for c in ("1", "20", "3")] + \
            [{"deal_id": "8", "contact_id": c} for c in ("1", "20", "3", "4")] + [{"deal_id": "9", "contact_id": "1"}]
    eng = build_base_hubspot(hubspot_tree(tmp_path / "src", contacts, [deal("7"), deal("8"), deal("9"), deal("10")],
                                          links), tmp_path / "w.duckdb")
    got = rows(eng, "SELECT deal_id, contact_id FROM base__crm__deals")
    # 7: the deleted 1 is last; 20 and 3 tie on created: the smallest id is 3 (as a number, not '20' < '3')
    # 9: only a deleted contact: it keeps it. 10: no contact at all.
    assert got == {("7", "3"), ("8", "4"), ("9", "1"), ("10", None)}
    assert rows(eng, "SELECT deal_id, deal_contacts FROM src__crm__deals") == {("7", 3), ("8", 4), ("9", 1), ("10", 0)}
    eng.close()


def test_deal_outcome_comes_from_the_pipeline_stage_not_won_stages(tmp_path):
    eng = build_base_hubspot(hubspot_tree(tmp_path / "src", [contact("1", "a@acme.com")],
                                          [deal("1", "won"), deal("2", "lost"), deal("3", "talking")],
                                          [{"deal_id": d, "contact_id": "1"} for d in "123"]),
                             tmp_path / "w.duckdb", won_stages='["talking"]')
    assert rows(eng, "SELECT deal_id, deal_status FROM base__crm__deals") == {("1", "won"), ("2", "lost"),
                                                                            ("3", "open")}
    eng.close()


def test_merged_contacts_are_one_customer_and_history_values_are_evidence(tmp_path):
    contacts = [contact("1", "ann@acme.com", "2024-01-01T00:00:00Z", property_hs_merged_object_ids="2; 9 ;"),
                contact("2", "ann.old@acme.com", "2024-02-01T00:00:00Z", property_ga_client_id="GA1.1.111.222"),
                contact("5", "bo@acme.com", property_product_user_id="U5")]
    history = [{"contact_id": "5", "name": "product_user_id", "value": "U5-old", "timestamp": "2024-02-01T00:00:00Z"},
               {"contact_id": "5", "name": "product_user_id", "value": "undefined", "timestamp": "2024-02-02T00:00:00Z"},
               {"contact_id": "5", "name": "product_user_id", "value": "U5", "timestamp": "2024-03-01T00:00:00Z"},
               {"contact_id": "5", "name": "ga_client_id", "value": "333.444", "timestamp": "2024-03-05T00:00:00Z"}]
    eng = build_base_hubspot(hubspot_tree(tmp_path / "src", contacts, history=history), tmp_path / "w.duckdb",
                             layers=models.LAYERS[:2])
    # 1 absorbed 2 and 9: one customer (1, created first) holding 1, 2 and the device 111.222 of 2's client id
    assert rows(eng, "SELECT node_a, node_b FROM int__identity_evidence WHERE edge_source = 'crm_merge'") == {
        ("crm_contact_id:1", "crm_contact_id:2"), ("crm_contact_id:1", "crm_contact_id:9")}
    assert rows(eng, "SELECT customer_id FROM int__identity_customers") == {("1",), ("5",)}
    assert rows(eng, DEVICES) == {("111.222", "1"), ("333.444", "5")}
    # the earlier user id is crm_contact evidence at its time; the current one is the contact's external_id;
    # 'undefined' is blocked like any identifier
    evidence = rows(eng, "SELECT node_b, CAST(evidence_at AS STRING), exclusion_reason FROM "
                         "int__identity_candidate_edges WHERE node_a = 'crm_contact_id:5' AND node_b_type = 'user_id'")
    assert evidence == {("user_id:U5-old", "2024-02-01 00:00:00+00", None),
                        ("user_id:undefined", "2024-02-02 00:00:00+00", "blocked_value"),
                        ("user_id:U5", "2024-03-20 09:00:00+00", None)}
    # a client id with no GA4 event is still a form row (device 333.444), at its history timestamp
    assert rows(eng, "SELECT user_pseudo_id, email_normalized FROM base__form_submissions") == {
        ("111.222", "ann.old@acme.com"), ("333.444", "bo@acme.com")}
    eng.close()


def test_the_property_names_are_parameters(tmp_path):
    contacts = [{**contact("1", "a@acme.com"), "property_cid": "GA1.2.555.666"}]
    root = tmp_path / "src"
    hubspot_tree(root, [])
    write_csv(root / "hubspot/contact.csv", [*CONTACT, "property_cid"], contacts)
    eng = build_base_hubspot(root, tmp_path / "w.duckdb", crm_ga_client_id_property="cid")
    assert rows(eng, "SELECT user_pseudo_id FROM base__form_submissions") == {("555.666",)}
    eng.close()


def test_a_parquet_table_reads_as_its_csv(tmp_path):
    root = hubspot_tree(tmp_path / "src", [contact("1", " Ann@Acme.com"), contact("2", "bo@acme.com")],
                        [deal("1")], [{"deal_id": "1", "contact_id": "2"}])
    csv_eng = build_base_hubspot(root, tmp_path / "a.duckdb")
    expected = rows(csv_eng, "SELECT contact_id, email_normalized, created_at FROM base__crm__contacts")
    csv_eng.close()
    pd.read_csv(root / "hubspot/contact.csv", dtype=str).to_parquet(root / "hubspot/contact.parquet")
    (root / "hubspot/contact.csv").unlink()
    eng = build_base_hubspot(root, tmp_path / "b.duckdb")
    assert rows(eng, "SELECT contact_id, email_normalized, created_at FROM base__crm__contacts") == expected
    eng.close()


def _error(root: Path) -> str:
    params = P.load(overrides=[f"source_root={root}", "crm_connector=fivetran_hubspot"])
    with pytest.raises(ConnectorError) as info:
        sources.preflight(root, params)
    return str(info.value)


def test_a_missing_table_names_the_connector_and_the_table(tmp_path):
    root = hubspot_tree(tmp_path / "src", [contact("1", "a@acme.com")])
    (root / "hubspot/deal_contact.csv").unlink()
    message = _error(root)
    assert "crm_connector fivetran_hubspot" in message and "'deal_contact'" in message


def test_a_missing_column_names_the_connector_the_table_and_the_column(tmp_path, build_base):
    root = hubspot_tree(tmp_path / "src", [contact("1", "a@acme.com")])
    write_csv(root / "hubspot/deal.csv", [c for c in DEAL if c != "deal_pipeline_stage_id"], [])
    message = _error(root)
    assert "crm_connector fivetran_hubspot" in message and "'deal'" in message
    assert "missing required column(s) deal_pipeline_stage_id" in message
    # and before any load: the run stops at its preflight, the warehouse holds no table
    params = P.load(overrides=[f"source_root={root}", f"warehouse={tmp_path / 'w.duckdb'}",
                               "crm_connector=fivetran_hubspot"])
    eng = engines.connect(params)
    with pytest.raises(ConnectorError):
        sources.load_sources(eng, root, params=params)
    assert not eng.has_table("src__ga4__events")
    eng.close()


def test_an_optional_table_may_be_absent_and_the_contract_crm_is_not_read(tmp_path):
    root = hubspot_tree(tmp_path / "src", [contact("1", "a@acme.com")])  # no history, no form submissions
    write_csv(root / "crm/contacts.csv", ["nonsense"], [])  # ignored with a connector
    eng = build_base_hubspot(root, tmp_path / "w.duckdb")
    assert rows(eng, "SELECT contact_id FROM base__crm__contacts") == {("1",)}
    eng.close()


def test_an_unknown_connector_is_named():
    with pytest.raises(ConnectorError, match="no such connector"):
        connector("fivetran_pipedrive")
    assert connector("contract") is None


# -- generated people, converted to HubSpot tables
def read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def to_hubspot(root: Path, won: list[str], lost: list[str]) -> None:
    """Rewrite root/crm/*.csv as root/hubspot/*.csv, as HubSpot would hold the same people: each form on the
    contact with its email (trimmed, lower case), else on a deleted contact of its own (HubSpot made one, then it
    was removed), its client id in that contact's history at the submission time; each deal on its one contact."""
    contacts, deals, forms = (read_csv(root / "crm" / f) for f in ("contacts.csv", "deals.csv",
                                                                   "form_submissions.csv"))
    by_email = {}
    for c in contacts:
        by_email.setdefault((c["email"] or "").strip().lower(), c["contact_id"])
    out_contacts = [{"id": c["contact_id"], "property_email": c["email"], "property_firstname": c["first_name"],
                     "property_lastname": c["last_name"], "property_company": c["company_name"],
                     "property_jobtitle": c["job_title"], "property_lifecyclestage": c["lifecycle_stage"],
                     "property_createdate": c["created_at"], "property_lastmodifieddate": c["updated_at"],
                     "property_product_user_id": c["external_id"], "_fivetran_deleted": c["_fivetran_deleted"]}
                    for c in contacts]
    history, submissions = [], []
    for i, f in enumerate(forms):
        cid = by_email.get((f["email"] or "").strip().lower())
        if cid is None or not (f["email"] or "").strip():
            cid = f"f{i}"
            out_contacts.append({"id": cid, "property_email": f["email"], "property_createdate": f["submitted_at"],
                                 "property_lastmodifieddate": f["submitted_at"], "_fivetran_deleted": "true"})
        submissions.append({"contact_id": cid, "conversion_id": f["submission_id"], "title": f["form_name"],
                            "timestamp": f["submitted_at"]})
        if f["ga_client_id"]:
            history.append({"contact_id": cid, "name": "ga_client_id", "value": f["ga_client_id"],
                            "timestamp": f["submitted_at"]})
    stages = sorted({d["stage"] for d in deals})
    write_csv(root / "hubspot/contact.csv", CONTACT, out_contacts)
    write_csv(root / "hubspot/contact_property_history.csv", ["contact_id", "name", "value", "timestamp"], history)
    write_csv(root / "hubspot/contact_form_submission.csv", ["contact_id", "conversion_id", "title", "timestamp"],
              submissions)
    write_csv(root / "hubspot/deal.csv", DEAL, [
        {"deal_id": d["deal_id"], "property_dealname": d["deal_name"], "property_amount": d["amount"],
         "property_deal_currency_code": d["currency"], "property_createdate": d["created_at"],
         "property_closedate": d["closed_at"], "deal_pipeline_stage_id": d["stage"],
         "is_deleted": d["_fivetran_deleted"]} for d in deals])
    write_csv(root / "hubspot/deal_contact.csv", ["deal_id", "contact_id"],
              [{"deal_id": d["deal_id"], "contact_id": d["contact_id"]} for d in deals if d["contact_id"]])
    write_csv(root / "hubspot/deal_pipeline_stage.csv", ["stage_id", "label", "closed_won", "is_closed"],
              [{"stage_id": s, "label": s, "closed_won": str(s in won).lower(),
                "is_closed": str(s in won or s in lost).lower()} for s in stages])


@pytest.mark.slow
def test_generated_people_as_hubspot_tables_resolve_and_credit_as_the_contract(tmp_path):
    from c360.run import cli

    root = tmp_path / "synth"
    assert cli.main(["synth", str(root), "--persons", "3000", "--days", "20", "--seed", "19"]) == 0
    defaults = P.load()
    to_hubspot(root, defaults["won_stages"], defaults["lost_stages"])
    contract = run_all(root, tmp_path / "contract.duckdb")  # DuckDB's threads: one per core (two here)
    hubspot = run_all(root, tmp_path / "hubspot.duckdb", crm_connector="fivetran_hubspot")
    try:
        assert hubspot.query("SELECT COUNT(*) AS n FROM int__identity_customers").n[0] > 500
        assert rows(hubspot, CUSTOMERS) == rows(contract, CUSTOMERS)
        assert rows(hubspot, DEVICES) == rows(contract, DEVICES)
        assert rows(hubspot, DEALS) == rows(contract, DEALS)
        assert rows(hubspot, CREDITS) == rows(contract, CREDITS)
        assert rows(hubspot, CHANNELS) == rows(contract, CHANNELS)
    finally:
        contract.close()
        hubspot.close()
        shutil.rmtree(root, ignore_errors=True)
