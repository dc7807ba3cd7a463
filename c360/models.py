"""SQL models: one BigQuery SQL file per model under c360/sql/<layer>/, built in dependency order.

A model refers to other models with `{{ ref('name') }}` and to loaded sources with
`{{ source('system', 'table') }}`, as in dbt; values come in as `@name` query parameters.
`{{ ga4_events() }}` is the GA4 export flattened (c360/sql/_ga4_events.sql; the DuckDB loader stores it),
and `target.type` names the engine (duckdb | bigquery) for the rare model whose best plan (or materialization)
differs. A model whose SELECT has a `_drop_reason` column keeps the rows where it is NULL and records the
others, counted by reason, in `c360__row_audit`: nothing is dropped without a count.
"""
from __future__ import annotations

import hashlib
import inspect
import os
import re
import sys
import time
from dataclasses import dataclass
from functools import cache, lru_cache
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any, Callable

import jinja2
import pandas as pd

from c360.engine import check_identifier
from c360.paths import SQL_DIR

LAYERS = ("base", "identity", "customer", "attribution")
AUDIT_TABLE = "c360__row_audit"
TIMINGS_TABLE = "c360__model_runs"
STATE_TABLE = "c360__model_state"  # DuckDB: each model's fingerprint as of its last build (see build)
# DuckDB: each incremental model's definition (its SQL and parameter values) as of its last build (see build)
DEFINITION_TABLE = "c360__model_definitions"


@dataclass(frozen=True)
class Model:
    """One model: a SQL file, or a Python step (for iterative work such as connected components)."""

    name: str
    layer: str
    path: Path | None = None
    fn: Callable[[Any, dict[str, Any]], None] | None = None  # Python step: fn(engine, params) writes `name`
    refs: tuple[str, ...] = ()  # a Python step's inputs
    params: tuple[str, ...] = ()  # the parameters a Python step reads

    @property
    def template(self) -> str:
        return self.path.read_text(encoding="utf-8") if self.path else ""

    @property
    def header(self) -> str:
        """The leading comment block (SQL) or docstring (Python): grain and keys, as the model states them."""
        if self.fn is not None:
            return (self.fn.__doc__ or "").strip()
        lines = []
        for line in self.template.splitlines():
            if not line.startswith("--"):
                break
            lines.append(line[2:].strip())
        return "\n".join(lines)


_PY_STEPS: dict[str, Model] = {}


def python_model(name: str, layer: str, refs: tuple[str, ...], params: tuple[str, ...] = ()):
    """Register `fn(engine, params)` as the model `name`; it must write table `name` (atomically). `refs`: the
    models it reads; `params`: the parameters it reads (with its module's source, what decides whether an
    unchanged model is kept, see build)."""
    def register(fn):
        _PY_STEPS[name] = Model(name, layer, fn=fn, refs=tuple(refs), params=tuple(params))
        return fn
    return register


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


@cache
def discover() -> dict[str, Model]:
    """Every model, SQL files and registered Python steps, by name."""
    import c360.channel_models  # noqa: F401  (these modules register their Python steps)
    import c360.identity  # noqa: F401

    models = {}
    for layer in LAYERS:
        for path in sorted((SQL_DIR / layer).glob("*.sql")):
            models[path.stem] = Model(path.stem, layer, path)
    models.update(_PY_STEPS)
    return models


TOUCHED_DATES = "c360__touched_dates"  # event dates whose GA4 rows changed in this run (see c360.sources)


