"""What a model's SQL says: rendered for an engine (refs and sources resolved), its refs, sources and config,
and the order of a layer's models that they give.

`{{ ga4_events() }}` is the GA4 export flattened (c360.sources.flatten; the DuckDB loader stores it), and
`target.type` names the engine (duckdb | bigquery) for the rare model whose best plan (or materialization)
differs.
"""
from __future__ import annotations

from functools import lru_cache
from graphlib import TopologicalSorter

import jinja2

from c360.dag.project import Model, discover
from c360.sources import ga4_events as source_ga4_events
from c360.sources import relation as source_relation
from c360.sources.contract import TOUCHED_DATES
from c360.sources.flatten import ga4_param, macros
from c360.warehouse import engine_class
from c360.warehouse.base import check_identifier


def _jinja(engine, recorder: set | None = None, sources: set | None = None, config: dict | None = None,
           incremental: bool = False, this: str = "", helpers: dict | None = None,
           target: str | None = None, ga4_since: str | None = None) -> jinja2.Environment:
    """The Jinja environment models render in; without an engine, names stay bare and `target.type` is
    `target` (None: no engine). `ga4_since` (YYYYMMDD): `ga4_events()` reads the export from that shard date on
    (an incremental build on an engine that reads it in place)."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    known = discover()
    # the engine's type (without an engine: `target`; for analysis only, DuckDB)
    kind = engine.target if engine is not None else (target or "duckdb")

    def ref(name: str) -> str:
        if name not in known:
            raise KeyError(f"ref('{name}'): no such model")
        if recorder is not None:
            recorder.add(name)
        return engine.relation(name) if engine is not None else name

    def source(system: str, table: str) -> str:
        if sources is not None:
            sources.add(f"src__{system}__{table}")
        return source_relation(engine, system, table) if engine is not None else f"src__{system}__{table}"

    def set_config(**kwargs) -> str:
        if config is not None:
            config.update(kwargs)
        return ""

    def touched_dates() -> str:
        return engine.relation(TOUCHED_DATES) if engine is not None else TOUCHED_DATES

    def helper_table(name: str, sql: str) -> str:
        """A small table `<model>__<name>` of `sql`'s rows that a view model reads: built with the view, in its
        transaction, before it (see _build_view). Returns its SQL name."""
        full = f"{this}__{check_identifier(name)}"
        if helpers is not None:
            helpers[full] = sql
        return engine.relation(full) if engine is not None else full

    def ga4_events() -> str:
        export = source("ga4", "events")
        if ga4_since is not None and engine is not None:
            export = source_relation(engine, "ga4", "events", since=ga4_since)
        return source_ga4_events(kind, export)

    def run_query(sql: str) -> list:
        """The first column of `sql`'s rows, run at render time (dbt's run_query): constants a model's SQL needs
        for BigQuery to prune on. Without an engine, no rows."""
        if engine is None:
            return []
        return engine.query(sql).iloc[:, 0].tolist()

    env.globals.update(run_query=run_query, date_list=date_list)
    env.globals.update(ref=ref, source=source, ga4_param=ga4_param, config=set_config,
                       is_incremental=lambda: incremental, touched_dates=touched_dates, ga4_events=ga4_events,
                       helper_table=helper_table, target={"type": engine.target if engine is not None else target},
                       this=engine.relation(this) if engine is not None and this else this)
    env.globals.update(macros())
    return env


def date_list(values: list, one: bool = False) -> str:
    """Dates as SQL constants: `(DATE 'YYYY-MM-DD', ...)`, or with `one` the first value alone; none (or a NULL)
    is `CAST(NULL AS DATE)`, which matches nothing."""
    import datetime as dt

    import pandas as pd

    texts = [pd.Timestamp(v).date().isoformat() for v in values if v is not None and not pd.isna(v)]
    for text in texts:
        dt.date.fromisoformat(text)  # a date, nothing else, goes into the SQL
    literals = [f"DATE '{t}'" for t in sorted(set(texts))] or ["CAST(NULL AS DATE)"]
    return literals[0] if one else f"({', '.join(literals)})"


def config_of(model: Model, target: str | None = None) -> dict:
    """The model's `{{ config(...) }}` on engine `target` (its name: a config may depend on `target.type`):
    materialized (table | incremental | view), strategy (insert_overwrite with partition_by; merge with
    unique_key and an optional delete_where for target rows to drop as well)."""
    found = dict(_analyze(model.template, target)[2]) if model.fn is None else {}
    return {"materialized": "table", **found}


def compiled(name: str, target: str, incremental: bool = False) -> tuple[str, dict[str, str]]:
    """Model `name`'s SQL as engine `target` ('duckdb' or 'bigquery') runs it, with bare relation names, and the
    helper tables it reads (name -> SELECT; DuckDB views): what `python -m c360 sql` prints. Raises KeyError for
    an unknown model, ValueError for a Python step (its SQL is written as it runs)."""
    model = discover()[name]
    if model.fn is not None:
        where = f"{model.fn.__module__.replace('.', '/')}.py: {model.fn.__name__}"
        raise ValueError(f"{name} is a Python step ({where}): its SQL is written as it runs")
    sql, helpers = render_with_helpers(model, None, incremental, target)
    translate = engine_class(target).translate
    return translate(sql), {h: translate(q) for h, q in helpers.items()}


def render(model: Model, engine, incremental: bool = False, ga4_since: str | None = None) -> str:
    """The model's SQL with ref() and source() resolved for `engine` (its incremental form when asked; the GA4
    export from shard date `ga4_since` on, when given)."""
    return render_with_helpers(model, engine, incremental, ga4_since=ga4_since)[0]


def render_with_helpers(model: Model, engine, incremental: bool = False, target: str | None = None,
                        ga4_since: str | None = None) -> tuple[str, dict[str, str]]:
    """render(), and the helper tables the SQL reads (name -> SELECT; see helper_table). Without an engine,
    names stay bare and `target` is the engine whose SQL it is."""
    helpers: dict[str, str] = {}
    sql = _jinja(engine, incremental=incremental, this=model.name, helpers=helpers, target=target,
                 ga4_since=ga4_since).from_string(model.template).render()
    return sql, helpers


@lru_cache(maxsize=256)
def _analyze(template: str, target: str | None = None) -> tuple[frozenset, frozenset, tuple]:
    """The refs, sources and config of a model's SQL on engine `target` (cached on the text: rendering builds
    a Jinja env)."""
    refs: set[str] = set()
    srcs: set[str] = set()
    config: dict = {}
    _jinja(None, refs, srcs, config, target=target).from_string(template).render()
    return frozenset(refs), frozenset(srcs), tuple(sorted(config.items()))


def dependencies(model: Model) -> set[str]:
    """The models `model` refers to."""
    return set(model.refs) if model.fn is not None else set(_analyze(model.template)[0])


def sources_of(model: Model) -> set[str]:
    """The loaded source tables `model` reads."""
    return set() if model.fn is not None else set(_analyze(model.template)[1])


def plan(layer: str) -> list[Model]:
    """The models of one layer, in an order where each comes after the models it refers to."""
    models = discover()
    graph = {name: dependencies(m) for name, m in models.items() if m.layer == layer}
    order = TopologicalSorter(graph).static_order()
    return [models[n] for n in order if n in graph]


def mermaid(layers: tuple[str, ...]) -> str:
    """The models of `layers` and the source tables they read as a Mermaid flowchart (GitHub draws it): one box
    per layer, an arrow from each model or source to each model that reads it. Generated from the refs, so the
    picture in docs/architecture.md cannot drift from the SQL (tests/test_docs.py)."""
    models = discover()
    lines = ["flowchart LR"]
    read = sorted({s for m in models.values() if m.layer in layers for s in sources_of(m)})
    lines += ["    subgraph sources", *(f"        {s}[({s.removeprefix('src__')})]" for s in read), "    end"]
    for layer in layers:
        lines.append(f"    subgraph {layer}")
        lines += [f"        {m.name}{'[[' + m.name + ']]' if m.fn is not None else ''}"
                  for m in sorted(models.values(), key=lambda m: m.name) if m.layer == layer]
        lines.append("    end")
    for m in sorted(models.values(), key=lambda m: m.name):
        if m.layer in layers:
            lines += [f"    {d} --> {m.name}" for d in sorted(dependencies(m) | sources_of(m))]
    return "\n".join(lines) + "\n"
