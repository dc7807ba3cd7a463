"""The Fivetran Salesforce connector (crm_connector: fivetran_salesforce): the same customers, device links and
credited won deals as the contract layout on the same people; the contact-role rule; merges; converted leads;
bad input named by connector, table and column; and the same comparison on generated data at scale.

The Salesforce inputs are written by data/fixtures/build_salesforce.py from the contract's CSVs (standard library
only, no c360 code), or by hand below. Salesforce ids are the contract's ids behind a key prefix
(`0035g00000` + 1001), so `contract_id` reads them back.
"""
from __future__ import annotations

import importlib.util
import re
from decimal import Decimal
from pathlib import Path

import pytest

from c360 import models, params as P, sources, warehouse as engines
from c360.paths import PROJ_ROOT
from c360.sources.contract import BadInputError
from conftest import event, write_csv

FIXTURES = PROJ_ROOT / "data" / "fixtures"
SF_ID = re.compile(r"^00[0-9A-Za-z]5g00000(?P<id>.+)$")


def builder():
    """data/fixtures/build_salesforce.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("build_salesforce", FIXTURES / "build_salesforce.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def contract_id(value):
    """A Salesforce id of the converted data back to the contract's id; any other value as it is."""
    m = SF_ID.match(value) if isinstance(value, str) else None
    return m["id"] if m else value


def build(root: Path, warehouse: Path, layers=models.LAYERS, **overrides):
    """Load `root` and build `layers` as the notebooks do; every error-level data test must pass."""
    from c360.dag import datatests as checks

    params = P.load(overrides=[f"source_root={root}", f"warehouse={warehouse}",
                               *(f"{k}={v}" for k, v in overrides.items())])
    eng = engines.connect(params)
    sources.load_sources(eng, root, params["on_bad_rows"], params=params)
    for layer in layers:
        models.build(eng, layer, params)
        checks.run(eng, layer)
    return eng


def outcomes(eng) -> dict:
    """What a user relies on, in contract ids: customers, device -> customer, won deals, per-touch credits and
    channel credits (on either engine)."""
    def q(sql: str):
        for table in ("int__identity_customers", "int__identity_resolved", "base__crm__deals",
                      "mrt__marketing__attributed_touchpoints", "mrt__marketing__channel_attribution"):
            sql = sql.replace(f"FROM {table}", f"FROM {eng.relation(table)}")
        return eng.query(sql)

    customers = {contract_id(c) for c in q("SELECT customer_id FROM int__identity_customers")["customer_id"]}
    devices = {r.user_pseudo_id: contract_id(r.customer_id)
               for r in q("SELECT user_pseudo_id, customer_id FROM int__identity_resolved").itertuples()}
    won = {contract_id(r.deal_id): (contract_id(r.contact_id), Decimal(str(r.amount)), str(r.closed_date)[:10])
           for r in q("SELECT deal_id, contact_id, amount, closed_date FROM base__crm__deals "
                      "WHERE deal_status = 'won'").itertuples()}
    touches = {(int(r.window_days), contract_id(r.deal_id), r.model, r.session_key, contract_id(r.customer_id)):
               Decimal(str(r.attributed_revenue))
               for r in q("SELECT window_days, deal_id, model, session_key, customer_id, attributed_revenue "
                          "FROM mrt__marketing__attributed_touchpoints").itertuples()}
    channels = {(int(r.window_days), r.model, r.channel): Decimal(str(r.conversion_value))
                for r in q("SELECT window_days, model, channel, conversion_value "
                           "FROM mrt__marketing__channel_attribution").itertuples()}
    return {"customers": customers, "devices": devices, "won": won, "touches": touches, "channels": channels}


def fetch(eng, sql: str) -> list[tuple]:
    """Rows of a DuckDB query, NULL as None."""
    return eng.con.execute(sql).fetchall()


def identifiers(eng) -> dict[str, set[str]]:
    """Each customer's identifiers (type:value, contract ids), from its identity component."""
    rows = eng.query("""
        SELECT c.customer_id, n.node_type, n.node_value
        FROM int__identity_components AS n
        JOIN int__identity_customers AS c ON c.component = n.component""")
    out: dict[str, set[str]] = {}
    for r in rows.itertuples():
        out.setdefault(contract_id(r.customer_id), set()).add(f"{r.node_type}:{contract_id(r.node_value)}")
    return out


