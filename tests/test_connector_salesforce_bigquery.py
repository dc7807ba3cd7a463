"""The Fivetran Salesforce connector on BigQuery (the local emulator, as tests/test_bigquery_emulator.py starts it):
data/fixtures/salesforce/*.csv loaded into a dataset with Fivetran's BigQuery types for Salesforce (ids STRING,
amounts FLOAT64, booleans BOOL, close_date and converted_date DATE, timestamps TIMESTAMP) and read in place
through `crm_dataset`: the base tables it feeds (contacts, deals, forms, identity evidence) equal the DuckDB run of
the same files (every later model is the same SQL, which test_bigquery_emulator.py shows gives the same tables on
both engines; test_connector_salesforce.py compares the DuckDB run with the contract layout's)."""
from __future__ import annotations

import fivetran_bigquery
import pytest

from c360 import sources
from c360.sources.connectors import ConnectorError
from c360.warehouse import bigquery as B
from test_bigquery_emulator import FIXTURES, PROJECT, bq_emulator  # noqa: F401 (the emulator fixture)

pytestmark = [pytest.mark.slow, pytest.mark.bigquery_emulator]
SALESFORCE_DATASET = "salesforce_raw"
# column -> BigQuery type as Fivetran's Salesforce schema has it (the rest: STRING)
TYPES = {"amount": "FLOAT64", "probability": "FLOAT64", "close_date": "DATE", "converted_date": "DATE",
         **dict.fromkeys(("is_deleted", "is_won", "is_closed", "is_primary", "is_converted"), "BOOL"),
         **dict.fromkeys(("created_date", "last_modified_date", "system_modstamp", "_fivetran_synced"), "TIMESTAMP")}


def upload_salesforce(client, dataset: str, drop: tuple[str, ...] = ()) -> None:
    """data/fixtures/salesforce/*.csv as typed BigQuery tables in `dataset` (tables named in `drop` left out)."""
    fivetran_bigquery.upload(client, dataset, FIXTURES / "salesforce", TYPES, drop)


@pytest.fixture(scope="module")
def both(bq_emulator, tmp_path_factory):  # noqa: F811
    client = B.make_client(PROJECT, "US")
    upload_salesforce(client, SALESFORCE_DATASET)
    bq, params, read = fivetran_bigquery.build_in_place(client, "fivetran_salesforce", SALESFORCE_DATASET,
                                                        "c360_salesforce")
    duck = fivetran_bigquery.build_on_duckdb("fivetran_salesforce", tmp_path_factory.mktemp("d") / "w.duckdb")
    yield {"bq": bq, "duck": duck, "read": read, "client": client, "params": params}
    bq.close()
    duck.close()


def test_salesforce_in_place_on_bigquery_equals_the_duckdb_run(both):
    fivetran_bigquery.assert_same_crm_base(both["bq"], both["duck"])
    won = both["bq"].query(f"SELECT COUNT(*) AS n FROM {both['bq'].relation('base__crm__deals')} "
                           "WHERE deal_status = 'won'")["n"].iloc[0]
    assert won == 7  # the story's seven won deals (data/fixtures/README.md)


def test_the_rows_read_count_the_salesforce_tables_and_their_mapping(both):
    read = both["read"].rows_read()
    # 17 contact rows (16 of the story + the merged 1017), 13 opportunities (12 + 5013), 15 leads (the forms)
    assert read["src__salesforce__contact"] == 17 and read["src__salesforce__opportunity"] == 13
    assert read["src__crm__contacts"] == 17 and read["src__crm__deals"] == 13
    # the 15 leads and the 2 contacts with a GA client id field (Bob, Ivan)
    assert read["src__crm__form_submissions"] == 17


def test_a_missing_table_in_crm_dataset_names_the_connector_and_the_table(both):
    upload_salesforce(both["client"], "salesforce_partial", drop=("opportunity_contact_role",))
    params = {**both["params"], "crm_dataset": "salesforce_partial", "bigquery_dataset": "c360_sf_partial"}
    bq = B.BigQueryEngine.from_params(params, client=both["client"], log=None)
    try:
        with pytest.raises(ConnectorError, match="fivetran_salesforce.*'opportunity_contact_role'"):
            sources.prepare(bq, params)
    finally:
        bq.close()
