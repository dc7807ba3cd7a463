"""The pipeline's notebooks: which they are, the parameters each declares, reading them back (a truncated file
is DiskFull), rendering them to HTML, and the cell a failed one stopped in."""
from __future__ import annotations

import shutil
from pathlib import Path

from c360.paths import NOTEBOOKS, stage_title
from c360.run.errors import DiskFull, disk_full_named

KERNEL = "python3"


def read_notebook(path: Path):
    """An executed notebook; one cut short (a write stopped by a full disk) raises DiskFull naming it."""
    import nbformat

    try:
        return nbformat.read(path, as_version=4)
    except nbformat.reader.NotJSONError:
        free = shutil.disk_usage(path.parent).free // 2**20
        raise DiskFull(f"{path} is truncated: no space left on device? ({free} MiB free there)") from None


def notebooks() -> list[Path]:
    """The pipeline's notebooks, in order (NN_name.ipynb)."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def declared_parameters(notebook: Path) -> list[str]:
    """The names a notebook's `parameters` cell declares."""
    import papermill as pm  # about 1 s to import: the runner starts the first kernel before (see run)

    return list(pm.inspect_notebook(str(notebook)).keys())


def report_title(notebook: str | Path, run_id: str = "") -> str:
    """A report's <title>: `c360 · 01 Base extraction · run <run_id>`."""
    return f"c360 · {stage_title(notebook)}" + (f" · run {run_id}" if run_id else "")


def render_html(ipynb: Path, run_id: str = "") -> Path:
    """The executed notebook as HTML beside it (code hidden), titled by its stage and run (report_title)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(read_notebook(ipynb),
                                          resources={"metadata": {"name": report_title(ipynb, run_id)}})
    html = ipynb.with_suffix(".html")
    with disk_full_named(html):
        html.write_text(body, encoding="utf-8")
    return html


def failed_cell(nb_path: Path) -> str:
    nb = read_notebook(nb_path)
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return f"cell {i} ({out.get('ename')}: {out.get('evalue')}){hint(out.get('evalue') or '')}"
    return "an unknown cell"


def hint(error: str) -> str:
    """What to do about an error a user can fix with a parameter."""
    if "Out of Memory" in error:
        return ("; DuckDB ran out of the memory duckdb_memory_limit allows: raise it (make run "
                "DUCKDB_MEMORY_LIMIT=4GB) or give its temporary folder more disk")
    return ""
