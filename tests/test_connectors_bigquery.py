"""The Fivetran HubSpot connector on BigQuery (the local emulator, as tests/test_bigquery_emulator.py starts it):
the HubSpot tables of data/fixtures/hubspot/ loaded into a dataset with Fivetran's BigQuery types (ids INT64,
amounts FLOAT64, timestamps, booleans) and read in place through `crm_dataset`: the base tables it feeds (contacts,
deals, forms, identity evidence) equal the DuckDB run of the same files (every later model is the same SQL, which
test_bigquery_emulator.py shows gives the same tables on both engines)."""
from __future__ import annotations

import fivetran_bigquery
import pytest

from c360 import sources
from c360.sources.connectors import ConnectorError
from c360.warehouse import bigquery as B
from test_bigquery_emulator import FIXTURES, PROJECT, bq_emulator  # noqa: F401 (the emulator fixture)

pytestmark = [pytest.mark.slow, pytest.mark.bigquery_emulator]
HUBSPOT_DATASET = "hubspot_raw"
# column -> BigQuery type as Fivetran's HubSpot schema has it (the rest: STRING)
TYPES = {"id": "INT64", "contact_id": "INT64", "deal_id": "INT64", "portal_id": "INT64", "display_order": "INT64",
         "property_amount": "FLOAT64", "probability": "FLOAT64", "_fivetran_deleted": "BOOL", "is_deleted": "BOOL",
         "closed_won": "BOOL", "is_closed": "BOOL", "active": "BOOL", "property_createdate": "TIMESTAMP",
         "property_lastmodifieddate": "TIMESTAMP", "property_closedate": "TIMESTAMP", "timestamp": "TIMESTAMP",
         "_fivetran_synced": "TIMESTAMP"}


def upload_hubspot(client, dataset: str, drop: tuple[str, ...] = ()) -> dict[str, int]:
    """data/fixtures/hubspot/*.csv as typed BigQuery tables in `dataset` (tables named in `drop` left out)."""
    return fivetran_bigquery.upload(client, dataset, FIXTURES / "hubspot", TYPES, drop)


@pytest.fixture(scope="module")
def both(bq_emulator, tmp_path_factory):  # noqa: F811
    client = B.make_client(PROJECT, "US")
    upload_hubspot(client, HUBSPOT_DATASET)
    bq, params, read = fivetran_bigquery.build_in_place(client, "fivetran_hubspot", HUBSPOT_DATASET, "c360_hubspot")
    duck = fivetran_bigquery.build_on_duckdb("fivetran_hubspot", tmp_path_factory.mktemp("d") / "w.duckdb")
    yield {"bq": bq, "duck": duck, "read": read, "client": client, "params": params}
    bq.close()
    duck.close()


def test_hubspot_in_place_on_bigquery_equals_the_duckdb_run(both):
    fivetran_bigquery.assert_same_crm_base(both["bq"], both["duck"])
    # what the connector adds is there: the merged contact's evidence, the deal's closed_won outcome
    evidence = both["bq"].query(f"SELECT DISTINCT edge_source FROM {both['bq'].relation('base__crm__identity_evidence')}")
    assert "crm_merge" in set(evidence["edge_source"])


def test_the_rows_read_count_the_fivetran_tables_and_their_mapping(both):
    read = both["read"].rows_read()
    assert read["src__hubspot__contact"] == 17 and read["src__hubspot__deal"] == 12
    assert read["src__crm__contacts"] == 17 and read["src__crm__deals"] == 12


def test_a_missing_table_in_crm_dataset_names_the_connector_and_the_table(both):
    upload_hubspot(both["client"], "hubspot_partial", drop=("deal_contact",))
    params = {**both["params"], "crm_dataset": "hubspot_partial", "bigquery_dataset": "c360_partial"}
    bq = B.BigQueryEngine.from_params(params, client=both["client"], log=None)
    try:
        with pytest.raises(ConnectorError, match="fivetran_hubspot.*'deal_contact'"):
            sources.prepare(bq, params)
    finally:
        bq.close()