def _jinja(engine, recorder: set | None = None, sources: set | None = None, config: dict | None = None,
           incremental: bool = False, this: str = "", helpers: dict | None = None,
           target: str | None = None) -> jinja2.Environment:
    """The Jinja environment models render in; without an engine, names stay bare and `target.type` is
    `target` (None: no engine)."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    known = discover()

    def ref(name: str) -> str:
        if name not in known:
            raise KeyError(f"ref('{name}'): no such model")
        if recorder is not None:
            recorder.add(name)
        return engine.relation(name) if engine is not None else name

    def source(system: str, table: str) -> str:
        if sources is not None:
            sources.add(f"src__{system}__{table}")
        return engine.source(system, table) if engine is not None else f"src__{system}__{table}"

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
        if (engine.name if engine is not None else target) in (None, "duckdb"):  # the DuckDB loader stored the
            return export  # flattened rows (c360.sources)
        return f"({env.from_string(_GA4_EVENTS).render(export=export)})"

    env.globals.update(ref=ref, source=source, ga4_param=ga4_param, config=set_config,
                       is_incremental=lambda: incremental, touched_dates=touched_dates, ga4_events=ga4_events,
                       helper_table=helper_table, target={"type": engine.name if engine is not None else target},
                       this=engine.relation(this) if engine is not None and this else this)
    env.globals.update(_macros())
    return env


_GA4_EVENTS = (SQL_DIR / "_ga4_events.sql").read_text(encoding="utf-8")


def ga4_events_sql(export: str) -> str:
    """The GA4 flattening (c360/sql/_ga4_events.sql, BigQuery SQL) over `export`: a relation of the export's
    nested rows with their `_TABLE_SUFFIX`. The DuckDB loader runs it while it parses the shards."""
    return _jinja(None).from_string(_GA4_EVENTS).render(export=export)


@lru_cache(maxsize=1)
def _macros() -> dict:
    """The macros of c360/sql/_macros.sql, compiled once."""
    module = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(
        (SQL_DIR / "_macros.sql").read_text(encoding="utf-8")).module
    return {name: getattr(module, name) for name in dir(module) if not name.startswith("_")}


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
    from c360 import dialect

    model = discover()[name]
    if model.fn is not None:
        where = f"{model.fn.__module__.replace('.', '/')}.py: {model.fn.__name__}"
        raise ValueError(f"{name} is a Python step ({where}): its SQL is written as it runs")
    sql, helpers = _render(model, None, incremental, target)
    if target == "duckdb":
        return dialect.to_duckdb(sql), {h: dialect.to_duckdb(q) for h, q in helpers.items()}
    return sql, helpers


def render(model: Model, engine, incremental: bool = False) -> str:
    """The model's SQL with ref() and source() resolved for `engine` (its incremental form when asked)."""
    return _render(model, engine, incremental)[0]


def _render(model: Model, engine, incremental: bool = False, target: str | None = None
            ) -> tuple[str, dict[str, str]]:
    """render(), and the helper tables the SQL reads (name -> SELECT; see helper_table). Without an engine,
    names stay bare and `target` is the engine whose SQL it is."""
    helpers: dict[str, str] = {}
    sql = _jinja(engine, incremental=incremental, this=model.name, helpers=helpers, target=target).from_string(
        model.template).render()
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


def _ensure_audit_table(engine) -> None:
    engine.execute(f"CREATE TABLE IF NOT EXISTS {engine.relation(AUDIT_TABLE)} "
                   "(model STRING, outcome STRING, row_count INT64, partition_key STRING)")
    if "partition_key" not in engine.columns(AUDIT_TABLE):  # a warehouse written by c360 before 0.1.0's increments
        engine.execute(f"ALTER TABLE {engine.relation(AUDIT_TABLE)} ADD COLUMN partition_key STRING")


def _fault_point(model: Model) -> None:
    """Test-only fault injection: C360_FAULT=pause:<model> stops here, mid-model, with the staging table (a
    view: its helper tables) written and nothing swapped, after writing its process id to the file named by
    C360_FAULT_MARKER; C360_FAULT=fail:<model> raises here."""
    fault = os.environ.get("C360_FAULT", "")
    if fault == f"fail:{model.name}":
        raise RuntimeError(f"C360_FAULT: {model.name} failed mid-build")
    if fault == f"pause:{model.name}":
        marker = os.environ.get("C360_FAULT_MARKER")
        if marker:
            Path(marker).write_text(str(os.getpid()))
        time.sleep(3600)


