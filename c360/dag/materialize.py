"""Materializations: a model built atomically as a table, an incremental table or a view, with its row audit.

A model whose SELECT has a `_drop_reason` column keeps the rows where it is NULL and records the others, counted
by reason, in `c360__row_audit`: nothing is dropped without a count.
"""
from __future__ import annotations

import re
import time
import weakref
from typing import Any

import pandas as pd

from c360 import faults, sources
from c360.dag.project import LAYERS, Model, discover  # noqa: F401  (LAYERS: the layers build() takes)
from c360.dag.render import config_of, plan, render, render_with_helpers, sources_of
from c360.dag.state import (
    DEFINITION_TABLE,
    STATE_TABLE,
    definition,
    fingerprint,
    is_intact,
    stored_definitions,
    stored_fingerprints,
    write_pairs,
)
from c360.sources.contract import TOUCHED_DATES
from c360.warehouse.base import WRITTEN_PARTITIONS, check_identifier

AUDIT_TABLE = "c360__row_audit"

TIMINGS_TABLE = "c360__model_runs"


_ENSURED: weakref.WeakSet = weakref.WeakSet()  # the engines whose bookkeeping tables exist (a job each, once)


def _ensure_audit_table(engine) -> None:
    """The row audit exists (and, where checksums are taken per partition, the record of partitions written)."""
    if engine in _ENSURED and engine.has_table(AUDIT_TABLE):
        return
    engine.execute(f"CREATE TABLE IF NOT EXISTS {engine.relation(AUDIT_TABLE)} "
                   "(model STRING, outcome STRING, row_count INT64, partition_key STRING)")
    if "partition_key" not in engine.columns(AUDIT_TABLE):  # a warehouse written by c360 before 0.1.0's increments
        engine.execute(f"ALTER TABLE {engine.relation(AUDIT_TABLE)} ADD COLUMN partition_key STRING")
    if engine.checksums_by_partition:
        engine.execute(f"CREATE TABLE IF NOT EXISTS {engine.relation(WRITTEN_PARTITIONS)} "
                       "(table_name STRING, part STRING, before STRING, written_at TIMESTAMP)")
    _ENSURED.add(engine)


