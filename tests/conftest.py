"""Shared helpers: tiny source trees written inline, loaded and built in a scratch warehouse."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from c360.warehouse import dialect
from c360 import warehouse as engines
from c360 import models, params as P, sources


# The modules that take longest (minutes on the BigQuery emulator), longest first; any other emulator module next.
LONGEST_FIRST = ("test_bigquery_incremental.py", "test_bigquery_emulator.py", "test_bigquery_guard.py",
                 "test_connectors_bigquery.py", "test_connector_salesforce_bigquery.py")


def pytest_collection_modifyitems(config, items):
    """The longest modules first: `make test` runs the suite on two workers (pytest-xdist, `--dist loadfile
    --no-loadscope-reorder`: a module at a time per worker, in this order), so what starts first should be what
    takes longest, and the short modules fill in around them."""
    def rank(item) -> int:
        name = item.path.name
        if name in LONGEST_FIRST:
            return LONGEST_FIRST.index(name)
        return len(LONGEST_FIRST) + (0 if item.get_closest_marker("bigquery_emulator") else 1)
    items.sort(key=rank)  # stable: each module's tests keep their order


@pytest.fixture(autouse=True, scope="session")
def _own_sql_cache(tmp_path_factory):
    """The suite translates into a cache of its own (C360_SQL_CACHE, inherited by the kernels and runs it
    starts), never the user's ~/.cache/c360/sql: what a test sees does not depend on what ran before it."""
    before = os.environ.get("C360_SQL_CACHE")
    os.environ["C360_SQL_CACHE"] = str(tmp_path_factory.mktemp("sql_cache"))
    dialect.to_duckdb.cache_clear()
    dialect._version_folder.cache_clear()
    yield
    if before is None:
        os.environ.pop("C360_SQL_CACHE", None)
    else:
        os.environ["C360_SQL_CACHE"] = before


CONTACT_COLS = ["contact_id", "email", "first_name", "last_name", "company_name", "job_title", "lifecycle_stage",
                "external_id", "created_at", "updated_at", "_fivetran_deleted", "_fivetran_synced"]
DEAL_COLS = ["deal_id", "contact_id", "deal_name", "amount", "currency", "stage", "created_at", "closed_at",
             "_fivetran_deleted"]
FORM_COLS = ["submission_id", "form_name", "email", "ga_client_id", "submitted_at"]
USER_COLS = ["user_id", "email", "company_name", "plan", "signed_up_at", "last_login_at"]
SPEND_COLS = ["date", "source", "medium", "campaign", "spend"]


def event(date: str, seconds: int, name: str = "page_view", pseudo: str | None = "1.1", session=1000,
          **fields) -> dict:
    """One GA4 export row as `bq extract` writes it (INT64 as a JSON string); `session=None` leaves it out."""
    params = [] if session is None else [{"key": "ga_session_id", "value": {"int_value": str(session)}}]
    params += fields.pop("params", [])
    row = {"event_date": date, "event_timestamp": str(seconds * 1_000_000), "event_name": name,
           "user_pseudo_id": pseudo, "event_params": params}
    row.update(fields)
    return row


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in columns})


def write_tree(root: Path, shards: dict[str, list], contacts=(), deals=(), forms=None, users=None,
               spend=None) -> Path:
    """A source tree: shards maps file name -> rows (dicts, or raw strings written as they are)."""
    (root / "ga4").mkdir(parents=True, exist_ok=True)
    for name, rows in shards.items():
        lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
        (root / "ga4" / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    write_csv(root / "crm/contacts.csv", CONTACT_COLS, list(contacts))
    write_csv(root / "crm/deals.csv", DEAL_COLS, list(deals))
    if forms is not None:
        write_csv(root / "crm/form_submissions.csv", FORM_COLS, forms)
    if users is not None:
        write_csv(root / "product/users.csv", USER_COLS, users)
    if spend is not None:
        write_csv(root / "marketing/ad_spend.csv", SPEND_COLS, spend)
    return root


def build_layers(root: Path, warehouse: Path, layers=models.LAYERS, **overrides):
    """Load `root` into a fresh warehouse and build `layers` in order; data tests must pass."""
    from c360.dag import datatests as checks

    params = P.load(overrides=[f"source_root={root}", f"warehouse={warehouse}",
                               *(f"{k}={v}" for k, v in overrides.items())])
    eng = engines.connect(params)
    sources.load_sources(eng, root, params["on_bad_rows"])
    for layer in layers:
        models.build(eng, layer, params)
        checks.run(eng, layer)  # raises on any error-level data test
    return eng


@pytest.fixture
def build_base(tmp_path):
    """build_base(root, **overrides) -> (engine, load report): sources loaded and base models built."""
    opened = []

    def _build(root: Path, **overrides):
        params = P.load(overrides=[f"source_root={root}", f"warehouse={tmp_path / 'w.duckdb'}",
                                   *(f"{k}={v}" for k, v in overrides.items())])
        eng = engines.connect(params)
        opened.append(eng)
        loaded = sources.load_sources(eng, root, params["on_bad_rows"])
        models.build(eng, "base", params)
        return eng, loaded

    yield _build
    for eng in opened:
        eng.con.close()


def fixture_people() -> tuple[set[str], set[str]]:
    """Raw emails and full names (lower case) of the fixture people (CRM contacts, product users, forms): what no
    report, log or page may show."""
    import csv

    from c360.paths import PROJ_ROOT

    emails, names = set(), set()
    for rel in ("crm/contacts.csv", "product/users.csv", "crm/form_submissions.csv"):
        with (PROJ_ROOT / "data" / "fixtures" / rel).open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row.get("email", "").strip():
                    emails.add(row["email"].strip().lower())
                if row.get("first_name") and row.get("last_name"):
                    names.add(f"{row['first_name']} {row['last_name']}".lower())
    return emails, names
