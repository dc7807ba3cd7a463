"""Notebook copies with injected parameters, for regression tests and for refreshing stored outputs.

The committed notebooks in notebooks/ carry outputs from a run on the fixtures; nbval re-executes them
and compares. `refresh` re-executes them deliberately (`make golden`) in a scratch warehouse.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import nbformat
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from c360.paths import PROJ_ROOT
from c360.run.notebooks import KERNEL, notebooks

INJECTED_TAG = "injected-parameters"  # papermill's tag on the cell it injects


def parameterized_copy(notebook: Path, dest: Path, values: dict[str, Any]) -> Path:
    """Copy `notebook` to `dest` with `values` injected after its `parameters` cell, by papermill itself (the
    cell tagged injected-parameters that a run gets)."""
    nb = parameterize_notebook(load_notebook_node(str(notebook)), values, kernel_name=KERNEL, language="python")
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)
    return dest


def _strip_volatile(nb) -> None:
    nb.metadata.pop("papermill", None)
    count = 0
    for i, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        if not cell.metadata.get("tags", True):  # the empty tags papermill's loader gives every cell
            cell.metadata.pop("tags")
        cell["id"] = f"c{i:02d}"
        if cell.cell_type == "code":  # nbval needs a count on every cell with outputs: number them in order
            count += 1
            cell.execution_count = count
            for out in cell.outputs:
                if "execution_count" in out:
                    out["execution_count"] = count


def refresh(values: dict[str, Any] | None = None) -> None:
    """Re-execute every pipeline notebook on the fixtures and store the outputs in notebooks/."""
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory() as tmp:
        values = values or {"warehouse": str(Path(tmp) / "c360.duckdb")}
        for nb_path in notebooks():
            copy = parameterized_copy(nb_path, Path(tmp) / nb_path.name, values)
            nb = nbformat.read(copy, as_version=4)
            NotebookClient(nb, kernel_name=KERNEL, resources={"metadata": {"path": str(PROJ_ROOT)}},
                           timeout=600).execute()
            nb.cells = [c for c in nb.cells if INJECTED_TAG not in c.metadata.get("tags", [])]
            _strip_volatile(nb)
            nbformat.write(nb, nb_path)
            print(f"[c360] stored outputs of {nb_path.name}")
