"""A small dbt: models (SQL files and registered Python steps) with refs and sources, rendered for an engine,
materialized atomically (table, incremental, view) with a row audit, kept when nothing they read changed, and
checked by declared data tests. Knows nothing of c360's own models (c360.models, c360.steps)."""
