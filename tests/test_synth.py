"""The synthetic source-root generator (c360.demo): deterministic, loadable, balanced, and full of the quirks."""
from __future__ import annotations

import csv
import gzip
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from c360.run import cli
from c360 import demo, models, params as P, sources, warehouse as engines

PERSONS, DAYS = 200, 3
# The GA4 BigQuery export's columns, in the export's order (Google's "BigQuery Export schema" page)
EXPORT_COLUMNS = ("event_date", "event_timestamp", "event_name", "event_params", "event_previous_timestamp",
                  "event_value_in_usd", "event_bundle_sequence_id", "event_server_timestamp_offset", "user_id",
                  "user_pseudo_id", "privacy_info", "user_properties", "user_first_touch_timestamp", "user_ltv",
                  "device", "geo", "app_info", "traffic_source", "stream_id", "platform", "event_dimensions",
                  "ecommerce", "items", "collected_traffic_source", "is_active_user", "batch_event_index",
                  "batch_page_id", "batch_ordering_id", "session_traffic_source_last_click", "publisher")
DEVICE_FIELDS = ("category", "mobile_brand_name", "mobile_model_name", "mobile_marketing_name",
                 "mobile_os_hardware_model", "operating_system", "operating_system_version", "vendor_id",
                 "advertising_id", "language", "is_limited_ad_tracking", "time_zone_offset_seconds", "browser",
                 "browser_version", "web_info")
GEO_FIELDS = ("city", "country", "continent", "region", "sub_continent", "metro")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _load(root: Path, warehouse: Path):
    """Load a source root with the real loader and build the base layer; returns (engine, load report)."""
    params = P.load(overrides=[f"source_root={root}", f"warehouse={warehouse}"])
    eng = engines.connect(params)
    loaded = sources.load_sources(eng, root, params["on_bad_rows"])
    models.build(eng, "base", params)
    return eng, loaded


def _one(eng, sql: str):
    return eng.native(sql).fetchone()[0]