def is_incremental(engine, model: Model, params: dict[str, Any]) -> bool:
    """An incremental model is built incrementally when its table exists, the run is not a full refresh,
    and the loader recorded which event dates changed."""
    return (config_of(model, engine.target)["materialized"] == "incremental" and not params.get("full_refresh", False)
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


def _outcomes(cfg: dict, audited: bool, rows: str) -> str:
    """The row-audit rows of relation `rows` (model @model): counted per outcome (kept, or the drop reason) and per
    partition of the model's partition_by."""
    part = cfg.get("partition_by")
    part_key = cfg.get("audit_key") or (f"CAST({part} AS STRING)" if part else "CAST(NULL AS STRING)")
    outcome = "COALESCE(_drop_reason, 'kept')" if audited else "'kept'"
    return (f"SELECT @model AS model, {outcome} AS outcome, COUNT(*) AS row_count, {part_key} AS partition_key "
            f"FROM {rows} GROUP BY 2, 4")


def _record_outcomes(engine, model: Model, cfg: dict, audited: bool, rows: str) -> None:
    """Append to the row audit the rows of relation `rows` (see _outcomes)."""
    engine.execute(f"INSERT INTO {engine.relation(AUDIT_TABLE)} {_outcomes(cfg, audited, rows)}", {"model": model.name})


def _publish_then_audit(engine, model: Model, cfg: dict, audited: bool) -> dict[str, int]:
    """Publish a rebuilt model where a transaction cannot hold DDL (BigQuery): the table is published from the
    staging table (promote, keeping the staging table: one atomic CREATE OR REPLACE), then one script replaces the
    model's audit rows in a DML transaction, counted from the staging table, and drops the staging table. A
    failure before the publish leaves the previous table and audit rows; one between the publish and the audit
    leaves the new table with the previous audit rows, which audit_agrees detects (the next run rebuilds the
    model); the staging table left is `_stage__*`, which a failed run drops. Returns the kept and dropped rows."""
    name, stage = {"model": model.name}, engine.relation(f"_stage__{model.name}")
    engine.promote(f"_stage__{model.name}", model.name, "_drop_reason" if audited else None, table_layout(cfg),
                   keep_stage=True)
    faults.point(f"{model.name}:published")
    audit = engine.relation(AUDIT_TABLE)
    forget = [f"DELETE FROM {engine.relation(WRITTEN_PARTITIONS)} WHERE table_name = @model"] \
        if engine.checksums_by_partition else []  # rebuilt whole: its checksum reads it whole
    engine.execute_atomically([f"DELETE FROM {audit} WHERE model = @model",
                               (f"INSERT INTO {audit} (model, outcome, row_count, partition_key) "
                                f"{_outcomes(cfg, audited, stage)}"), *forget], name, then=[f"DROP TABLE {stage}"])
    faults.point(f"{model.name}:audited")
    return audit_counts(engine, [model.name])[model.name]


def audit_counts(engine, names: list[str]) -> dict[str, dict[str, int]]:
    """Per model of `names`: the rows the row audit records as kept and as dropped (every reason), in one query."""
    if not names:
        return {}
    found = engine.query(f"SELECT model, SUM(IF(outcome = 'kept', row_count, 0)) AS kept, "
                         f"SUM(IF(outcome = 'kept', 0, row_count)) AS dropped FROM {engine.relation(AUDIT_TABLE)} "
                         "WHERE model IN UNNEST(@models) GROUP BY model", {"models": sorted(names)})
    out = {n: {"kept": 0, "dropped": 0} for n in names}
    for r in found.itertuples():
        out[r.model] = {"kept": int(r.kept), "dropped": int(r.dropped)}
    return out


def audits_agree(engine, names: list[str]) -> dict[str, bool]:
    """Per model of `names`: the row audit's kept rows are the rows of its table. Always so where a model's table
    and its audit rows commit together (transactional_ddl); elsewhere a run stopped between the two leaves them
    apart, and such a model is not kept (build rebuilds it in full). One query for all of them (a job each would
    cost a round trip each on BigQuery)."""
    if engine.transactional_ddl or not names:
        return {n: True for n in names}
    present = [n for n in names if engine.has_table(n)]
    if not present or not engine.has_table(AUDIT_TABLE):
        return {n: False for n in names}
    counts = audit_counts(engine, present)
    tables = engine.query(" UNION ALL ".join(f"SELECT '{check_identifier(n)}' AS model, COUNT(*) AS n FROM "
                                             f"{engine.relation(n)}" for n in present))
    rows = {r.model: int(r.n) for r in tables.itertuples()}
    return {n: n in rows and counts[n]["kept"] == rows[n] for n in names}  # an empty table has no kept rows


def audit_agrees(engine, name: str) -> bool:
    """audits_agree of one model."""
    return audits_agree(engine, [name])[name]


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
    cfg = config_of(model, engine.target)
    if cfg["materialized"] == "view":
        return _build_view(engine, model, cfg, params, started)
    incremental = is_incremental(engine, model, params)
    since = None  # shard_overwrite: the first GA4 shard date an incremental build re-reads
    if incremental and cfg.get("strategy") == "shard_overwrite":
        since = sources.reader(engine.target).ga4_window(engine, int(params.get("lookback_days", 3)))
        incremental = since is not None
    target, stage, audit = engine.relation(model.name), engine.relation(f"_stage__{model.name}"), \
        engine.relation(AUDIT_TABLE)
    engine.replace_table(f"_stage__{model.name}", render(model, engine, incremental, ga4_since=since), params)
    faults.point(model.name)
    _ensure_audit_table(engine)
    audited = "_drop_reason" in engine.columns(f"_stage__{model.name}")
    if not incremental and not engine.transactional_ddl:
        shards = _shards_read(engine, model) if cfg.get("strategy") == "shard_overwrite" else None
        counts = _publish_then_audit(engine, model, cfg, audited)
        if shards is not None:  # recorded once published: an incremental run reads from them (ga4_window)
            _record_shards(engine, model, since, shards, dates_from=target)
        return {"model": model.name, "rows": counts["kept"], "dropped": counts["dropped"], "incremental": False,
                "seconds": round(time.perf_counter() - started, 3)}
    if incremental:
        _merge_increment(engine, model, cfg, audited, since)
        return _result(engine, model.name, audited, incremental, started)
    with engine.transaction():
        engine.execute(f"DELETE FROM {audit} WHERE model = @model", {"model": model.name})
        _record_outcomes(engine, model, cfg, audited, stage)
        if cfg.get("strategy") == "shard_overwrite":
            _record_shards(engine, model, since)
        engine.promote(f"_stage__{model.name}", model.name, "_drop_reason" if audited else None,
                       table_layout(cfg))
    return _result(engine, model.name, audited, incremental, started)


def _result(engine, name: str, audited: bool, incremental: bool, started: float) -> dict[str, Any]:
    """What build_model returns for a model built: its rows, its dropped rows (as audited), seconds."""
    counts = audit_counts(engine, [name])[name]
    return {"model": name, "rows": counts["kept"], "dropped": counts["dropped"] if audited else 0,
            "incremental": incremental, "seconds": round(time.perf_counter() - started, 3)}


def _merge_increment(engine, model: Model, cfg: dict, audited: bool, since: str | None) -> None:
    """An incremental build's staging table merged into the model's table: its rows for the partitions
    (insert_overwrite), shards (shard_overwrite) or keys (merge) the run touched replaced, and the row audit of
    those, in one transaction of DML statements (on BigQuery too: a multi-statement transaction), so a failure
    leaves the table and its audit rows as they were; then the staging table is dropped."""
    part, target = cfg.get("partition_by"), engine.relation(model.name)
    stage, audit = engine.relation(f"_stage__{model.name}"), engine.relation(AUDIT_TABLE)
    cols, keep = _kept(audited)
    counted = stage  # the rows the audit counts: the stage's, or (merge) the merged table's
    strategy = cfg.get("strategy")
    if strategy == "insert_overwrite":
        touched = engine.relation(TOUCHED_DATES)
        replaced = f"SELECT event_date AS p FROM {touched}"
        statements = [f"DELETE FROM {target} WHERE {part} IN (SELECT event_date FROM {touched})",
                      f"INSERT INTO {target} SELECT {cols} FROM {stage} {keep}",
                      (f"DELETE FROM {audit} WHERE model = @model AND (partition_key IS NULL OR "
                       f"partition_key IN (SELECT CAST(event_date AS STRING) FROM {touched}))")]
    elif strategy == "shard_overwrite":
        statements, replaced = _overwrite_shards(engine, model, cfg, since, cols, keep)
    elif strategy == "merge":
        if audited:  # a merge rebuilds only some keys: its drop counts could not stay whole
            raise ValueError(f"{model.name}: a merge model cannot drop rows (_drop_reason)")
        key = cfg["unique_key"]
        also = f" OR ({cfg['delete_where']})" if cfg.get("delete_where") else ""
        replaced = f"SELECT {part} AS p FROM {target} WHERE {key} IN (SELECT {key} FROM {stage}){also}" \
            if part else None
        statements = [f"DELETE FROM {target} WHERE {key} IN (SELECT {key} FROM {stage}){also}",
                      f"INSERT INTO {target} SELECT {cols} FROM {stage} {keep}",
                      f"DELETE FROM {audit} WHERE model = @model"]
        counted = target  # the audit counts the merged table, not the keys this run rebuilt
    else:
        raise ValueError(f"{model.name}: unknown incremental strategy {strategy!r}")
    read = _shards_read(engine, model) if strategy == "shard_overwrite" else None
    statements.append(f"INSERT INTO {audit} (model, outcome, row_count, partition_key) "
                      f"{_outcomes(cfg, audited, counted)}")
    values = {"model": model.name}
    if engine.checksums_by_partition and part:  # first, before its rows change: what the manifest's checksum re-reads
        statements.insert(0, f"INSERT INTO {engine.relation(WRITTEN_PARTITIONS)} (table_name, part, before, "
                          f"written_at) SELECT DISTINCT @model, CAST(p AS STRING), @written_before, "
                          f"CURRENT_TIMESTAMP() FROM (SELECT {part} AS p FROM {stage} UNION ALL {replaced}) AS w")
        values["written_before"] = engine.table_mark(model.name)
    engine.execute_atomically(statements, values)
    if read is not None:  # after the merge: a run stopped before it re-reads these shards (ga4_window)
        _record_shards(engine, model, since, read)
    engine.execute(f"DROP TABLE {stage}")


def _overwrite_shards(engine, model: Model, cfg: dict, since: str, cols: str, keep: str) -> tuple[list[str], str]:
    """shard_overwrite (base__ga4__events on BigQuery): the stage holds every row of the GA4 shards dated `since`
    on; the statements that replace the rows the table holds from those shards with its kept rows: a DELETE whose
    partition filter is a constant (the earliest event date those shards held or hold: a late event lands in its
    own, earlier date), so BigQuery prunes every older partition, then an INSERT (the emulator fails a MERGE
    inside a transaction); that record the event dates it changes
    (c360__touched_dates); and that remove those shards' audit rows (its audit_key ends with the shard). And a
    SELECT of the partition (`p`) of each row it replaces."""
    part, target, stage = cfg["partition_by"], engine.relation(model.name), engine.relation(f"_stage__{model.name}")
    before = sources.reader(engine.target).ga4_floor(engine, since)
    first = engine.query(f"SELECT CAST(MIN({part}) AS STRING) AS d FROM {stage}")["d"].iloc[0]
    floor = min(d for d in (before, None if pd.isna(first) else first, f"{since[:4]}-{since[4:6]}-{since[6:]}")
                if d)
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", floor) or not re.fullmatch(r"[0-9]{8}", since):
        raise ValueError(f"{model.name}: not a date: {floor!r} / {since!r}")
    replaced = f"T.{part} >= DATE '{floor}' AND RIGHT(T.shard, 8) >= '{since}'"
    return [(f"INSERT INTO {engine.relation(TOUCHED_DATES)} SELECT DISTINCT {part} FROM {stage} "
             f"WHERE {part} IS NOT NULL UNION DISTINCT SELECT DISTINCT T.{part} FROM {target} AS T WHERE {replaced}"),
            f"DELETE FROM {target} AS T WHERE {replaced}",
            f"INSERT INTO {target} SELECT {cols} FROM {stage} {keep}",
            f"DELETE FROM {engine.relation(AUDIT_TABLE)} WHERE model = @model AND RIGHT(partition_key, 8) >= '{since}'"
            ], f"SELECT T.{part} AS p FROM {target} AS T WHERE {replaced}"


def _shards_read(engine, model: Model) -> dict[str, str | None]:
    """A shard_overwrite build's staging table: each GA4 shard it read, with the earliest event date in it."""
    first = engine.query(f"SELECT shard, CAST(MIN(event_date) AS STRING) AS d "
                         f"FROM {engine.relation(f'_stage__{model.name}')} GROUP BY shard")
    return {r.shard: (None if pd.isna(r.d) else r.d) for r in first.itertuples()}


def _record_shards(engine, model: Model, since: str | None, read: dict[str, str | None] | None = None,
                   dates_from: str | None = None) -> None:
    """After a shard_overwrite build: the shards the table now holds, with the earliest event date of each one
    read (c360__loaded_shards: `read`, else from the staging table), and on a full build every event date as
    changed (c360__touched_dates, from relation `dates_from`, else the staging table)."""
    dates_from = dates_from or engine.relation(f"_stage__{model.name}")
    engine.execute(f"CREATE TABLE IF NOT EXISTS {engine.relation(TOUCHED_DATES)} (event_date DATE)")
    read = _shards_read(engine, model) if read is None else read
    if since is None:
        engine.execute(f"INSERT INTO {engine.relation(TOUCHED_DATES)} SELECT DISTINCT event_date FROM {dates_from} "
                       "WHERE event_date IS NOT NULL")
    sources.reader(engine.target).record_ga4_shards(engine, read, since)


def _build_view(engine, model: Model, cfg: dict, params: dict[str, Any], started: float) -> dict[str, Any]:
    """Build a view model (DuckDB): in one transaction, its helper tables (helper_table) are rebuilt, its
    audit rows counted from its SELECT, and the view replaced (a table of that name, from an earlier c360,
    with it), so a failure leaves the previous relation and helpers. No staging table: the view keeps only
    the rows whose `_drop_reason` is NULL, without that column. Never incremental: a view reads its tables as
    they are, and its helper tables as of its last build (right after each load).
    Its SQL is stored, so it takes no query parameters (its helper tables may)."""
    if not engine.supports_views:
        raise ValueError(f"{model.name}: materialized='view' is not implemented on {engine.target}")
    sql, helpers = render_with_helpers(model, engine)
    wanted = sorted(set(re.findall(r"@([A-Za-z_][A-Za-z0-9_]*)", sql)))
    if wanted:
        raise ValueError(f"{model.name}: a view cannot take query parameters ({', '.join(wanted)})")
    target, audit = engine.relation(model.name), engine.relation(AUDIT_TABLE)
    _ensure_audit_table(engine)
    name = {"model": model.name}
    with engine.transaction():
        for helper, helper_sql in helpers.items():
            engine.execute(f"CREATE OR REPLACE TABLE {engine.relation(helper)} AS {helper_sql}", params)
        faults.point(model.name)
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


def _kept_unchanged(model: Model, counts: dict[str, int]) -> dict[str, Any]:
    """The build result of a model kept as it was: its rows and dropped rows as the row audit recorded them
    (`counts`: audit_counts; a kept model's audit agrees with its table)."""
    return {"model": model.name, "rows": counts["kept"], "dropped": counts["dropped"], "incremental": False,
            "seconds": 0.0}


def build(engine, layer: str, params: dict[str, Any]) -> pd.DataFrame:
    """Build every model of a layer in dependency order.

    A model is kept as it is, not rebuilt, when nothing it is a function of changed since its last build (see
    fingerprint: its SQL or code, the parameters it reads, the models and source tables it reads; a source
    table by sources.marks: its content on DuckDB, its metadata on BigQuery), unless the run is a full
    refresh: a re-run that changes only the conversion window rebuilds attribution, not identity. The
    fingerprints are kept in c360__model_state; those of the models to rebuild are removed before the first is
    rebuilt and written once all are, so a layer that fails half-way is rebuilt next time. An engine without
    model state (keeps_model_state False) rebuilds every model.

    Args:
        engine: the warehouse (c360.warehouse.base.Engine).
        layer: one of LAYERS.
        params: the run's parameters; models read the ones they name as `@name`.
    Returns:
        One row per model: model, rows, dropped, incremental, unchanged (kept as it was), seconds.
    """
    if not engine.keeps_model_state:
        built = pd.DataFrame([{**_build_labelled(engine, m, params), "unchanged": False} for m in plan(layer)])
        _record_timings(engine, layer, built)
        return built
    state = stored_fingerprints(engine)
    refresh = bool(params.get("full_refresh", False))
    layer_models = plan(layer)
    # what the source tables hold now: their exact content (DuckDB), their metadata (BigQuery: never a scan)
    checksums = sources.marks(engine, sorted({s for m in layer_models for s in sources_of(m)}))
    marks: dict[str, str | None] = {}  # a model's fingerprint needs its inputs' fingerprints, not their rows
    for model in layer_models:
        marks[model.name] = fingerprint(engine, model, params, {**state, **checksums, **marks})
    # a model whose audit rows are not its table's (a run stopped between the two: BigQuery) is rebuilt in full;
    # asked (one query) of the models that would be kept, and of the incremental ones (built on their table)
    same = [m for m in layer_models if not refresh and marks[m.name] is not None and state.get(m.name) == marks[m.name]
            and is_intact(engine, m)]
    asked = [m.name for m in layer_models if m.fn is None and (m in same or (
        not refresh and config_of(m, engine.target)["materialized"] == "incremental"))]
    agrees = audits_agree(engine, asked)
    keep = {m.name for m in same if agrees.get(m.name, True)}
    kept_counts = audit_counts(engine, [m.name for m in layer_models if m.name in keep and m.fn is None]) \
        if engine.has_table(AUDIT_TABLE) else {}
    rebuild = [m.name for m in layer_models if m.name not in keep]
    # an incremental model whose SQL or parameter values changed is rebuilt in full (see definition)
    stored = stored_definitions(engine)
    defined = {m.name: definition(engine, m, params) for m in layer_models
               if m.name in rebuild and config_of(m, engine.target)["materialized"] == "incremental"}
    redefined = ({name for name, d in defined.items() if stored.get(name) != d}
                 | {n for n, ok in agrees.items() if not ok})
    # forgotten before any is rebuilt, remembered once all are (one write each, not one per model)
    state = {name: mark for name, mark in state.items() if name not in rebuild}
    stored = {name: d for name, d in stored.items() if name not in defined}
    if rebuild:
        write_pairs(engine, STATE_TABLE, "fingerprint", state)
    if defined:
        write_pairs(engine, DEFINITION_TABLE, "definition", stored)
    results = [{**(_kept_unchanged(m, kept_counts[m.name]) if m.name in kept_counts else
                   {"model": m.name, "rows": engine.row_count(m.name), "dropped": 0, "incremental": False,
                    "seconds": 0.0}), "unchanged": True} if m.name in keep
               else {**_build_labelled(engine, m, {**params, "full_refresh": True} if m.name in redefined else params),
                     "unchanged": False} for m in layer_models]
    done = {name: marks[name] for name in rebuild if marks[name] is not None}
    if done:
        write_pairs(engine, STATE_TABLE, "fingerprint", {**state, **done})
    if defined:
        write_pairs(engine, DEFINITION_TABLE, "definition", {**stored, **defined})
    built = pd.DataFrame(results)
    _record_timings(engine, layer, built)
    return built


def _build_labelled(engine, model: Model, params: dict[str, Any]) -> dict[str, Any]:
    """build_model, its jobs logged as the model's (engine.job_label: what the manifest sums per model)."""
    with engine.job_label(model.name):
        return build_model(engine, model, params)


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
