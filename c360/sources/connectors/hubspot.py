"""The Fivetran HubSpot connector: contact, deal, deal_contact, deal_pipeline_stage (optional
contact_property_history, contact_form_submission) mapped to the contract's CRM tables. docs/connectors.md lists
every column and rule; in short:

- contacts: one row per contact row; external_id is the current product user id (`property_<crm_user_id_property>`).
- deals: one row per deal row; the contact is the deal's first live contact in deal_contact (earliest
  property_createdate, then the smallest id); is_won / is_closed from the deal's pipeline stage.
- form_submissions: one row per (contact, GA client id value) of `property_<crm_ga_client_id_property>` and its
  history, at the value's latest timestamp (the contact's last modification when only the current value has it),
  joined to the contact_form_submission at that same instant for its conversion_id and title; a form submission
  at another instant is a row without a client id. The email is the contact's.
- identity_evidence: a live contact's `property_hs_merged_object_ids` (crm_merge) and every earlier value of the
  product user id property (crm_contact).
"""
from __future__ import annotations

from typing import Any

from c360.sources.connectors.base import Connector, FivetranTable, Relation, one_row_per
from c360.sources.contract import MONEY
from c360.warehouse.base import sql_string

V, T, B = "VARCHAR", "TIMESTAMPTZ", "BOOLEAN"


def _properties(params: dict[str, Any]) -> tuple[str, str]:
    """The contact properties holding the GA client id and the product user id (parameters)."""
    return (params.get("crm_ga_client_id_property") or "ga_client_id",
            params.get("crm_user_id_property") or "product_user_id")


def tables(params: dict[str, Any]) -> tuple[FivetranTable, ...]:
    client_id, user_id = _properties(params)
    return (
        FivetranTable("contact", {
            "id": V, "property_email": V, "property_firstname": V, "property_lastname": V, "property_company": V,
            "property_jobtitle": V, "property_lifecyclestage": V, "property_createdate": T,
            "property_lastmodifieddate": T, "_fivetran_deleted": B, "_fivetran_synced": T,
            "property_hs_merged_object_ids": V, f"property_{client_id}": V, f"property_{user_id}": V},
            keys=("id",), personal=True,
            optional_columns=("_fivetran_synced", "property_hs_merged_object_ids", f"property_{client_id}",
                              f"property_{user_id}")),
        FivetranTable("deal", {
            "deal_id": V, "property_dealname": V, "property_amount": MONEY, "property_deal_currency_code": V,
            "property_createdate": T, "property_closedate": T, "deal_pipeline_stage_id": V, "is_deleted": B},
            keys=("deal_id",), optional_columns=("property_deal_currency_code",)),
        FivetranTable("deal_contact", {"deal_id": V, "contact_id": V}, keys=("deal_id", "contact_id")),
        FivetranTable("deal_pipeline_stage", {
            "stage_id": V, "label": V, "closed_won": B, "is_closed": B, "_fivetran_deleted": B},
            keys=("stage_id",), optional_columns=("label", "_fivetran_deleted")),
        FivetranTable("contact_property_history", {"contact_id": V, "name": V, "value": V, "timestamp": T},
                      keys=("contact_id", "name"), required=False, personal=True),
        FivetranTable("contact_form_submission", {
            "contact_id": V, "conversion_id": V, "title": V, "timestamp": T},
            keys=("contact_id",), optional_columns=("title",), required=False),
    )