def is_incremental(engine, model: Model, params: dict[str, Any]) -> bool:
    """An incremental model is built incrementally when its table exists, the run is not a full refresh,
    and the loader recorded which event dates changed."""
    return (config_of(model, engine.name)["materialized"] == "incremental" and not params.get("full_refresh", False)
            and engine.has_table(model.name) and engine.has_table(TOUCHED_DATES) and not engine.is_view(model.name))


def table_layout(cfg: dict) -> str:
    """The BigQuery table options of a model's `{{ config(partition_by=..., cluster_by=...) }}`: partitioned by
    its date column, clustered by the ids readers filter and join on (DuckDB has no such options)."""
    layout = ""
    if cfg.get("partition_by"):
        layout += f" PARTITION BY {check_identifier(cfg['partition_by'])}"
    if cfg.get("cluster_by"):
        layout += " CLUSTER BY " + ", ".join(check_identifier(c.strip()) for c in cfg["cluster_by"].split(","))
    return layout


def _kept(audited: bool) -> tuple[str, str]:
    """The select list and WHERE clause of a model's kept rows, without `_drop_reason` (if it has one)."""
    return ("* EXCEPT (_drop_reason)", "WHERE _drop_reason IS NULL") if audited else ("*", "")


def _record_outcomes(engine, model: Model, cfg: dict, audited: bool, rows: str) -> None:
    """Append to the row audit the rows of relation `rows`, counted per outcome (kept, or the drop reason) and
    per partition of the model's partition_by."""
    part = cfg.get("partition_by")
    part_key = f"CAST({part} AS STRING)" if part else "CAST(NULL AS STRING)"
    outcome = "COALESCE(_drop_reason, 'kept')" if audited else "'kept'"
    engine.execute(f"INSERT INTO {engine.relation(AUDIT_TABLE)} SELECT @model, {outcome}, COUNT(*), {part_key} "
                   f"FROM {rows} GROUP BY 2, 4", {"model": model.name})


def _promote_stage(engine, name: str, audited: bool, layout: str = "") -> None:
    """Make `_stage__<name>` the model's table, without its dropped rows and `_drop_reason`. DuckDB renames
    the staging table in place (no copy of the rows); other engines copy the kept rows into a table with the
    model's `layout` (table_layout). Call inside the model's transaction."""
    stage, target = engine.relation(f"_stage__{name}"), engine.relation(name)
    if engine.name == "duckdb":
        if audited:
            engine.native(f"DELETE FROM {stage} WHERE _drop_reason IS NOT NULL")
            engine.native(f"ALTER TABLE {stage} DROP COLUMN _drop_reason")
        engine.native(f"DROP {'VIEW' if engine.is_view(name) else 'TABLE'} IF EXISTS {target}")
        engine.native(f"ALTER TABLE {stage} RENAME TO {target}")
        return
    cols, keep = _kept(audited)
    engine.execute(f"CREATE OR REPLACE TABLE {target}{layout} AS SELECT {cols} FROM {stage} {keep}")
    engine.execute(f"DROP TABLE {stage}")


