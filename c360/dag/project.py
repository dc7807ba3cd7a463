"""The models of a project: one BigQuery SQL file per model under c360/sql/<layer>/, and Python steps.

A model refers to other models with `{{ ref('name') }}` and to loaded sources with
`{{ source('system', 'table') }}`, as in dbt; values come in as `@name` query parameters. A Python step (for
iterative work such as connected components) registers itself with `python_model`; the modules that hold them
(c360.steps) are imported by c360.models, which is what notebooks and the runner build through.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Callable

from c360.paths import SQL_DIR

LAYERS = ("base", "identity", "customer", "attribution")


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


@cache
def sql_models() -> dict[str, Model]:
    """The SQL models, by name."""
    return {path.stem: Model(path.stem, layer, path) for layer in LAYERS
            for path in sorted((SQL_DIR / layer).glob("*.sql"))}


def discover() -> dict[str, Model]:
    """Every model, SQL files and registered Python steps, by name."""
    return {**sql_models(), **_PY_STEPS}
