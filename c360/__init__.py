"""c360: a reproducible Customer 360 from a GA4 BigQuery export and a CRM.

Notebooks in notebooks/ call into this package: params (validated parameters), engine (the warehouse),
sources (the data contract), models (the SQL DAG), checks (data tests), report and pii (what readers see),
attribution (the models as plain functions) and runner (papermill).
"""