def build_model(engine, model: Model, params: dict[str, Any]) -> dict[str, Any]:
    """Build one model atomically; returns its name, kept rows, dropped rows and seconds.

    The model's rows go to a staging table first; swapping them in (and updating the row audit) is one
    transaction, so a failure leaves the previous table. Incremental models (`{{ config(materialized=
    'incremental', ...) }}`) replace only the partitions (insert_overwrite, partition_by) or keys (merge,
    unique_key) the run touched. A view (materialized='view') is built as _build_view says.
    """
    started = time.perf_counter()
    if model.fn is not None:
        model.fn(engine, params)
        return {"model": model.name, "rows": engine.row_count(model.name), "dropped": 0,
                "seconds": round(time.perf_counter() - started, 3)}
    cfg = config_of(model, engine.name)
    if cfg["materialized"] == "view":
        return _build_view(engine, model, cfg, params, started)
    incremental = is_incremental(engine, model, params)
    target, stage, audit = engine.relation(model.name), engine.relation(f"_stage__{model.name}"), \
        engine.relation(AUDIT_TABLE)
    engine.replace_table(f"_stage__{model.name}", render(model, engine, incremental), params)
    _fault_point(model)
    _ensure_audit_table(engine)
    audited = "_drop_reason" in engine.columns(f"_stage__{model.name}")
    cols, keep = _kept(audited)
    part = cfg.get("partition_by")
    name = {"model": model.name}
    with engine.transaction():
        if not incremental:
            engine.execute(f"DELETE FROM {audit} WHERE model = @model", name)
        elif cfg.get("strategy") == "insert_overwrite":
            touched = engine.relation(TOUCHED_DATES)
            engine.execute(f"DELETE FROM {target} WHERE {part} IN (SELECT event_date FROM {touched})")
            engine.execute(f"INSERT INTO {target} SELECT {cols} FROM {stage} {keep}")
            engine.execute(f"DELETE FROM {audit} WHERE model = @model AND (partition_key IS NULL OR "
                           f"partition_key IN (SELECT CAST(event_date AS STRING) FROM {touched}))", name)
        elif cfg.get("strategy") == "merge":
            if audited:  # a merge rebuilds only some keys: its drop counts could not stay whole
                raise ValueError(f"{model.name}: a merge model cannot drop rows (_drop_reason)")
            key = cfg["unique_key"]
            also = f" OR ({cfg['delete_where']})" if cfg.get("delete_where") else ""
            engine.execute(f"DELETE FROM {target} WHERE {key} IN (SELECT {key} FROM {stage}){also}")
            engine.execute(f"INSERT INTO {target} SELECT {cols} FROM {stage} {keep}")
            engine.execute(f"DELETE FROM {audit} WHERE model = @model", name)
            stage = target  # the audit counts the merged table, not the keys this run rebuilt
        else:
            raise ValueError(f"{model.name}: unknown incremental strategy {cfg.get('strategy')!r}")
        _record_outcomes(engine, model, cfg, audited, stage)
        if incremental:
            engine.execute(f"DROP TABLE {engine.relation(f'_stage__{model.name}')}")
        else:
            _promote_stage(engine, model.name, audited, table_layout(cfg))
    rows = engine.row_count(model.name)
    dropped = 0
    if audited:
        dropped = _dropped(engine, model.name)
    return {"model": model.name, "rows": rows, "dropped": dropped, "incremental": incremental,
            "seconds": round(time.perf_counter() - started, 3)}


def _build_view(engine, model: Model, cfg: dict, params: dict[str, Any], started: float) -> dict[str, Any]:
    """Build a view model (DuckDB): in one transaction, its helper tables (helper_table) are rebuilt, its
    audit rows counted from its SELECT, and the view replaced (a table of that name, from an earlier c360,
    with it), so a failure leaves the previous relation and helpers. No staging table: the view keeps only
    the rows whose `_drop_reason` is NULL, without that column. Never incremental: a view reads its tables as
    they are, and its helper tables as of its last build (right after each load).
    Its SQL is stored, so it takes no query parameters (its helper tables may)."""
    if engine.name != "duckdb":
        raise ValueError(f"{model.name}: materialized='view' is implemented on DuckDB only")
    sql, helpers = _render(model, engine)
    wanted = sorted(set(re.findall(r"@([A-Za-z_][A-Za-z0-9_]*)", sql)))
    if wanted:
        raise ValueError(f"{model.name}: a view cannot take query parameters ({', '.join(wanted)})")
    target, audit = engine.relation(model.name), engine.relation(AUDIT_TABLE)
    _ensure_audit_table(engine)
    name = {"model": model.name}
    with engine.transaction():
        for helper, helper_sql in helpers.items():
            engine.execute(f"CREATE OR REPLACE TABLE {engine.relation(helper)} AS {helper_sql}", params)
        _fault_point(model)
        audited = "_drop_reason" in engine.query(f"SELECT * FROM ({sql}) AS q LIMIT 0").columns
        engine.execute(f"DELETE FROM {audit} WHERE model = @model", name)
        _record_outcomes(engine, model, cfg, audited, f"({sql}) AS q")
        if engine.has_table(model.name) and not engine.is_view(model.name):
            engine.execute(f"DROP TABLE {target}")
        cols, keep = _kept(audited)
        engine.execute(f"CREATE OR REPLACE VIEW {target} AS SELECT {cols} FROM ({sql}) AS q {keep}")
    counts = engine.query(f"SELECT outcome = 'kept' AS kept, SUM(row_count) AS n FROM {audit} "
                          "WHERE model = @model GROUP BY 1", name).set_index("kept")["n"]
    return {"model": model.name, "rows": int(counts.get(True, 0)), "dropped": int(counts.get(False, 0)),
            "incremental": False, "seconds": round(time.perf_counter() - started, 3)}