# ================================================================================== the fixture story, both ways
@pytest.fixture(scope="module")
def story(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("story")
    contract = build(FIXTURES, tmp / "contract.duckdb")
    salesforce = build(FIXTURES, tmp / "salesforce.duckdb", crm_connector="fivetran_salesforce")
    yield contract, salesforce
    contract.con.close()
    salesforce.con.close()


def test_the_committed_fixture_is_what_the_builder_writes(tmp_path):
    b = builder()
    b.write_tables(b.story(b.convert(FIXTURES)), tmp_path)
    for name in b.TABLES:
        assert (tmp_path / f"{name}.csv").read_bytes() == (FIXTURES / "salesforce" / f"{name}.csv").read_bytes()


def test_salesforce_gives_the_contract_customers_device_links_won_deals_and_credits(story):
    contract, salesforce = (outcomes(e) for e in story)
    # README: 13 CRM customers + Judy (product only); 13 resolved devices; 7 won deals (5009 deleted)
    assert len(contract["customers"]) == 14 and len(contract["devices"]) == 13 and len(contract["won"]) == 7
    for key in ("customers", "devices", "won", "touches", "channels"):
        assert salesforce[key] == contract[key], key


def test_salesforce_adds_only_the_merged_contact_to_alices_customer(story):
    contract, salesforce = (identifiers(e) for e in story)
    # contact 1017 (deleted, master_record_id 1001) brings its id and email into Alice's customer 1001; every other
    # customer has exactly the contract's identifiers
    assert salesforce["1001"] - contract["1001"] == {"crm_contact_id:1017", "email:alice.anders@acme.com"}
    assert contract["1001"] <= salesforce["1001"]
    assert {k: v for k, v in salesforce.items() if k != "1001"} == {k: v for k, v in contract.items() if k != "1001"}


def test_salesforce_keeps_the_opportunity_without_a_contact_role_unattributed(story):
    contract, salesforce = story
    rows = salesforce.query("SELECT deal_id, contact_id, deal_status FROM base__crm__deals "
                            "WHERE deal_id NOT IN (SELECT deal_id FROM base__crm__deals WHERE contact_id IS NOT NULL)")
    assert [(contract_id(r.deal_id), r.contact_id, r.deal_status) for r in rows.itertuples()] == [("5013", None, "open")]
    # every other live deal has the contract's contact
    theirs = {r.deal_id: r.contact_id for r in contract.query("SELECT deal_id, contact_id FROM base__crm__deals")
              .itertuples()}
    ours = {contract_id(r.deal_id): contract_id(r.contact_id)
            for r in salesforce.query("SELECT deal_id, contact_id FROM base__crm__deals WHERE contact_id IS NOT NULL")
            .itertuples()}
    assert ours == theirs


def test_notebook_01_counts_the_opportunities_with_several_live_roles_and_names_the_rule(story):
    from c360.sources import connectors

    _, salesforce = story
    note = connectors.deal_contacts_note(salesforce, {"crm_connector": "fivetran_salesforce"})
    # 5006 (Frank, Erin), 5007 (Heidi, Ivan), 5008 (Ivan, Bob); 5002's second role is deleted. 13 opportunity rows
    assert note.startswith("crm_connector fivetran_salesforce: 3 of 13 deals have several contacts; each goes to "
                           "its live primary contact role, else the live role created first")


def test_parquet_tables_with_fivetrans_types_read_as_the_csvs(story, tmp_path):
    """The story's Salesforce tables as parquet typed as Fivetran's warehouse tables are (amount a double,
    close_date a date, booleans, UTC timestamps): the same outcomes as the CSVs."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    root = tmp_path / "root"
    for folder in ("ga4", "product", "marketing", "seeds"):
        (root / folder).parent.mkdir(parents=True, exist_ok=True)
        (root / folder).symlink_to(FIXTURES / folder)
    (root / "salesforce").mkdir()
    kinds = {"amount": pa.float64(), "close_date": pa.date32(), "converted_date": pa.date32()}
    for path in sorted((FIXTURES / "salesforce").glob("*.csv")):
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types={
            c: pa.string() for c in pacsv.read_csv(path).column_names}))
        columns = {}
        for name in table.column_names:
            values = table[name].to_pylist()
            if name in kinds and kinds[name] == pa.date32():
                columns[name] = pa.array([dt.date.fromisoformat(v) if v else None for v in values], pa.date32())
            elif name in kinds:
                columns[name] = pa.array([float(v) if v else None for v in values], pa.float64())
            elif name.startswith("is_"):
                columns[name] = pa.array([None if not v else v == "true" for v in values], pa.bool_())
            elif name.endswith("_date") or name in ("system_modstamp", "_fivetran_synced"):
                columns[name] = pa.array([dt.datetime.fromisoformat(v.replace("Z", "+00:00")) if v else None
                                          for v in values], pa.timestamp("us", tz="UTC"))
            else:
                columns[name] = pa.array([v or None for v in values], pa.string())
        pq.write_table(pa.table(columns), root / "salesforce" / f"{path.stem}.parquet")
    eng = build(root, tmp_path / "w.duckdb", crm_connector="fivetran_salesforce")
    try:
        assert outcomes(eng) == outcomes(story[1])
    finally:
        eng.con.close()


# ============================================================================================ hand-built inputs
CONTACT = ["id", "email", "first_name", "last_name", "title", "account_id", "created_date", "last_modified_date",
           "is_deleted", "master_record_id", "ga_client_id_c", "product_user_id_c"]
OPPORTUNITY = ["id", "name", "amount", "currency_iso_code", "stage_name", "created_date", "close_date", "is_won",
               "is_closed", "is_deleted"]
ROLE = ["id", "opportunity_id", "contact_id", "is_primary", "created_date", "is_deleted"]
LEAD = ["id", "email", "lead_source", "is_converted", "converted_contact_id", "converted_date", "created_date",
        "is_deleted", "ga_client_id_c", "product_user_id_c"]
T0 = "2024-03-01T10:00:00Z"


def contact(cid: str, email: str, **kw) -> dict:
    return {"id": cid, "email": email, "first_name": "F", "last_name": "L", "created_date": T0,
            "last_modified_date": T0, "is_deleted": "false", **kw}


def opp(oid: str, won: bool = True, closed: bool = True, **kw) -> dict:
    return {"id": oid, "name": f"deal {oid}", "amount": "100.00", "currency_iso_code": "USD",
            "stage_name": "Closed Won" if won else "Prospecting", "created_date": T0, "close_date": "2024-03-10",
            "is_won": str(won).lower(), "is_closed": str(closed).lower(), "is_deleted": "false", **kw}


def role(rid: str, oid: str, cid: str, primary: bool = False, at: str = T0, deleted: bool = False) -> dict:
    return {"id": rid, "opportunity_id": oid, "contact_id": cid, "is_primary": str(primary).lower(),
            "created_date": at, "is_deleted": str(deleted).lower()}


def sf_tree(root: Path, contacts, opportunities=(), roles=(), leads=None, users=None, devices=("1.1",),
            drop_columns: dict | None = None) -> Path:
    """A source root with a GA4 shard (one session per device) and the salesforce/ tables."""
    import json

    (root / "ga4").mkdir(parents=True, exist_ok=True)
    rows = [event("20240305", 1709632800 + i * 60, "session_start", pseudo=d, session=1709632800 + i * 60,
                  privacy_info={"analytics_storage": "Yes"}) for i, d in enumerate(devices)]
    (root / "ga4" / "events_20240305.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    drop = drop_columns or {}

    def cols(name, columns):
        return [c for c in columns if c not in drop.get(name, ())]

    write_csv(root / "salesforce" / "contact.csv", cols("contact", CONTACT), list(contacts))
    write_csv(root / "salesforce" / "opportunity.csv", cols("opportunity", OPPORTUNITY), list(opportunities))
    write_csv(root / "salesforce" / "opportunity_contact_role.csv", cols("opportunity_contact_role", ROLE),
              list(roles))
    if leads is not None:
        write_csv(root / "salesforce" / "lead.csv", cols("lead", LEAD), list(leads))
    if users is not None:
        write_csv(root / "product" / "users.csv",
                  ["user_id", "email", "company_name", "plan", "signed_up_at", "last_login_at"], users)
    return root


def test_the_deal_contact_is_the_primary_role_else_the_role_created_first(tmp_path):
    contacts = [contact(c, f"{c}@x.com") for c in ("c1", "c2", "c3")]
    roles = [
        # o1: the primary role wins over an earlier one
        role("r11", "o1", "c1", at="2024-03-01T09:00:00Z"), role("r12", "o1", "c2", primary=True),
        # o2: no primary: the role created first
        role("r21", "o2", "c3", at="2024-03-02T00:00:00Z"), role("r22", "o2", "c2", at="2024-03-01T00:00:00Z"),
        # o3: created at the same instant: the smallest role id
        role("r32", "o3", "c3"), role("r31", "o3", "c1"),
        # o4: a deleted primary role is no role: the live one decides
        role("r41", "o4", "c1", primary=True, deleted=True), role("r42", "o4", "c3"),
        # o5: only a deleted role: no contact
        role("r51", "o5", "c2", deleted=True),
    ]
    opportunities = [opp(o) for o in ("o1", "o2", "o3", "o4", "o5", "o6")]  # o6: no role at all
    eng = build(sf_tree(tmp_path, contacts, opportunities, roles), tmp_path / "w.duckdb", layers=("base",),
                crm_connector="fivetran_salesforce")
    got = dict(fetch(eng, "SELECT deal_id, contact_id FROM base__crm__deals"))
    assert got == {"o1": "c2", "o2": "c2", "o3": "c1", "o4": "c3", "o5": None, "o6": None}
    # every opportunity is kept, the role-less ones too
    assert eng.query("SELECT COUNT(*) AS n FROM base__crm__deals")["n"][0] == 6


def test_the_deal_outcome_and_close_come_from_salesforce(tmp_path):
    opportunities = [
        opp("won"), opp("lost", won=False), opp("open", won=False, closed=False, close_date="2024-04-30"),
        # a stage named like a contract won stage does not make an open opportunity won
        opp("named", won=False, closed=False, stage_name="closedwon"),
        opp("gone", is_deleted="true"),
    ]
    root = sf_tree(tmp_path, [contact("c1", "a@x.com")], opportunities,
                   [role(f"r{o['id']}", o["id"], "c1") for o in opportunities],
                   drop_columns={"opportunity": ("currency_iso_code",)})
    eng = build(root, tmp_path / "w.duckdb", layers=("base",), crm_connector="fivetran_salesforce",
                reporting_currency="USD")
    rows = {r[0]: r[1:] for r in fetch(eng, "SELECT deal_id, deal_status, strftime(timezone('UTC', closed_at), "
                                             "'%Y-%m-%d %H:%M'), closed_date, currency, amount FROM base__crm__deals")}
    assert {k: r[0] for k, r in rows.items()} == {"won": "won", "lost": "lost", "open": "open", "named": "open"}
    # close_date is a date: closed_at is its midnight UTC, and only once the opportunity is closed
    assert rows["won"][1] == "2024-03-10 00:00" and str(rows["lost"][2]) == "2024-03-10"
    assert rows["open"][1] is None and rows["named"][1] is None
    # a single-currency org has no currency_iso_code: the amount is taken as the reporting currency
    assert rows["won"][3:] == ("USD", Decimal("100"))


def test_a_merged_contact_links_its_email_and_client_id_to_the_master(tmp_path):
    contacts = [
        contact("m", "new@corp.com"),
        # merged into m: deleted, with its own email and GA client id
        contact("old", "Old@Corp.com ", is_deleted="true", master_record_id="m", ga_client_id_c="GA1.1.1.1",
                last_modified_date="2024-03-02T00:00:00Z"),
        # deleted but not merged: its client id links nothing
        contact("gone", "gone@corp.com", is_deleted="true", ga_client_id_c="3.3"),
    ]
    leads = [{"id": "l1", "email": "old@corp.com", "is_converted": "false", "created_date": "2024-03-05T10:00:00Z",
              "is_deleted": "false", "ga_client_id_c": "2.2"}]
    eng = build(sf_tree(tmp_path, contacts, leads=leads, devices=("1.1", "2.2", "3.3")), tmp_path / "w.duckdb",
                crm_connector="fivetran_salesforce")
    resolved = dict(fetch(eng, "SELECT user_pseudo_id, customer_id FROM int__identity_resolved"))
    # 1.1: the merged contact's own client id; 2.2: a lead with the merged contact's (old) email
    assert resolved == {"1.1": "m", "2.2": "m"}
    assert eng.query("SELECT COUNT(*) AS n FROM int__identity_customers")["n"][0] == 1
    merge = eng.query("SELECT node_a, node_b FROM int__identity_evidence WHERE edge_source = 'crm_merge' "
                      "ORDER BY node_b")
    assert list(merge.itertuples(index=False, name=None)) == [("crm_contact_id:m", "crm_contact_id:old"),
                                                              ("crm_contact_id:m", "email:old@corp.com")]


def test_a_converted_lead_adds_its_email_and_product_user_to_its_contact(tmp_path):
    contacts = [contact("c", "pat@corp.com")]
    leads = [
        # converted into c: a personal email, a GA client id and a product user id
        {"id": "l1", "email": "Pat.Home@fastmail.com", "is_converted": "true", "converted_contact_id": "c",
         "converted_date": "2024-03-03", "created_date": "2024-03-02T10:00:00Z", "is_deleted": "false",
         "ga_client_id_c": "GA1.1.1.1", "product_user_id_c": "U9"},
        # not converted, another email: a form submission that matches nobody
        {"id": "l2", "email": "someone@else.net.test", "is_converted": "false", "created_date": "2024-03-02T11:00:00Z",
         "is_deleted": "false", "ga_client_id_c": "2.2"},
        # deleted: nothing
        {"id": "l3", "email": "pat@corp.com", "is_converted": "false", "created_date": "2024-03-02T12:00:00Z",
         "is_deleted": "true", "ga_client_id_c": "3.3"},
    ]
    # a product user known only by the lead's email: joins c's customer through the conversion
    users = [{"user_id": "U10", "email": "pat.home@fastmail.com", "signed_up_at": T0, "last_login_at": T0}]
    eng = build(sf_tree(tmp_path, contacts, leads=leads, users=users, devices=("1.1", "2.2", "3.3")),
                tmp_path / "w.duckdb", crm_connector="fivetran_salesforce")
    assert dict(fetch(eng, "SELECT user_pseudo_id, customer_id FROM int__identity_resolved")) == {"1.1": "c"}
    assert list(eng.query("SELECT customer_id FROM int__identity_customers")["customer_id"]) == ["c"]
    ids = identifiers(eng)["c"]
    assert {"email:pat.home@fastmail.com", "user_id:U9", "user_id:U10", "user_pseudo_id:1.1"} <= ids
    assert "user_pseudo_id:3.3" not in ids


def test_custom_field_names_follow_the_parameters(tmp_path):
    contacts = [contact("c", "a@x.com")]
    root = sf_tree(tmp_path, contacts, devices=("7.7",))
    # the org's fields are GA_Cookie__c and App_User__c
    path = root / "salesforce" / "contact.csv"
    path.write_text(path.read_text().replace("ga_client_id_c", "ga_cookie_c").replace("product_user_id_c",
                                                                                      "app_user_c")
                    .replace(",,\n", ",GA1.2.7.7,A1\n"), encoding="utf-8")
    eng = build(root, tmp_path / "w.duckdb", crm_connector="fivetran_salesforce",
                crm_ga_client_id_property="ga_cookie", crm_user_id_property="app_user")
    assert dict(fetch(eng, "SELECT user_pseudo_id, customer_id FROM int__identity_resolved")) == {"7.7": "c"}
    assert eng.query("SELECT external_id FROM base__crm__contacts")["external_id"][0] == "A1"


def test_the_account_names_the_company_and_its_website_the_company_domain(tmp_path):
    contacts = [contact("c1", "pat@gmail.com", account_id="a1", ga_client_id_c="1.1"),
                contact("c2", "lee@bigco.com", account_id="a2", ga_client_id_c="2.2"),
                contact("c3", "kim@smallco.com", ga_client_id_c="3.3")]
    root = sf_tree(tmp_path, contacts, devices=("1.1", "2.2", "3.3"))
    write_csv(root / "salesforce" / "account.csv", ["id", "name", "website", "is_deleted"], [
        {"id": "a1", "name": "Pat's Bakery", "website": "https://www.Pats-Bakery.com/en/home", "is_deleted": "false"},
        {"id": "a2", "name": "BigCo", "website": "", "is_deleted": "false"}])
    eng = build(root, tmp_path / "w.duckdb", crm_connector="fivetran_salesforce")
    got = {r[0]: r[1:] for r in fetch(eng, "SELECT customer_id, customer__company_name, company_domain, "
                                           "is_personal_email FROM mrt__core__customer_360")}
    # c1: a personal email, but the account's website is the company's domain (lower case, no scheme/www/path);
    # c2: no website: the corporate email's domain, as in the contract; c3: no account at all
    assert got == {"c1": ("Pat's Bakery", "pats-bakery.com", True), "c2": ("BigCo", "bigco.com", False),
                   "c3": (None, "smallco.com", False)}


# ================================================================================================== bad input
@pytest.mark.parametrize("table", ["contact", "opportunity", "opportunity_contact_role"])
def test_a_missing_required_table_is_named_with_the_connector(tmp_path, table):
    root = sf_tree(tmp_path, [contact("c", "a@x.com")], [opp("o")], [role("r", "o", "c")])
    (root / "salesforce" / f"{table}.csv").unlink()
    params = P.load(overrides=[f"source_root={root}", "crm_connector=fivetran_salesforce"])
    with pytest.raises(BadInputError, match=rf"crm_connector fivetran_salesforce: required table '{table}' not found"):
        sources.preflight(root, params)


@pytest.mark.parametrize("table, column", [("contact", "email"), ("opportunity", "is_won"),
                                           ("opportunity", "close_date"),
                                           ("opportunity_contact_role", "is_primary")])
def test_a_missing_required_column_is_named_with_its_table_and_connector(tmp_path, table, column):
    root = sf_tree(tmp_path, [contact("c", "a@x.com")], [opp("o")], [role("r", "o", "c")],
                   drop_columns={table: (column,)})
    params = P.load(overrides=[f"source_root={root}", "crm_connector=fivetran_salesforce"])
    with pytest.raises(BadInputError) as e:
        sources.preflight(root, params)
    msg = str(e.value)
    assert f"crm_connector fivetran_salesforce: table '{table}'" in msg and f"missing required column(s) {column}" \
        in msg
    assert "a@x.com" not in msg


def test_a_bad_value_names_the_file_and_line(tmp_path):
    root = sf_tree(tmp_path, [contact("c", "a@x.com")], [opp("o1"), opp("o2", is_won="maybe")],
                   [role("r", "o1", "c")])
    with pytest.raises(BadInputError, match=r"salesforce/opportunity\.csv.*line 3"):
        build(root, tmp_path / "w.duckdb", layers=(), crm_connector="fivetran_salesforce")


# ======================================================================================== generated data, at scale
@pytest.mark.slow
def test_generated_people_resolve_and_credit_as_the_contract_with_several_threads(tmp_path, monkeypatch):
    from c360 import demo

    monkeypatch.setenv("C360_DUCKDB_THREADS", "4")
    root = tmp_path / "root"
    demo.generate(root, 4000, 30, 11, fmt="parquet")
    b = builder()
    b.write_tables(b.convert(root), root / "salesforce")
    contract = build(root, tmp_path / "contract.duckdb")
    salesforce = build(root, tmp_path / "salesforce.duckdb", crm_connector="fivetran_salesforce")
    try:
        assert salesforce.con.execute("SELECT current_setting('threads')").fetchone()[0] == 4
        theirs, ours = outcomes(contract), outcomes(salesforce)
        assert len(theirs["customers"]) > 1000 and len(theirs["won"]) > 80 and len(theirs["touches"]) > 1000
        for key in ("customers", "devices", "won", "touches", "channels"):
            assert ours[key] == theirs[key], key
        # the converter gave every 7th opportunity a second, earlier, non-primary role: the primary still decides
        roles = salesforce.query("SELECT COUNT(*) AS n FROM src__salesforce__opportunity_contact_role "
                                 "WHERE NOT is_primary")["n"][0]
        assert roles > 50
    finally:
        contract.con.close()
        salesforce.con.close()