def mapping(rel: Relation, params: dict[str, Any]) -> dict[str, str]:
    """The contract's CRM tables as SELECTs (BigQuery Standard SQL) over the HubSpot tables `rel` names."""
    client_id, user_id = _properties(params)
    contact, deal, deal_contact, stage, history, forms = (
        rel(t) for t in ("contact", "deal", "deal_contact", "deal_pipeline_stage", "contact_property_history",
                         "contact_form_submission"))

    def values(prop: str) -> str:
        """(contact_id, value, at): each distinct value a contact's property held, at its latest timestamp in the
        history, else (the current value only) at the contact's last modification."""
        return f"""
        history_values AS (
            SELECT CAST(contact_id AS STRING) AS contact_id, TRIM(value) AS value, MAX(`timestamp`) AS at
            FROM {history}
            WHERE name = {sql_string(prop)} AND NULLIF(TRIM(value), '') IS NOT NULL
            GROUP BY 1, 2
        ),
        current_values AS (
            SELECT CAST(id AS STRING) AS contact_id, TRIM(CAST(property_{prop} AS STRING)) AS value,
                MAX(property_lastmodifieddate) AS at
            FROM {contact}
            WHERE NULLIF(TRIM(CAST(property_{prop} AS STRING)), '') IS NOT NULL
            GROUP BY 1, 2
        ),
        property_values AS (
            SELECT * FROM history_values
            UNION ALL
            SELECT c.* FROM current_values AS c
            LEFT JOIN history_values AS h ON h.contact_id = c.contact_id AND h.value = c.value
            WHERE h.contact_id IS NULL
        )"""

    contacts = f"""
    SELECT
        CAST(id AS STRING) AS contact_id,
        property_email AS email,
        property_firstname AS first_name,
        property_lastname AS last_name,
        property_company AS company_name,
        property_jobtitle AS job_title,
        property_lifecyclestage AS lifecycle_stage,
        CAST(property_{user_id} AS STRING) AS external_id,
        property_createdate AS created_at,
        property_lastmodifieddate AS updated_at,
        _fivetran_deleted,
        _fivetran_synced,
        CAST(NULL AS STRING) AS company_domain
    FROM {contact}"""

    deals = f"""
    WITH contacts AS (
        SELECT CAST(id AS STRING) AS contact_id, MIN(property_createdate) AS created_at,
            LOGICAL_AND(COALESCE(_fivetran_deleted, FALSE)) AS is_deleted
        FROM {contact}
        GROUP BY 1
    ),
    links AS (
        SELECT DISTINCT CAST(deal_id AS STRING) AS deal_id, CAST(contact_id AS STRING) AS contact_id
        FROM {deal_contact}
    ),
    ranked AS (
        SELECT
            l.deal_id,
            l.contact_id,
            COUNT(*) OVER (PARTITION BY l.deal_id) AS contacts,
            ROW_NUMBER() OVER (
                PARTITION BY l.deal_id
                ORDER BY COALESCE(c.is_deleted, TRUE), c.created_at IS NULL, c.created_at,
                    SAFE_CAST(l.contact_id AS INT64) IS NULL, SAFE_CAST(l.contact_id AS INT64), l.contact_id
            ) AS pick
        FROM links AS l
        LEFT JOIN contacts AS c ON c.contact_id = l.contact_id
    ),
    stages AS (
        {one_row_per(stage, "CAST(stage_id AS STRING)",
                     {"stage_id": "CAST(stage_id AS STRING)", "closed_won": "closed_won", "is_closed": "is_closed"},
                     "COALESCE(_fivetran_deleted, FALSE), closed_won, is_closed")}
    )
    SELECT
        CAST(d.deal_id AS STRING) AS deal_id,
        r.contact_id,
        d.property_dealname AS deal_name,
        CAST(CAST(d.property_amount AS STRING) AS NUMERIC) AS amount,
        d.property_deal_currency_code AS currency,
        CAST(d.deal_pipeline_stage_id AS STRING) AS stage,
        d.property_createdate AS created_at,
        d.property_closedate AS closed_at,
        d.is_deleted AS _fivetran_deleted,
        s.closed_won AS is_won,
        s.is_closed AS is_closed,
        COALESCE(r.contacts, 0) AS deal_contacts
    FROM {deal} AS d
    LEFT JOIN ranked AS r ON r.deal_id = CAST(d.deal_id AS STRING) AND r.pick = 1
    LEFT JOIN stages AS s ON s.stage_id = CAST(d.deal_pipeline_stage_id AS STRING)"""

    form_submissions = f"""
    WITH {values(client_id)},
    emails AS (
        {one_row_per(contact, "CAST(id AS STRING)", {"contact_id": "CAST(id AS STRING)", "email": "property_email"},
                     "COALESCE(_fivetran_deleted, FALSE), property_lastmodifieddate DESC, property_email")}
    ),
    forms AS (
        SELECT CAST(contact_id AS STRING) AS contact_id, CAST(conversion_id AS STRING) AS conversion_id, title,
            `timestamp` AS at
        FROM {forms}
    ),
    joined AS (
        SELECT
            COALESCE(f.contact_id, v.contact_id) AS contact_id,
            f.conversion_id,
            f.title,
            v.value AS ga_client_id,
            COALESCE(f.at, v.at) AS submitted_at
        FROM forms AS f
        FULL JOIN property_values AS v ON v.contact_id = f.contact_id AND v.at = f.at
    )
    SELECT
        COALESCE(j.conversion_id, CONCAT(j.contact_id, ':', {sql_string(client_id)}, ':', CAST(ROW_NUMBER() OVER (
            PARTITION BY j.contact_id, j.conversion_id IS NULL ORDER BY j.submitted_at, j.ga_client_id) AS STRING)))
            AS submission_id,
        COALESCE(j.title, {sql_string('property ' + client_id)}) AS form_name,
        e.email,
        j.ga_client_id,
        j.submitted_at
    FROM joined AS j
    LEFT JOIN emails AS e ON e.contact_id = j.contact_id"""

    identity_evidence = f"""
    WITH {values(user_id)},
    live AS (
        SELECT CAST(id AS STRING) AS contact_id, TRIM(CAST(property_{user_id} AS STRING)) AS current_value,
            property_hs_merged_object_ids AS merged_ids, property_lastmodifieddate AS updated_at
        FROM {contact}
        WHERE NOT COALESCE(_fivetran_deleted, FALSE)
    ),
    merges AS (
        SELECT
            l.contact_id,
            'crm_merge' AS edge_source,
            'crm_contact_id' AS identifier_type,
            TRIM(merged) AS identifier,
            CONCAT(l.contact_id, ':hs_merged_object_ids') AS evidence_id,
            l.updated_at AS evidence_at
        FROM live AS l
        CROSS JOIN UNNEST(SPLIT(COALESCE(l.merged_ids, ''), ';')) AS merged
        WHERE TRIM(merged) != '' AND TRIM(merged) != l.contact_id
    ),
    earlier_user_ids AS (
        SELECT
            v.contact_id,
            'crm_contact' AS edge_source,
            'user_id' AS identifier_type,
            v.value AS identifier,
            CONCAT(v.contact_id, ':', {sql_string(user_id)}, ':', CAST(ROW_NUMBER() OVER (
                PARTITION BY v.contact_id ORDER BY v.at, v.value) AS STRING)) AS evidence_id,
            v.at AS evidence_at
        FROM property_values AS v
        JOIN live AS l ON l.contact_id = v.contact_id
        WHERE v.value != COALESCE(l.current_value, '')
    )
    SELECT * FROM merges
    UNION ALL
    SELECT * FROM earlier_user_ids"""

    return {"contacts": contacts, "deals": deals, "form_submissions": form_submissions,
            "identity_evidence": identity_evidence}


CONNECTOR = Connector("fivetran_hubspot", "hubspot", tables, mapping)
