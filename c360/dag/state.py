"""Whether a model must be rebuilt: its fingerprint (what its table is a function of) and, for an incremental
model, its definition, as of its last build (tables c360__model_state and c360__model_definitions)."""
from __future__ import annotations

import hashlib
import inspect
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from c360.dag.project import Model
from c360.dag.render import config_of, dependencies, render_with_helpers, sources_of

STATE_TABLE = "c360__model_state"  # each model's fingerprint as of its last build (see build)

# each incremental model's definition (its SQL and parameter values) as of its last build (see build)
DEFINITION_TABLE = "c360__model_definitions"


@lru_cache(maxsize=1)
def _builder_version() -> str:
    """What every build depends on besides a model's own SQL or code: DuckDB's version and the sources of the
    modules that build, translate and run the SQL."""
    import duckdb

    h = hashlib.sha256(duckdb.__version__.encode())
    package = Path(__file__).resolve().parents[1]
    for module in ("dag/project.py", "dag/render.py", "dag/state.py", "dag/materialize.py", "sources/flatten.py",
                   "warehouse/duckdb.py", "warehouse/dialect.py", "warehouse/bigquery.py", "sources/bigquery.py"):
        h.update((package / module).read_bytes())
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
    """What the model's table is a function of: its SQL as the engine runs it (helper tables included) or its Python
    code (_step_code), the values of the parameters it reads, the fingerprints of the models it reads and the exact
    content checksums of the source tables it reads (`inputs`, by name), and the builder (_builder_version).
    None when an input has none (a model built before fingerprints were kept): such a model is rebuilt."""
    h = hashlib.sha256(f"{_builder_version()}\n{model.name}\n".encode())
    if model.fn is not None:
        h.update(_step_code(model.fn).encode())
        used = {k: params.get(k) for k in model.params}
        reads = sorted(model.refs)
    else:
        sql, helpers = render_with_helpers(model, engine)
        for text in (sql, *(helpers[k] for k in sorted(helpers))):
            h.update(engine.translate(text).encode() + b"\n")
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
    """What an incremental model's rows are a function of besides its input rows: its SQL as the engine runs it
    (helper tables included) and the values of the parameters it reads (`@name`). When it is not the one of the
    model's last build, an incremental build would merge the new definition's rows for the touched dates only
    and keep the old definition's rows elsewhere, so build() rebuilds the model in full."""
    sql, helpers = render_with_helpers(model, engine)
    texts = [sql, *(helpers[k] for k in sorted(helpers))]
    used = {k: params.get(k) for k in sorted(set(re.findall(r"@([A-Za-z_][A-Za-z0-9_]*)", "\n".join(texts))))}
    h = hashlib.sha256(f"{model.name}\n".encode())
    for text in texts:
        h.update(engine.translate(text).encode() + b"\n")
    h.update(repr(sorted(used.items())).encode())
    return h.hexdigest()


def stored_definitions(engine) -> dict[str, str]:
    """Each incremental model's definition as of its last build (c360__model_definitions)."""
    return _read_pairs(engine, DEFINITION_TABLE, "definition")


def stored_fingerprints(engine) -> dict[str, str]:
    """Each model's fingerprint as of its last build (c360__model_state)."""
    return _read_pairs(engine, STATE_TABLE, "fingerprint")


def _read_pairs(engine, table: str, column: str) -> dict[str, str]:
    if not engine.has_table(table):
        return {}
    frame = engine.query(f"SELECT model, {column} FROM {engine.relation(table)}")
    return dict(zip(frame["model"], frame[column]))


def write_pairs(engine, table: str, column: str, pairs: dict[str, str]) -> None:
    """Replace `table` (model, `column`) with `pairs`, atomically (engine.write_frame: a few dozen rows)."""
    names = sorted(pairs)
    engine.write_frame(table, pd.DataFrame({"model": pd.Series(names, dtype="object"),
                                            column: pd.Series([pairs[n] for n in names], dtype="object")}))


def is_intact(engine, model: Model) -> bool:
    """The model's relation is there as its materialization makes it (a view with its helper tables, or a
    table): what a kept model must be."""
    if not engine.has_table(model.name):
        return False
    if model.fn is not None or config_of(model, engine.target)["materialized"] != "view":
        return not engine.is_view(model.name)
    return engine.is_view(model.name) and all(engine.has_table(h) for h in render_with_helpers(model, engine)[1])