@lru_cache(maxsize=1)
def _builder_version() -> str:
    """What every build depends on besides a model's own SQL or code: DuckDB's version and the sources of the
    modules that build, translate and run the SQL."""
    import duckdb

    h = hashlib.sha256(duckdb.__version__.encode())
    for module in ("models.py", "engine.py", "dialect.py"):
        h.update(Path(__file__).with_name(module).read_bytes())
    return h.hexdigest()


def _step_code(fn: Callable) -> str:
    """The source of a Python step's module and of every c360 module it uses, directly or through another."""
    todo, seen = [sys.modules[fn.__module__]], {}
    while todo:
        module = todo.pop()
        if module.__name__ in seen:
            continue
        seen[module.__name__] = inspect.getsource(module)
        for value in vars(module).values():
            used = value if inspect.ismodule(value) else sys.modules.get(getattr(value, "__module__", None) or "")
            if used is not None and used.__name__.split(".")[0] == "c360" and used.__name__ not in seen:
                todo.append(used)
    return "".join(f"# {name}\n{seen[name]}" for name in sorted(seen))


def fingerprint(engine, model: Model, params: dict[str, Any], inputs: dict[str, str]) -> str | None:
    """What the model's table is a function of: its SQL as DuckDB runs it (helper tables included) or its Python
    code (_step_code), the values of the parameters it reads, the fingerprints of the models it reads and the exact
    content checksums of the source tables it reads (`inputs`, by name), and the builder (_builder_version).
    None when an input has none (a model built before fingerprints were kept): such a model is rebuilt."""
    from c360 import dialect

    h = hashlib.sha256(f"{_builder_version()}\n{model.name}\n".encode())
    if model.fn is not None:
        h.update(_step_code(model.fn).encode())
        used = {k: params.get(k) for k in model.params}
        reads = sorted(model.refs)
    else:
        sql, helpers = _render(model, engine)
        for text in (sql, *(helpers[k] for k in sorted(helpers))):
            h.update(dialect.to_duckdb(text).encode() + b"\n")
        used = {k: params.get(k) for k in sorted(set(re.findall(r"@([A-Za-z_][A-Za-z0-9_]*)",
                                                                 "\n".join([sql, *helpers.values()]))))}
        reads = sorted(dependencies(model) | sources_of(model))
    h.update(repr(sorted(used.items())).encode())
    for name in reads:
        if inputs.get(name) is None:
            return None
        h.update(f"{name}={inputs[name]}\n".encode())
    return h.hexdigest()


def definition(engine, model: Model, params: dict[str, Any]) -> str:
    """What an incremental model's rows are a function of besides its input rows: its SQL as DuckDB runs it
    (helper tables included) and the values of the parameters it reads (`@name`). When it is not the one of the
    model's last build, an incremental build would merge the new definition's rows for the touched dates only
    and keep the old definition's rows elsewhere, so build() rebuilds the model in full."""
    from c360 import dialect

    sql, helpers = _render(model, engine)
    texts = [sql, *(helpers[k] for k in sorted(helpers))]
    used = {k: params.get(k) for k in sorted(set(re.findall(r"@([A-Za-z_][A-Za-z0-9_]*)", "\n".join(texts))))}
    h = hashlib.sha256(f"{model.name}\n".encode())
    for text in texts:
        h.update(dialect.to_duckdb(text).encode() + b"\n")
    h.update(repr(sorted(used.items())).encode())
    return h.hexdigest()


