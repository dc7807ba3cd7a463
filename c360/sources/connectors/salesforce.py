"""The Fivetran Salesforce connector: contact, opportunity, opportunity_contact_role (optional account, lead) mapped
to the contract's CRM tables. docs/connectors.md lists every column and rule; in short:

- contacts: one row per contact row; company_name and company_domain from account.name and website; external_id is the current product user id
  (`<crm_user_id_property>_c`); a merged contact is deleted (is_deleted) and names its master (master_record_id).
- deals: one row per opportunity; is_won / is_closed are Salesforce's own; closed_at is close_date (a date, at
  00:00 UTC) once the opportunity is closed. The contact is the live primary opportunity_contact_role, else the live
  role created first (then the smallest role id); none: the deal has no contact (kept, unattributed).
- form_submissions: every live lead (web-to-lead: its email and `<crm_ga_client_id_property>_c`, at its
  created_date), and every contact's current GA client id field (the contact's email, at its last modification;
  a merged contact's too, with its own email).
- identity_evidence: a merged contact's id, email and product user id for its master (crm_merge); a converted
  lead's email and product user id for the contact it became (crm_contact, at the conversion).
"""
from __future__ import annotations

from typing import Any

from c360.sources.connectors.base import Connector, FivetranTable, Relation, one_row_per
from c360.sources.contract import MONEY
from c360.warehouse.base import sql_string

V, T, B, D = "VARCHAR", "TIMESTAMPTZ", "BOOLEAN", "DATE"


def _fields(params: dict[str, Any]) -> tuple[str, str]:
    """The custom fields holding the GA client id and the product user id: `<name>__c` in Salesforce, which
    Fivetran writes `<name>_c` (parameters crm_ga_client_id_property, crm_user_id_property)."""
    return (f"{params.get('crm_ga_client_id_property') or 'ga_client_id'}_c",
            f"{params.get('crm_user_id_property') or 'product_user_id'}_c")


def tables(params: dict[str, Any]) -> tuple[FivetranTable, ...]:
    client_id, user_id = _fields(params)
    return (
        FivetranTable("contact", {
            "id": V, "email": V, "first_name": V, "last_name": V, "title": V, "account_id": V, "created_date": T,
            "last_modified_date": T, "is_deleted": B, "master_record_id": V, "_fivetran_synced": T,
            client_id: V, user_id: V},
            keys=("id",), personal=True,
            optional_columns=("title", "account_id", "master_record_id", "_fivetran_synced", client_id, user_id)),
        FivetranTable("opportunity", {
            "id": V, "name": V, "amount": MONEY, "currency_iso_code": V, "stage_name": V, "created_date": T,
            "close_date": D, "is_won": B, "is_closed": B, "is_deleted": B},
            keys=("id",), optional_columns=("currency_iso_code", "stage_name")),
        FivetranTable("opportunity_contact_role", {
            "id": V, "opportunity_id": V, "contact_id": V, "is_primary": B, "created_date": T, "is_deleted": B},
            keys=("id", "opportunity_id")),
        FivetranTable("account", {"id": V, "name": V, "website": V, "is_deleted": B},
                      keys=("id",), optional_columns=("website",), required=False),
        FivetranTable("lead", {
            "id": V, "email": V, "lead_source": V, "is_converted": B, "converted_contact_id": V,
            "converted_date": D, "created_date": T, "is_deleted": B, client_id: V, user_id: V},
            keys=("id",), optional_columns=("lead_source", "converted_date", client_id, user_id), required=False,
            personal=True),
    )


