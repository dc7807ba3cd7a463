"""The GA4 export flattened: c360/sql/_ga4_events.sql, one row per event with the event_params the models read.

Part of reading the source: the DuckDB loader runs it once as it parses the shards (c360.sources.files); on
BigQuery, base__ga4__events runs it over the export in place. `ga4_param` and the macros of c360/sql/_macros.sql are
also what every model renders with (c360.dag.render).
"""
from __future__ import annotations

import re
from functools import lru_cache

import jinja2

from c360.paths import SQL_DIR


def ga4_param(key: str, kind: str = "string") -> str:
    """SQL for one event_params value, read from whichever typed field holds it.

    GA4 puts the same key in different fields on different events (ga_session_id as int or string,
    session_engaged as '1' or 1), so each kind coalesces all of them. A value that is no INT64 (a string
    that is not a number, a double beyond INT64's range) is NULL, not an error that stops the load.
    """
    if not re.match(r"^[a-z_]+$", key):
        raise ValueError(f"not an event_params key: {key!r}")
    value = {
        "string": "COALESCE(p.value.string_value, CAST(p.value.int_value AS STRING), "
                  "CAST(p.value.double_value AS STRING), CAST(p.value.float_value AS STRING))",
        "int": "COALESCE(p.value.int_value, SAFE_CAST(p.value.string_value AS INT64), "
               "SAFE_CAST(p.value.double_value AS INT64), SAFE_CAST(p.value.float_value AS INT64))",
    }[kind]
    return f"(SELECT {value} FROM UNNEST(event_params) AS p WHERE p.key = '{key}' LIMIT 1)"


@lru_cache(maxsize=1)
def macros() -> dict:
    """The macros of c360/sql/_macros.sql, compiled once."""
    module = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(
        (SQL_DIR / "_macros.sql").read_text(encoding="utf-8")).module
    return {name: getattr(module, name) for name in dir(module) if not name.startswith("_")}


GA4_EVENTS = (SQL_DIR / "_ga4_events.sql").read_text(encoding="utf-8")


def ga4_events_sql(export: str) -> str:
    """The GA4 flattening (c360/sql/_ga4_events.sql, BigQuery SQL) over `export`: a relation of the export's
    nested rows with their `_TABLE_SUFFIX`."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.globals.update(ga4_param=ga4_param, **macros())
    return env.from_string(GA4_EVENTS).render(export=export)