def _definitions(engine) -> dict[str, str]:
    if not engine.has_table(DEFINITION_TABLE):
        engine.native(f"CREATE TABLE {DEFINITION_TABLE} (model VARCHAR, definition VARCHAR)")
        return {}
    return dict(engine.native(f"SELECT model, definition FROM {DEFINITION_TABLE}").fetchall())


def _state(engine) -> dict[str, str]:
    if not engine.has_table(STATE_TABLE):
        engine.native(f"CREATE TABLE {STATE_TABLE} (model VARCHAR, fingerprint VARCHAR)")
        return {}
    return dict(engine.native(f"SELECT model, fingerprint FROM {STATE_TABLE}").fetchall())


def _intact(engine, model: Model) -> bool:
    """The model's relation is there as its materialization makes it (a view with its helper tables, or a
    table): what a kept model must be."""
    if not engine.has_table(model.name):
        return False
    if model.fn is not None or config_of(model, engine.name)["materialized"] != "view":
        return not engine.is_view(model.name)
    return engine.is_view(model.name) and all(engine.has_table(h) for h in _render(model, engine)[1])


def _dropped(engine, name: str) -> int:
    """The rows the row audit records as dropped from model `name` (every reason)."""
    return int(engine.query(f"SELECT COALESCE(SUM(row_count), 0) AS n FROM {engine.relation(AUDIT_TABLE)} "
                            "WHERE model = @model AND outcome != 'kept'", {"model": name})["n"].iloc[0])


def _kept_unchanged(engine, model: Model) -> dict[str, Any]:
    """The build result of a model kept as it was: its rows, and its dropped rows as the audit recorded them."""
    dropped = _dropped(engine, model.name) if engine.has_table(AUDIT_TABLE) else 0
    return {"model": model.name, "rows": engine.row_count(model.name), "dropped": dropped,
            "incremental": False, "seconds": 0.0}


def build(engine, layer: str, params: dict[str, Any]) -> pd.DataFrame:
    """Build every model of a layer in dependency order.

    On DuckDB a model is kept as it is, not rebuilt, when nothing it is a function of changed since its last
    build (see fingerprint: its SQL or code, the parameters it reads, the models and source tables it reads),
    unless the run is a full refresh: a re-run that changes only the conversion window rebuilds attribution,
    not identity. The fingerprints are kept in c360__model_state; those of the models to rebuild are removed
    before the first is rebuilt and written once all are, so a layer that fails half-way is rebuilt next time.
    BigQuery rebuilds every model.

    Args:
        engine: the warehouse (c360.engine).
        layer: one of LAYERS.
        params: the run's parameters; models read the ones they name as `@name`.
    Returns:
        One row per model: model, rows, dropped, incremental, unchanged (kept as it was), seconds.
    """
    if engine.name != "duckdb":
        built = pd.DataFrame([{**build_model(engine, m, params), "unchanged": False} for m in plan(layer)])
        _record_timings(engine, layer, built)
        return built
    state = _state(engine)
    refresh = bool(params.get("full_refresh", False))
    layer_models = plan(layer)
    wanted = sorted({s for m in layer_models for s in sources_of(m)} & set(engine.tables()))
    checksums = engine.checksums(wanted, exact=True)  # what the source tables hold now, to the last bit
    marks: dict[str, str | None] = {}  # a model's fingerprint needs its inputs' fingerprints, not their rows
    for model in layer_models:
        marks[model.name] = fingerprint(engine, model, params, {**state, **checksums, **marks})
    keep = {m.name for m in layer_models if not refresh and marks[m.name] is not None
            and state.get(m.name) == marks[m.name] and _intact(engine, m)}
    rebuild = [m.name for m in layer_models if m.name not in keep]
    # an incremental model whose SQL or parameter values changed is rebuilt in full (see definition)
    stored = _definitions(engine)
    defined = {m.name: definition(engine, m, params) for m in layer_models
               if m.name in rebuild and config_of(m, engine.name)["materialized"] == "incremental"}
    redefined = {name for name, d in defined.items() if stored.get(name) != d}
    # forgotten before any is rebuilt, remembered once all are (two statements, not two per model)
    engine.native(f"DELETE FROM {STATE_TABLE} WHERE model IN (SELECT UNNEST(?))", [rebuild])
    engine.native(f"DELETE FROM {DEFINITION_TABLE} WHERE model IN (SELECT UNNEST(?))", [sorted(defined)])
    results = [{**_kept_unchanged(engine, m), "unchanged": True} if m.name in keep
               else {**build_model(engine, m, {**params, "full_refresh": True} if m.name in redefined else params),
                     "unchanged": False} for m in layer_models]
    done = [(name, marks[name]) for name in rebuild if marks[name] is not None]
    if done:
        engine.native(f"INSERT INTO {STATE_TABLE} SELECT * FROM (SELECT UNNEST(?), UNNEST(?))",
                      [[n for n, _ in done], [m for _, m in done]])
    if defined:
        engine.native(f"INSERT INTO {DEFINITION_TABLE} SELECT * FROM (SELECT UNNEST(?), UNNEST(?))",
                      [sorted(defined), [defined[n] for n in sorted(defined)]])
    built = pd.DataFrame(results)
    _record_timings(engine, layer, built)
    return built


