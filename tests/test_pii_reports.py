"""No raw email, name or full GA client id reaches any file of a run's report folder (reports, notebooks,
kernels.log, manifest.json): one run on the fixtures plus contacts with Unicode addresses and names, hashes and
non-addresses in the email column."""
from __future__ import annotations

import csv
import gzip
import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from c360.paths import PROJ_ROOT
from c360.pii import pseudonym
from conftest import fixture_people

pytestmark = pytest.mark.slow

FIXTURES = PROJ_ROOT / "data" / "fixtures"
# contact_id sorts before the fixture contacts' (1001...), so 01 (first 5 contacts) and 03 (first 25 customers)
# list them
EXTRA_CONTACTS = [
    {"contact_id": "0991", "email": "bob@münchen.de", "first_name": "Børge", "last_name": "Þórsdóttir"},
    {"contact_id": "0992", "email": "jürgen.müller@acme.com", "first_name": "Jürgen", "last_name": "Müller"},
    {"contact_id": "0993", "email": "5f4dcc3b5aa765d61d8327deb882cf99", "first_name": "Zoë",
     "last_name": "Łukasiewicz"},
    {"contact_id": "0994", "email": "not-an-email", "first_name": "Ærwyn", "last_name": "Ñúñez-Ortiz"},
]
HASH = "5f4dcc3b5aa765d61d8327deb882cf99"


def _client_ids() -> set[str]:
    """Every user_pseudo_id of the GA4 fixture shards (JSON lines, gzipped or not) and every form's ga_client_id."""
    ids = set()
    for path in (FIXTURES / "ga4").iterdir():
        if path.name.endswith(".jsonl") or path.name.endswith(".jsonl.gz"):
            opener = gzip.open if path.name.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as fh:
                ids |= {str(json.loads(line)["user_pseudo_id"]) for line in fh
                        if line.strip() and json.loads(line).get("user_pseudo_id")}
    with (FIXTURES / "crm" / "form_submissions.csv").open(encoding="utf-8") as fh:
        ids |= {row["ga_client_id"] for row in csv.DictReader(fh) if row.get("ga_client_id")}
    return ids


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pii")
    source = tmp / "source"
    shutil.copytree(FIXTURES, source)
    contacts = source / "crm" / "contacts.csv"
    with contacts.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    template = rows[0]
    extra = [{**template, "company_name": "Kunde GmbH", "job_title": "Analyst", "lifecycle_stage": "lead",
              "external_id": "", **c} for c in EXTRA_CONTACTS]
    with contacts.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(extra + rows)
    result = subprocess.run(
        [sys.executable, "-m", "c360", "run", "--reports", str(tmp / "reports"),
         "-p", f"warehouse={tmp / 'c360.duckdb'}", "-p", f"source_root={source}"],
        cwd=PROJ_ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    latest = (tmp / "reports" / "latest").resolve()
    return {"folder": latest, "stdout": result.stdout, "stderr": result.stderr}


def _text(path: Path) -> str:
    """A report file's text as a reader sees it: HTML entities resolved, JSON strings decoded."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix in (".ipynb", ".json"):
        raw = json.dumps(json.loads(raw), ensure_ascii=False) + "\n" + raw
    return html.unescape(raw)


def test_the_run_writes_every_kind_of_file_checked(run):
    names = {p.name for p in run["folder"].iterdir()}
    assert {"kernels.log", "manifest.json", "index.html", "01_base_extraction.html", "01_base_extraction.ipynb",
            "02_identity_resolution.html", "03_customer_360.html", "04_attribution.html"} <= names


def test_no_file_of_the_report_folder_holds_a_raw_email_name_or_client_id(run):
    emails, names = fixture_people()
    emails |= {c["email"].lower() for c in EXTRA_CONTACTS}
    names |= {f"{c['first_name']} {c['last_name']}".lower() for c in EXTRA_CONTACTS}
    extra_names = {c[k] for c in EXTRA_CONTACTS for k in ("first_name", "last_name")}
    ids = _client_ids()
    assert len(emails) > 10 and len(names) > 10 and len(ids) > 15
    files = [p for p in run["folder"].rglob("*") if p.is_file()]
    assert len(files) >= 10
    for path in files:
        text = _text(path)
        lower = text.lower()
        leaked = (sorted(e for e in emails if e in lower) + sorted(n for n in names if n in lower)
                  + sorted(n for n in extra_names if n in text) + sorted(i for i in ids if i in text)
                  + ([HASH] if HASH in lower else []))
        assert not leaked, f"{path.name} holds {leaked[:8]}"


def test_the_reports_show_the_masked_forms(run):
    base = _text(run["folder"] / "01_base_extraction.html")
    for shown in ("b***@münchen.de", "j***@acme.com", "5***", "n***", "B***", "Þ***", "J***", "M***"):
        assert shown in base, shown
    customers = _text(run["folder"] / "03_customer_360.html")
    assert "b***@münchen.de" in customers and "j***@acme.com" in customers
    identity = _text(run["folder"] / "02_identity_resolution.html")
    shown = {pseudonym(i) for i in _client_ids()} & set(re.findall(r"pid:[0-9a-f]{8}", identity))
    assert len(shown) >= 10  # the resolved devices, each as its pseudonym


def test_a_kernels_own_output_reaches_its_log_masked(tmp_path):
    from nbclient import NotebookClient
    import nbformat

    from c360.run import kernels

    log_path = tmp_path / "kernels.log"
    with log_path.open("a", encoding="utf-8") as log:
        km = kernels.start("python3", PROJ_ROOT, log=log)
        try:  # written to the kernel process's own stderr (fd 2), not to the cell's output
            cell = "import os; os.write(2, 'shared by bob@münchen.de on 1013000001.1709287200\\n'.encode())"
            NotebookClient(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)]), km=km,
                           kernel_name="python3", timeout=60).execute()
        finally:
            kernels.stop(km)
    text = log_path.read_text(encoding="utf-8")
    assert f"shared by b***@münchen.de on {pseudonym('1013000001.1709287200')}" in text
    assert "bob@" not in text and "1013000001.1709287200" not in text