def mapping(rel: Relation, params: dict[str, Any]) -> dict[str, str]:
    """The contract's CRM tables as SELECTs (BigQuery Standard SQL) over the Salesforce tables `rel` names."""
    client_id, user_id = _fields(params)
    contact, opportunity, role, account, lead = (
        rel(t) for t in ("contact", "opportunity", "opportunity_contact_role", "account", "lead"))

    contacts = f"""
    WITH accounts AS (
        {one_row_per(account, "CAST(id AS STRING)", {"id": "CAST(id AS STRING)", "name": "name", "website": "website"},
                     "COALESCE(is_deleted, FALSE), name")}
    )
    SELECT
        CAST(c.id AS STRING) AS contact_id,
        c.email,
        c.first_name,
        c.last_name,
        a.name AS company_name,
        c.title AS job_title,
        CAST(NULL AS STRING) AS lifecycle_stage,
        CAST(c.{user_id} AS STRING) AS external_id,
        c.created_date AS created_at,
        c.last_modified_date AS updated_at,
        c.is_deleted AS _fivetran_deleted,
        c._fivetran_synced,
        a.website AS company_domain
    FROM {contact} AS c
    LEFT JOIN accounts AS a ON a.id = CAST(c.account_id AS STRING)"""

    deals = f"""
    WITH roles AS (
        SELECT
            CAST(opportunity_id AS STRING) AS opportunity_id,
            CAST(contact_id AS STRING) AS contact_id,
            COUNT(DISTINCT CAST(contact_id AS STRING)) OVER (PARTITION BY CAST(opportunity_id AS STRING))
                AS contacts,
            ROW_NUMBER() OVER (
                PARTITION BY CAST(opportunity_id AS STRING)
                ORDER BY COALESCE(is_primary, FALSE) DESC, created_date IS NULL, created_date, CAST(id AS STRING)
            ) AS pick
        FROM {role}
        WHERE NOT COALESCE(is_deleted, FALSE) AND NULLIF(TRIM(CAST(contact_id AS STRING)), '') IS NOT NULL
    )
    SELECT
        CAST(o.id AS STRING) AS deal_id,
        r.contact_id,
        o.name AS deal_name,
        CAST(CAST(o.amount AS STRING) AS NUMERIC) AS amount,
        o.currency_iso_code AS currency,
        o.stage_name AS stage,
        o.created_date AS created_at,
        IF(COALESCE(o.is_closed, FALSE) OR COALESCE(o.is_won, FALSE), TIMESTAMP(o.close_date), NULL) AS closed_at,
        o.is_deleted AS _fivetran_deleted,
        COALESCE(o.is_won, FALSE) AS is_won,
        COALESCE(o.is_closed, FALSE) OR COALESCE(o.is_won, FALSE) AS is_closed,
        COALESCE(r.contacts, 0) AS deal_contacts
    FROM {opportunity} AS o
    LEFT JOIN roles AS r ON r.opportunity_id = CAST(o.id AS STRING) AND r.pick = 1"""

    form_submissions = f"""
    SELECT
        CAST(id AS STRING) AS submission_id,
        COALESCE(lead_source, 'lead') AS form_name,
        email,
        CAST({client_id} AS STRING) AS ga_client_id,
        created_date AS submitted_at
    FROM {lead}
    WHERE NOT COALESCE(is_deleted, FALSE)
    UNION ALL
    SELECT
        CONCAT(CAST(id AS STRING), ':', {sql_string(client_id)}) AS submission_id,
        {sql_string('contact ' + client_id)} AS form_name,
        email,
        CAST({client_id} AS STRING) AS ga_client_id,
        last_modified_date AS submitted_at
    FROM {contact}
    WHERE NULLIF(TRIM(CAST({client_id} AS STRING)), '') IS NOT NULL
        AND (NOT COALESCE(is_deleted, FALSE) OR NULLIF(TRIM(CAST(master_record_id AS STRING)), '') IS NOT NULL)"""

    identity_evidence = f"""
    WITH merged AS (
        SELECT
            CAST(master_record_id AS STRING) AS contact_id,
            CAST(id AS STRING) AS merged_id,
            email,
            CAST({user_id} AS STRING) AS user_id,
            last_modified_date AS at
        FROM {contact}
        WHERE NULLIF(TRIM(CAST(master_record_id AS STRING)), '') IS NOT NULL
            AND CAST(master_record_id AS STRING) != CAST(id AS STRING)
    ),
    converted AS (
        SELECT
            CAST(converted_contact_id AS STRING) AS contact_id,
            CAST(id AS STRING) AS lead_id,
            email,
            CAST({user_id} AS STRING) AS user_id,
            COALESCE(TIMESTAMP(converted_date), created_date) AS at
        FROM {lead}
        WHERE COALESCE(is_converted, FALSE) AND NOT COALESCE(is_deleted, FALSE)
            AND NULLIF(TRIM(CAST(converted_contact_id AS STRING)), '') IS NOT NULL
    )
    SELECT contact_id, 'crm_merge' AS edge_source, 'crm_contact_id' AS identifier_type, merged_id AS identifier,
        CONCAT(merged_id, ':master_record_id') AS evidence_id, at AS evidence_at
    FROM merged
    UNION ALL
    SELECT contact_id, 'crm_merge', 'email', email, CONCAT(merged_id, ':master_record_id'), at
    FROM merged
    WHERE NULLIF(TRIM(email), '') IS NOT NULL
    UNION ALL
    SELECT contact_id, 'crm_merge', 'user_id', user_id, CONCAT(merged_id, ':master_record_id'), at
    FROM merged
    WHERE NULLIF(TRIM(user_id), '') IS NOT NULL
    UNION ALL
    SELECT contact_id, 'crm_contact', 'email', email, CONCAT(lead_id, ':converted'), at
    FROM converted
    WHERE NULLIF(TRIM(email), '') IS NOT NULL
    UNION ALL
    SELECT contact_id, 'crm_contact', 'user_id', user_id, CONCAT(lead_id, ':converted'), at
    FROM converted
    WHERE NULLIF(TRIM(user_id), '') IS NOT NULL"""

    return {"contacts": contacts, "deals": deals, "form_submissions": form_submissions,
            "identity_evidence": identity_evidence}


CONNECTOR = Connector("fivetran_salesforce", "salesforce", tables, mapping, notes={
    "deal_contact": "its live primary contact role, else the live role created first (ties: the smallest role id)"})
