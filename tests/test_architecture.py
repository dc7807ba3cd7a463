"""The package's layers (docs/architecture.md): the import-linter contracts of pyproject.toml hold, no module of
c360 takes part in an import cycle, and only the warehouse layer tells engines apart by name."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import grimp

from c360.paths import PROJ_ROOT


def test_the_import_linter_contracts_hold():
    done = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"], cwd=PROJ_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert re.search(r"Contracts: [1-9][0-9]* kept, 0 broken", done.stdout)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _module_imports() -> dict[str, set[str]]:
    """Every c360 module's imports of other c360 modules. A package is its __init__: importing a submodule runs
    its package's __init__ first, which is no import of the importer's, so that edge is left out."""
    graph = grimp.build_graph("c360")
    return {m: {i for i in graph.find_modules_directly_imported_by(m) if not m.startswith(i + ".")}
            for m in graph.modules}


def test_no_module_of_c360_is_in_an_import_cycle():
    assert _cycles(_module_imports()) == []


def test_the_cycle_finder_finds_a_cycle():
    # the check above can fail: a two-module loop and a longer one are found, a chain is not
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"g"}}) == [
        ["a", "b"], ["c", "d", "e"]]


def test_only_the_warehouse_layer_compares_engine_names():
    # elsewhere a difference between engines is a capability (engine.supports_views, ...) or a dispatch on the
    # engine's class (c360.sources), never a test of its name
    pattern = re.compile(r"engine\.name|\.name ==|\.name !=")
    offending = []
    for path in [*sorted((PROJ_ROOT / "c360").rglob("*.py")), *sorted((PROJ_ROOT / "notebooks").glob("*.ipynb"))]:
        if path.is_relative_to(PROJ_ROOT / "c360" / "warehouse"):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                offending.append(f"{path.relative_to(PROJ_ROOT)}:{number}: {line.strip()}")
    assert offending == []


def test_every_engine_implements_the_engine_interface_with_its_signatures():
    # c360.warehouse.base.Engine is what the layers above may call: each registered engine has every member, and
    # each method takes the same parameters (names and order)
    import inspect

    from c360.warehouse import engines
    from c360.warehouse.base import Engine

    members = sorted({name for name in dir(Engine) if not name.startswith("_")} | set(Engine.__annotations__))
    assert {"relation", "execute", "query", "promote", "temp_table", "supports_views", "keeps_model_state"} <= set(
        members)
    for target, engine in engines().items():
        assert engine.target == target
        for name in members:
            assert hasattr(engine, name), f"{engine.__name__} lacks {name}"
            wanted = getattr(Engine, name, None)
            if callable(wanted):
                got = list(inspect.signature(getattr(engine, name)).parameters)
                assert got == list(inspect.signature(wanted).parameters), f"{engine.__name__}.{name}: {got}"
