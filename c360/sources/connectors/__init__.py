"""CRM connectors: a CRM as Fivetran syncs it (HubSpot, Salesforce), read as the data contract's CRM tables.

A connector declares the Fivetran tables it reads (`FivetranTable`: typed columns, which are required, keys)
and maps them, in one BigQuery Standard SQL SELECT per contract table, to `src__crm__contacts`,
`src__crm__deals`, `src__crm__form_submissions` and `src__crm__identity_evidence`, with the contract's columns
and meaning. The base models and everything after them are unchanged. On DuckDB the tables are files,
`<source_root>/<folder>/<table>.csv|parquet`, loaded as `src__<folder>__<table>` and mapped into the src__crm__*
tables (c360.sources.files); on BigQuery they are read in place from `crm_dataset` and each src__crm__* table is
the mapping's subquery (c360.sources.bigquery). docs/connectors.md has every column and rule.

`connector(name)` is the Connector that parameter `crm_connector` names; None for `contract`.
"""
from __future__ import annotations

import importlib
import importlib.util

from c360.sources.connectors.base import Connector, ConnectorError, FivetranTable  # noqa: F401

# crm_connector -> the module whose CONNECTOR it is (contract: the data contract's own crm/*.csv)
CONNECTORS = {
    "fivetran_hubspot": "c360.sources.connectors.hubspot",
    "fivetran_salesforce": "c360.sources.connectors.salesforce",
}


def connector(name: str | None) -> Connector | None:
    """The connector parameter crm_connector names (None: contract). Raises ConnectorError when unknown or not
    yet built."""
    if name in (None, "", "contract"):
        return None
    if name not in CONNECTORS:
        raise ConnectorError(f"crm_connector {name!r}: no such connector (one of: contract, {', '.join(CONNECTORS)})")
    module_name = CONNECTORS[name]
    if importlib.util.find_spec(module_name) is None:
        raise ConnectorError(f"crm_connector {name!r}: not built yet in this version of c360")
    return importlib.import_module(module_name).CONNECTOR


def deal_contacts_note(engine, params: dict) -> str:
    """One line for notebook 01: how many deals have several contacts in the CRM, each given to one by the
    connector's rule (its notes["deal_contact"]; by default the contact created first); the contract layout has one
    contact_id per deal."""
    crm = connector(params.get("crm_connector"))
    if crm is None:
        return "crm_connector contract: one contact per deal (crm/deals.csv contact_id)."
    from c360.sources import relation

    found = engine.query(f"SELECT COUNT(*) AS deals, COUNTIF(deal_contacts > 1) AS several "
                         f"FROM {relation(engine, 'crm', 'deals')}")
    rule = crm.notes.get("deal_contact", "its live contact created first (ties: the smallest id)")
    return (f"crm_connector {crm.name}: {int(found.several[0])} of {int(found.deals[0])} deals have several "
            f"contacts; each goes to {rule}, see docs/connectors.md.")
