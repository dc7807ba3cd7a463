"""Fivetran tables on the BigQuery emulator, for the connector tests: a fixture folder's CSV files loaded with the
BigQuery types Fivetran gives them, and the base layer built on the emulator reading them in place (crm_dataset)."""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from c360 import models, params as P, sources
from c360.dag import datatests
from c360.sources import upload as bigquery_load
from c360.warehouse import bigquery as B
from test_bigquery_emulator import FIXTURES, GA4_DATASET, PROJECT, _rows


def typed(kind: str, text: str):
    """A CSV cell as the JSON load wants a value of BigQuery type `kind` (empty: NULL; timestamps spelled in UTC)."""
    if text == "":
        return None
    if kind == "TIMESTAMP":
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.timezone.utc).isoformat()
    return {"INT64": int, "FLOAT64": float, "BOOL": lambda t: t == "true"}.get(kind, str)(text)


def upload(client, dataset: str, folder: Path, types: dict[str, str], drop: tuple[str, ...] = ()) -> dict[str, int]:
    """folder/*.csv as tables of `dataset`, each column typed by `types` (the rest STRING); the tables named in
    `drop` left out. Returns the rows loaded per table."""
    from google.cloud import bigquery

    ds = bigquery.Dataset(f"{PROJECT}.{dataset}")
    ds.location = "US"
    client.create_dataset(ds, exists_ok=True)
    loaded = {}
    for path in sorted(folder.glob("*.csv")):
        if path.stem in drop:
            continue
        with path.open(newline="", encoding="utf-8") as fh:
            found = list(csv.DictReader(fh))
        header = list(found[0])
        schema = [bigquery.SchemaField(c, types.get(c, "STRING")) for c in header]
        data = [{c: typed(types.get(c, "STRING"), r[c]) for c in header} for r in found]
        loaded[path.stem] = bigquery_load._load_json(client, f"{PROJECT}.{dataset}.{path.stem}", schema, data, "US")
    return loaded


# the base tables a CRM connector feeds: every later model is the same SQL whichever the CRM's layout, and
# tests/test_bigquery_emulator.py shows that SQL gives the same tables on both engines
CRM_BASE = ("base__crm__contacts", "base__crm__deals", "base__form_submissions", "base__crm__identity_evidence",
            "base__reporting_currency")


def build_in_place(client, connector: str, crm_dataset: str, dataset: str) -> tuple[B.BigQueryEngine, dict, object]:
    """The fixtures' GA4 export, product users and ad spend uploaded as the contract has them, the CRM read in place
    from `crm_dataset` by `connector`; the base layer built and tested into `dataset`. Returns the engine, the
    parameters and what sources.prepare read."""
    loaded = bigquery_load.upload_source_tree(client, FIXTURES, PROJECT, GA4_DATASET, f"crm_contract_{dataset}")
    loaded.pop("_rows")
    keep = {k: v for k, v in loaded.items() if not k.startswith("crm_")}
    params = P.load(overrides=[*(f"{k}={v}" for k, v in keep.items()), "backend=bigquery",
                               f"bigquery_project={PROJECT}", f"bigquery_dataset={dataset}",
                               f"crm_dataset={crm_dataset}", f"crm_connector={connector}", f"source_root={FIXTURES}"])
    bq = B.BigQueryEngine.from_params(params, client=client, log=None)
    read = sources.prepare(bq, params)
    models.build(bq, "base", params)
    datatests.run(bq, "base", rows_read=read.rows_read())
    return bq, params, read


def build_on_duckdb(connector: str, warehouse: Path):
    """The same fixtures' base layer on DuckDB, the CRM read by `connector` from data/fixtures/<its folder>/."""
    from c360 import warehouse as engines

    params = P.load(overrides=[f"warehouse={warehouse}", f"crm_connector={connector}"])
    duck = engines.connect(params)
    sources.load_sources(duck, FIXTURES, params=params)
    models.build(duck, "base", params)
    return duck


def assert_same_crm_base(bq, duck) -> None:
    """Every CRM_BASE table has the same columns and rows on both engines (engine-neutral cells)."""
    for name in CRM_BASE:
        a, b = duck.query(f"SELECT * FROM {name}"), bq.query(f"SELECT * FROM {bq.relation(name)}")
        assert list(b.columns) == list(a.columns), name
        assert _rows(b) == _rows(a), name