def _rows(path: Path) -> list[dict]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _params(row: dict) -> dict:
    """event_params as {key: value}, the value being whichever typed field is not null."""
    return {p["key"]: next((v for v in p["value"].values() if v is not None), None) for p in row["event_params"]}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One jsonl.gz source root (200 persons x 3 days, seed 11), loaded and built to base."""
    tmp = tmp_path_factory.mktemp("synth")
    root = tmp / "src"
    counts = demo.generate(root, PERSONS, DAYS, seed=11)
    eng, loaded = _load(root, tmp / "w.duckdb")
    yield root, counts, eng, loaded
    eng.con.close()


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path):
    for fmt in ("jsonl.gz", "parquet"):
        a = _files(demo.generate(tmp_path / f"a_{fmt}", PERSONS, DAYS, seed=5, fmt=fmt) and tmp_path / f"a_{fmt}")
        b = _files(demo.generate(tmp_path / f"b_{fmt}", PERSONS, DAYS, seed=5, fmt=fmt) and tmp_path / f"b_{fmt}")
        assert a == b
        assert len(a) >= 10
    c = _files(demo.generate(tmp_path / "c", PERSONS, DAYS, seed=6) and tmp_path / "c")
    a = _files(tmp_path / "a_jsonl.gz")
    assert set(a) == set(c)  # the same layout ...
    assert all(a[name] != c[name] for name in a if name.startswith(("ga4/", "crm/")))  # ... other content


def test_gzip_shards_carry_no_timestamp_or_name(built):
    root = built[0]
    for shard in (root / "ga4").glob("*.gz"):
        header = shard.read_bytes()[:10]
        assert header[4:8] == b"\0\0\0\0"  # mtime 0
        assert header[3] & 0x08 == 0  # no file name


def test_output_loads_with_the_real_loader_and_row_accounting_balances(built):
    _, counts, eng, loaded = built
    acc = models.row_accounting(eng, loaded.rows_read(), layer="base")
    assert acc["balanced"].all(), acc
    assert loaded.quarantined == []
    rows = acc.set_index("model")["input"]
    assert rows["base__ga4__events"] == counts["events"]
    assert rows["base__crm__contacts"] == counts["contacts"]
    assert rows["base__crm__deals"] == counts["deals"]
    assert rows["base__form_submissions"] == counts["forms"]
    assert rows["base__product__users"] == counts["product_users"]
    assert counts["persons"] == PERSONS
    assert counts["bytes"] == sum(len(b) for b in _files(built[0]).values())
    sessions = _one(eng, "SELECT COUNT(DISTINCT (user_pseudo_id, ga_session_id)) FROM base__ga4__events")
    assert 0.95 * counts["sessions"] <= sessions <= counts["sessions"]  # some start on the unexported last day


def test_export_quirks_are_present(built):
    root, _, eng, _ = built
    audit = dict(eng.native("SELECT outcome, SUM(row_count) FROM c360__row_audit "
                            "WHERE model = 'base__ga4__events' GROUP BY 1").fetchall())
    assert audit["duplicate"] > 0
    assert audit["superseded_intraday"] > 0
    assert audit["missing_session_id"] > 0
    shards = sorted(p.name for p in (root / "ga4").iterdir())
    assert shards[-2:] == ["events_intraday_20240302.jsonl.gz", "events_intraday_20240303.jsonl.gz"]
    assert "events_20240302.jsonl.gz" in shards and "events_20240303.jsonl.gz" not in shards
    # cookieless pings: no user_pseudo_id and no session
    assert _one(eng, "SELECT COUNT(*) FROM src__ga4__events WHERE user_pseudo_id IS NULL") > 0
    # late events: in the shard of a later day than their own date
    assert _one(eng, "SELECT COUNT(*) FROM base__ga4__events "
                     "WHERE RIGHT(shard, 8) > strftime(event_date, '%Y%m%d')") > 0
    # consent: 'No' devices, and devices without consent mode
    consent = dict(eng.native("SELECT COALESCE(consent__analytics_storage, 'null'), COUNT(DISTINCT user_pseudo_id) "
                              "FROM base__ga4__events GROUP BY 1").fetchall())
    assert consent["No"] > 0 and consent["null"] > 0 and consent["Yes"] > consent["No"]
    # logins: GA4 user_id = product user_id = a contact's external_id
    assert _one(eng, "SELECT COUNT(*) FROM base__ga4__events WHERE event_name = 'login' AND user_id IS NOT NULL") > 0
    assert _one(eng, "SELECT COUNT(DISTINCT e.user_id) FROM base__ga4__events e "
                     "JOIN base__product__users u ON u.user_id = e.user_id "
                     "JOIN base__crm__contacts c ON c.external_id = e.user_id") > 0
    # devices identified: by a login or a form; about a third of people never identify
    linked = _one(eng, "SELECT COUNT(DISTINCT user_pseudo_id) FROM (SELECT user_pseudo_id FROM base__ga4__events "
                       "WHERE user_id IS NOT NULL UNION ALL SELECT user_pseudo_id FROM base__form_submissions)")
    devices = _one(eng, "SELECT COUNT(DISTINCT user_pseudo_id) FROM base__ga4__events")
    assert 0.3 < linked / devices < 0.8


def test_people_share_devices_and_some_never_identify():
    from numpy.random import PCG64, Generator

    w = demo.World(Generator(PCG64(1)), 2000, 30, date(2024, 3, 1))
    s = w.s
    guest = s["person"] != w.d_owner[s["dev"]]
    assert guest.any()  # sessions by a coworker on a shared device
    assert 0.005 < (w.d_second >= 0).mean() < 0.03
    anonymous = w.p_kind == 0
    assert 0.28 < anonymous.mean() < 0.38
    assert not np.isin(s["login"][anonymous[s["person"]]], (1, 2)).any()  # anonymous people never log in ...
    anonymous_forms = [e for e, p in zip(w.f_email, w.f_person.tolist()) if anonymous[p]]
    assert all(w.p_email[p] not in e.lower() for e, p in zip(w.f_email, w.f_person.tolist()) if anonymous[p])
    assert all("@" in e for e in anonymous_forms)  # ... and their forms carry junk emails
    assert set(w.p_ndev.tolist()) == {1, 2, 3}
    assert (s["login"] == 3).any()  # user_id 'undefined'


def test_crm_quirks_are_present(built):
    _, _, eng, _ = built
    deleted = dict(eng.native("SELECT model, SUM(row_count) FROM c360__row_audit WHERE outcome = 'deleted' "
                              "GROUP BY 1").fetchall())
    assert deleted["base__crm__contacts"] > 0 and deleted["base__crm__deals"] > 0
    # form client ids: bare and cookie style, both parsed to a device
    styles = dict(eng.native("SELECT ga_client_id LIKE 'GA1.%', COUNT(*) FROM base__form_submissions "
                             "WHERE user_pseudo_id IS NOT NULL GROUP BY 1").fetchall())
    assert styles[True] > 0 and styles[False] > 0
    assert _one(eng, "SELECT COUNT(*) FROM base__form_submissions WHERE ga_client_id IS NULL") > 0  # offline
    # every parsed client id is a device in the export
    assert _one(eng, "SELECT COUNT(*) FROM base__form_submissions f WHERE f.user_pseudo_id IS NOT NULL AND NOT EXISTS "
                     "(SELECT 1 FROM base__ga4__events e WHERE e.user_pseudo_id = f.user_pseudo_id)") == 0
    # duplicate contacts: one email, written differently
    assert _one(eng, "SELECT COUNT(*) FROM (SELECT email_normalized FROM src__crm__contacts s "
                     "JOIN base__crm__contacts USING (contact_id) GROUP BY 1 HAVING COUNT(DISTINCT s.email) > 1)") > 0
    # deals: won, lost and open; closed ones have closed_at after created_at, open ones none
    status = dict(eng.native("SELECT deal_status, COUNT(*) FROM base__crm__deals GROUP BY 1").fetchall())
    assert set(status) == {"won", "lost", "open"}
    assert _one(eng, "SELECT COUNT(*) FROM base__crm__deals WHERE (deal_status = 'open') != (closed_at IS NULL) "
                     "OR closed_at < created_at OR amount <= 0") == 0
    assert _one(eng, "SELECT COUNT(*) FROM base__crm__deals WHERE NOT EXISTS "
                     "(SELECT 1 FROM src__crm__contacts c WHERE c.contact_id = base__crm__deals.contact_id)") == 0
    # ad spend: every day for every paid campaign
    spend = eng.native("SELECT COUNT(DISTINCT spend_date), COUNT(DISTINCT (source, medium, campaign)), MIN(spend) "
                       "FROM base__marketing__ad_spend").fetchone()
    assert spend[0] == DAYS and spend[1] == len(demo.PAID) and spend[2] > 0
    classes = dict(eng.native("SELECT classification, COUNT(*) FROM base__seeds__email_domains GROUP BY 1").fetchall())
    assert set(classes) == {"personal", "corporate", "ambiguous"}


def test_traffic_quirks_are_present(built):
    _, _, eng, _ = built
    # UTM tags in collected_traffic_source, in event_params, and in both on one event
    utm = eng.native("SELECT COUNT(*) FILTER (manual_source IS NOT NULL AND param_source IS NULL), "
                     "COUNT(*) FILTER (manual_source IS NULL AND param_medium IN ('cpc', 'email', 'paid_social')), "
                     "COUNT(*) FILTER (manual_source IS NOT NULL AND param_source IS NOT NULL), "
                     "COUNT(*) FILTER (gclid IS NOT NULL AND manual_source IS NULL AND param_source IS NULL) "
                     "FROM base__ga4__events").fetchone()
    assert all(n > 0 for n in utm), utm
    mediums = {r[0] for r in eng.native("SELECT DISTINCT COALESCE(manual_medium, param_medium) "
                                        "FROM base__ga4__events").fetchall()}
    assert {"organic", "referral", "email", "cpc", "paid_social", None} <= mediums
    # traffic_source is the device's first acquisition: one value per device
    assert _one(eng, "SELECT COUNT(*) FROM (SELECT user_pseudo_id FROM base__ga4__events "
                     "WHERE user_pseudo_id IS NOT NULL AND NOT STARTS_WITH(shard, 'intraday_') GROUP BY 1 "
                     "HAVING COUNT(DISTINCT (user_first_source, user_first_medium, user_first_campaign)) > 1)") == 0


def test_raw_rows_vary_their_representation(built):
    root = built[0]
    with gzip.open(root / "ga4/events_20240301.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    assert {type(r["event_timestamp"]) for r in rows} == {int, str}
    sid = [p["value"] for r in rows for p in r["event_params"] if p["key"] == "ga_session_id"]
    assert {next(iter(v)) for v in sid} == {"int_value", "string_value"}
    assert {type(v["int_value"]) for v in sid if "int_value" in v} == {int, str}
    engaged = {json.dumps(p["value"]) for r in rows for p in r["event_params"] if p["key"] == "session_engaged"}
    assert engaged == {'{"string_value": "1"}', '{"int_value": 1}'}
    assert any(r["privacy_info"] is None for r in rows)
    assert any(r["user_pseudo_id"] is None for r in rows)
    assert {r["event_date"] for r in rows} == {"20240301"}  # the first shard: no late rows from before


def test_rows_carry_the_full_export_schema_with_consistent_values(built):
    root = built[0]
    shards = sorted((root / "ga4").glob("events_*.jsonl.gz"))
    rows = [(shard.name, r) for shard in shards for r in _rows(shard)]
    plans = {u["user_id"]: u["plan"] for u in csv.DictReader(open(root / "product/users.csv", encoding="utf-8"))}
    crm_forms = {}
    for f in csv.DictReader(open(root / "crm/form_submissions.csv", encoding="utf-8")):
        if f["ga_client_id"]:
            at = int(datetime.fromisoformat(f["submitted_at"].replace("Z", "+00:00")).timestamp())
            crm_forms[(f["ga_client_id"].split(".", 2)[-1] if f["ga_client_id"].startswith("GA1.")
                       else f["ga_client_id"], at)] = f["form_name"]
    devices, places, form_matches = {}, {}, []
    for shard, r in rows:
        # every column of the export, in its order; traffic_source only in daily shards, and the quirks of this
        # generator: ecommerce and batch_event_index only on some rows
        assert list(r) == [c for c in EXPORT_COLUMNS if c in r]
        optional = {"ecommerce", "batch_event_index"} | ({"traffic_source"} if "intraday" in shard else set())
        assert set(EXPORT_COLUMNS) - set(r) <= optional
        assert ("traffic_source" in r) != ("intraday" in shard)
        assert tuple(r["device"]) == DEVICE_FIELDS and tuple(r["geo"]) == GEO_FIELDS
        assert r["platform"] == "WEB" and r["app_info"] is None and r["items"] == [] and r["publisher"] is None
        assert isinstance(r["is_active_user"], bool)
        params = _params(r)
        # a device keeps its handset, browser, language and place across its events
        if r["user_pseudo_id"]:
            devices.setdefault(r["user_pseudo_id"], set()).add(json.dumps(r["device"], sort_keys=True))
            places.setdefault(r["user_pseudo_id"], set()).add(json.dumps(r["geo"], sort_keys=True))
            first_touch = int(r["user_first_touch_timestamp"])
            assert first_touch <= int(r["event_timestamp"])
            if r["event_name"] == "first_visit":
                assert first_touch == int(r["event_timestamp"])
            assert r["user_ltv"] == {"revenue": 0.0, "currency": "USD"}
        if "page_location" in params:
            host = re.match(r"https://([^/?]+)", params["page_location"])[1]
            assert r["device"]["web_info"]["hostname"] == host
            assert isinstance(params["page_title"], str) and params["page_title"]
            page_id = int(r["batch_page_id"])
            assert page_id == params["batch_page_id"] and page_id <= int(r["event_timestamp"]) // 1000
            assert int(r["batch_ordering_id"]) == params["batch_ordering_id"] >= 1
        if r["event_name"] == "page_view":
            assert "page_title" in params
        if "engagement_time_msec" in params:
            assert isinstance(params["engagement_time_msec"], int) and params["engagement_time_msec"] >= 0
        if "entrances" in params:
            assert r["event_name"] == "page_view" and params["entrances"] == 1
        # user properties: only for a logged-in product user, with the product's plan
        if r["user_properties"]:
            props = {p["key"]: p["value"]["string_value"] for p in r["user_properties"]}
            assert props["plan"] == plans[r["user_id"]]
        else:
            assert r["user_properties"] == []
        # the session's last click is the campaign its session_start came with (a tag collected later in the
        # session does not change it)
        click = r["session_traffic_source_last_click"]
        coll = r["collected_traffic_source"]
        if r["event_name"] == "session_start" and coll:
            if coll["manual_source"]:
                assert (click["manual_campaign"]["source"], click["manual_campaign"]["medium"]) == (
                    coll["manual_source"], coll["manual_medium"])
            if coll["gclid"]:
                assert click["google_ads_campaign"]["campaign_id"]
                assert click["cross_channel_campaign"]["default_channel_group"] == "Paid Search"
        if r["event_name"] == "generate_lead":
            assert r["event_value_in_usd"] == params["value"] > 0 and params["currency"] == "USD"
        else:
            assert r["event_value_in_usd"] is None
        if r["event_name"] == "form_submit":  # the form the CRM recorded for that browser at that second
            key = (r["user_pseudo_id"], int(r["event_timestamp"]) // 1_000_000)
            if key in crm_forms:
                form_matches.append(params["form_name"] == crm_forms[key])
    assert form_matches and all(form_matches)
    assert all(len(v) == 1 for v in devices.values()) and all(len(v) == 1 for v in places.values())
    assert len({d for v in devices.values() for d in v}) > 10  # ... and devices differ from each other
    assert any(r["user_properties"] for _, r in rows)
    names = {r["event_name"] for _, r in rows if "entrances" in _params(r)}
    assert names == {"page_view"}


def _pipeline_view(row: dict, struct_fields: dict, param_keys: set) -> dict:
    """What the loader and the flattening read of a row: its GA4_COLUMNS, structs cut to the fields the loader's
    schema declares, event_params cut to the keys c360/sql/_ga4_events.sql reads."""
    out = {}
    for col in sources.GA4_COLUMNS:
        v = row.get(col)
        if col == "event_params":
            v = [p for p in v if p["key"] in param_keys]
        elif col in struct_fields and v is not None:
            v = {k: v.get(k) for k in struct_fields[col]}
        out[col] = v
    return out


def test_the_enrichment_changes_nothing_the_pipeline_reads(tmp_path, monkeypatch):
    """The extra export fields come from streams of their own: the main random stream is never drawn from, and
    another enrichment stream leaves every CRM file and every field the pipeline reads exactly as it was."""
    real = demo.Enrichment
    states = []

    class Watched(real):
        def __init__(self, w, lk, seed):
            before = w.rng.bit_generator.state
            super().__init__(w, lk, seed)
            self.main = w.rng
            states.append(before == w.rng.bit_generator.state)

        def frame(self, f, d, x):
            before = self.main.bit_generator.state
            super().frame(f, d, x)
            states.append(before == self.main.bit_generator.state)

    monkeypatch.setattr(demo.writers, "Enrichment", Watched)  # where write_ga4 looks it up
    demo.generate(tmp_path / "a", 150, DAYS, seed=4)
    assert len(states) == 1 + DAYS and all(states)
    monkeypatch.setattr(demo.enrichment, "ENRICH_TAG", demo.ENRICH_TAG + 1)
    demo.generate(tmp_path / "b", 150, DAYS, seed=4)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert set(a) == set(b)
    assert all(a[name] == b[name] for name in a if not name.startswith("ga4/"))
    assert all(a[name] != b[name] for name in a if name.startswith("ga4/"))  # the enrichment did change
    sql = (Path(sources.__file__).parents[1] / "sql/_ga4_events.sql").read_text()
    param_keys = set(re.findall(r"ga4_param\('(\w+)'", sql))
    assert {"ga_session_id", "page_location", "engagement_time_msec"} <= param_keys
    struct_fields = {c: re.findall(r"(\w+) VARCHAR", t) for c, t in sources.GA4_COLUMNS.items()
                     if t.startswith("STRUCT") and c != "event_params"}
    for name in a:
        if name.startswith("ga4/"):
            ra, rb = _rows(tmp_path / "a" / name), _rows(tmp_path / "b" / name)
            assert len(ra) == len(rb)
            assert all(_pipeline_view(x, struct_fields, param_keys) == _pipeline_view(y, struct_fields, param_keys)
                       for x, y in zip(ra, rb)), name
    tables = []
    for side in ("a", "b"):
        eng, _ = _load(tmp_path / side, tmp_path / f"{side}.duckdb")
        tables.append(eng.native("SELECT * FROM base__ga4__events ORDER BY ALL").df())
        eng.con.close()
    assert len(tables[0]) > 0 and tables[0].equals(tables[1])


def test_parquet_shards_carry_the_export_columns(tmp_path):
    import pyarrow.parquet as pq

    demo.generate(tmp_path, 60, 2, seed=2, fmt="parquet")
    (shard,) = (tmp_path / "ga4").glob("events_*.parquet")
    table = pq.read_table(shard)
    assert table.schema.names == list(EXPORT_COLUMNS)
    device = table.column("device").combine_chunks()
    assert [device.type.field(i).name for i in range(device.type.num_fields)] == list(DEVICE_FIELDS)
    rows = table.to_pylist()
    assert all(r["device"]["web_info"]["hostname"] == "www.c360demo.com" for r in rows)
    assert all(_params(r).get("page_title") for r in rows if r["event_name"] == "page_view")


def test_each_format_loads_to_the_same_events(tmp_path):
    tables = {}
    for fmt in demo.FORMATS:
        root = tmp_path / fmt.replace(".", "_")
        demo.generate(root, 120, DAYS, seed=3, fmt=fmt)
        assert {p.name.split(".", 1)[1] for p in (root / "ga4").glob("events_2*")} == {fmt}
        eng, loaded = _load(root, tmp_path / f"{fmt}.duckdb")
        assert models.row_accounting(eng, loaded.rows_read(), layer="base")["balanced"].all()
        tables[fmt] = eng.native("SELECT * EXCLUDE (shard) FROM base__ga4__events ORDER BY ALL").df()
        eng.con.close()
    assert len(tables["jsonl.gz"]) > 0
    assert tables["jsonl.gz"].equals(tables["jsonl"])
    assert tables["jsonl.gz"].equals(tables["parquet"])


def test_a_single_day_is_one_intraday_shard_and_start_moves_the_dates(tmp_path):
    root = tmp_path / "one"
    demo.generate(root, 50, 1, seed=1, start=date(2025, 1, 31))
    assert [p.name for p in (root / "ga4").iterdir()] == ["events_intraday_20250131.jsonl.gz"]
    eng, loaded = _load(root, tmp_path / "w.duckdb")
    assert models.row_accounting(eng, loaded.rows_read(), layer="base")["balanced"].all()
    assert _one(eng, "SELECT MIN(event_date) FROM base__ga4__events") == date(2025, 1, 31)


def test_cli_writes_a_source_root(tmp_path, capsys):
    out = tmp_path / "cli"
    assert cli.main(["synth", str(out), "--persons", "40", "--days", "2", "--seed", "9", "--format", "jsonl"]) == 0
    assert "events" in capsys.readouterr().out
    assert (out / "ga4/events_20240301.jsonl").is_file() and (out / "crm/contacts.csv").is_file()
    assert cli.main(["synth", str(out), "--persons", "40", "--days", "2", "--seed", "9", "--start", "March"]) == 2


def _csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


MONEY_TEXT = re.compile(r"^[0-9]+[.][0-9]{2}$")  # written from integer cents: always two decimals, no exponent


def test_money_is_written_in_cents_like_a_crm(built):
    root = built[0]
    deals = _csv(root / "crm/deals.csv")
    amounts = [d["amount"] for d in deals]
    assert amounts and all(MONEY_TEXT.match(a) for a in amounts), amounts
    assert any(not a.endswith(".00") for a in amounts)  # cents, not only list prices ...
    assert any(a.endswith("00.00") or a.endswith("50.00") for a in amounts)  # ... and some of those
    assert all(float(a) >= 500 for a in amounts)
    assert {d["currency"] for d in deals} == {"USD"}  # one currency by default: no rates written
    assert not (root / "marketing/fx_rates.csv").exists()
    spend = [r["spend"] for r in _csv(root / "marketing/ad_spend.csv")]
    assert spend and all(MONEY_TEXT.match(v) for v in spend)
    assert any(not v.endswith(".00") for v in spend)


def test_the_text_of_an_amount_is_built_from_integer_cents():
    assert demo.cents_text([0, 5, 123456, 50_000, 10**15 + 1, -1234]) == [
        "0.00", "0.05", "1234.56", "500.00", "10000000000000.01", "-12.34"]
    assert demo.micro_text([1_084_512, 6_720, 1_000_000]) == ["1.084512", "0.006720", "1.000000"]


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_several_currencies_give_deals_in_each_and_a_rate_for_every_deal(tmp_path):
    a, b, one = tmp_path / "a", tmp_path / "b", tmp_path / "one"
    counts = demo.generate(a, 600, 10, seed=8, currencies="USD,EUR,GBP")
    demo.generate(b, 600, 10, seed=8, currencies=("USD", "EUR", "GBP"))
    demo.generate(one, 600, 10, seed=8)
    fa, fb, f1 = _files(a), _files(b), _files(one)
    assert fa == fb  # deterministic for a seed, currencies included
    assert counts["files"] == len(fa) and counts["bytes"] == sum(len(v) for v in fa.values())
    # the currencies change the deals and add the rates, nothing else: events, contacts, ad spend as without
    assert set(fa) - set(f1) == {"marketing/fx_rates.csv"}
    assert {n for n in f1 if fa[n] != f1[n]} == {"crm/deals.csv"}
    deals, single = _csv(a / "crm/deals.csv"), _csv(one / "crm/deals.csv")
    assert [(d["deal_id"], d["stage"], d["created_at"], d["closed_at"]) for d in deals] == [
        (d["deal_id"], d["stage"], d["created_at"], d["closed_at"]) for d in single]
    currencies = [d["currency"] for d in deals]
    assert set(currencies) == {"USD", "EUR", "GBP"}
    assert currencies.count("USD") > len(deals) / 2  # most companies are neither in the euro area nor the UK
    assert all(MONEY_TEXT.match(d["amount"]) for d in deals)
    # fx_rates.csv: date, currency, rate (one unit of currency = rate USD), weekly per currency, six decimals
    text = (a / "marketing/fx_rates.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "date,currency,rate"
    rates = _csv(a / "marketing/fx_rates.csv")
    assert all(re.match(r"^[0-9]+[.][0-9]{6}$", r["rate"]) for r in rates)
    by_currency: dict[str, list[tuple[date, float]]] = {}
    for r in rates:
        by_currency.setdefault(r["currency"], []).append((date.fromisoformat(r["date"]), float(r["rate"])))
    assert set(by_currency) == {"EUR", "GBP"}
    for cur, rows in by_currency.items():
        days = [d for d, _ in rows]
        assert days == sorted(days) and all((y - x).days == 7 for x, y in zip(days, days[1:]))
        assert days[-1] >= date(2024, 3, 10) - timedelta(days=6)  # through the export's end
        lo, hi = {"EUR": (0.9, 1.3), "GBP": (1.05, 1.5)}[cur]
        assert all(lo < v < hi for _, v in rows)
    # every deal not in the reporting currency has a rate on or before its close (and its creation)
    for d in deals:
        if d["currency"] == "USD":
            continue
        first = by_currency[d["currency"]][0][0]
        assert first <= _when(d["created_at"]).date()
        if d["closed_at"]:
            assert first <= _when(d["closed_at"]).date()
    # amounts are the same deal values, converted: a EUR deal is about its USD amount / the EUR rate
    ratios = [float(s["amount"]) / float(d["amount"]) for d, s in zip(deals, single)
              if d["currency"] == "EUR" and float(s["amount"]) > 1000 and float(d["amount"]) > 1000]
    assert ratios and all(0.9 < r < 1.3 for r in ratios)


def test_the_first_currency_is_the_reporting_one(tmp_path):
    eur, usd = tmp_path / "eur", tmp_path / "usd"
    demo.generate(eur, 300, 4, seed=2, currencies="EUR,USD,JPY")
    demo.generate(usd, 300, 4, seed=2)
    rates = _csv(eur / "marketing/fx_rates.csv")
    assert {r["currency"] for r in rates} == {"USD", "JPY"}
    assert all(0.8 < float(r["rate"]) < 1.0 for r in rates if r["currency"] == "USD")  # 1 USD is about 0.92 EUR
    # ad spend is in the reporting currency: the same clicks cost fewer euros than dollars
    spend = [sum(float(r["spend"]) for r in _csv(root / "marketing/ad_spend.csv")) for root in (eur, usd)]
    assert 0.85 < spend[0] / spend[1] < 1.0
    jpy = [d["amount"] for d in _csv(eur / "crm/deals.csv") if d["currency"] == "JPY"]
    assert jpy and all(a.endswith(".00") for a in jpy)  # no minor unit


def test_cli_takes_currencies(tmp_path, capsys):
    out = tmp_path / "cli"
    assert cli.main(["synth", str(out), "--persons", "200", "--days", "3", "--seed", "9",
                     "--currencies", "usd, eur,GBP"]) == 0
    assert (out / "marketing/fx_rates.csv").is_file()
    assert {d["currency"] for d in _csv(out / "crm/deals.csv")} <= {"USD", "EUR", "GBP"}
    # a single currency again into the same folder: the old rates go
    assert cli.main(["synth", str(out), "--persons", "200", "--days", "3", "--seed", "9"]) == 0
    assert not (out / "marketing/fx_rates.csv").exists()
    for bad in ("USD,EURO", "USD,USD", ""):
        assert cli.main(["synth", str(out), "--persons", "20", "--days", "2", "--seed", "9", "--currencies", bad]) == 2


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="format"):
        demo.generate(tmp_path, 10, 2, seed=1, fmt="csv")
    with pytest.raises(ValueError, match="at least 1"):
        demo.generate(tmp_path, 0, 2, seed=1)
    with pytest.raises(ValueError, match="currencies"):
        demo.generate(tmp_path, 10, 2, seed=1, currencies="USD,dollar")