def _record_timings(engine, layer: str, built: pd.DataFrame) -> None:
    """Keep the last build of each layer in c360__model_runs (what `make bench` reports per model)."""
    runs = built.assign(layer=layer)[["layer", "model", "rows", "seconds"]]
    if engine.has_table(TIMINGS_TABLE):
        previous = engine.query(f"SELECT layer, model, `rows`, seconds FROM {engine.relation(TIMINGS_TABLE)}")
        runs = pd.concat([previous[previous["layer"] != layer], runs], ignore_index=True)
    engine.write_frame(TIMINGS_TABLE, runs)


def row_accounting(engine, rows_read: dict[str, int] | None = None, layer: str | None = None) -> pd.DataFrame:
    """Per model (of `layer`, or all): rows in, kept, dropped by reason, and (given rows read per source table)
    whether input equals what was read. Rows set aside at load time (c360__quarantine) count as `malformed`.
    Reasons that dropped nothing in these models are left out, and so are models that summarize several sources
    (base__reporting_currency: one row from the deals and the ad spend)."""
    audit = engine.query(f"SELECT model, outcome, row_count FROM {engine.relation(AUDIT_TABLE)}")
    summaries = {m.name for m in discover().values() if len(sources_of(m)) > 1}
    audit = audit[~audit["model"].isin(summaries)].reset_index(drop=True)
    if layer is not None:
        audit = audit[audit["model"].isin([m.name for m in plan(layer)])].reset_index(drop=True)
    source_of = {m.name: s for m in discover().values() if m.name not in summaries for s in sources_of(m)}
    if engine.has_table("c360__quarantine"):
        quarantined = engine.query("SELECT source_table, SUM(row_count) AS n FROM c360__quarantine GROUP BY 1")
        model_of = {s: m for m, s in source_of.items()}
        for r in quarantined.itertuples():
            if r.source_table in model_of and model_of[r.source_table] in set(audit["model"]):
                audit.loc[len(audit)] = [model_of[r.source_table], "malformed", r.n]
    wide = audit.pivot_table(index="model", columns="outcome", values="row_count", aggfunc="sum", fill_value=0)
    wide = wide[["kept", *sorted(c for c in wide.columns if c != "kept" and wide[c].sum() > 0)]]
    wide.insert(0, "input", wide.sum(axis=1))
    wide.columns.name = None
    wide = wide.reset_index()
    if rows_read is not None:
        wide["rows_read"] = [rows_read.get(source_of.get(m), 0) for m in wide["model"]]
        wide["balanced"] = wide["input"] == wide["rows_read"]
    return wide
