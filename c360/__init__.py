"""c360: a reproducible Customer 360 from a GA4 BigQuery export and a CRM.

Layers, top to bottom (each imports only from those below it; docs/architecture.md):
run (cli, runner, kernels) > report (header, tables, plots) > models (c360's models) > steps (identity graph,
channel models) > dag (a small dbt: render, materialize, keep, data tests) > sources (the data contract, read into
or in place for a warehouse) > warehouse (the engines) > params, pii, money, attribution, faults, paths.
demo (the synthetic data generator) stands alone.
"""
