"""Every path hangs off the project root: a notebook kernel's working directory is its own folder."""
from __future__ import annotations

from pathlib import Path

PROJ_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = PROJ_ROOT / "notebooks"
PARAMS_DIR = PROJ_ROOT / "params"
REPORTS = PROJ_ROOT / "reports"
SQL_DIR = Path(__file__).resolve().parent / "sql"
SEEDS_DIR = Path(__file__).resolve().parent / "seeds"


def resolve(path: str | Path) -> Path:
    """An absolute path; a relative one is taken from the project root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else PROJ_ROOT / p


def display(path: str | Path) -> str:
    """A path as reports show it: relative to the project root when inside it."""
    p = resolve(path)
    try:
        return str(p.relative_to(PROJ_ROOT))
    except ValueError:
        return str(p)


def stage_title(notebook: str | Path) -> str:
    """A notebook's stage name, from its file name: `01_base_extraction.ipynb` -> `01 Base extraction`."""
    number, _, rest = Path(notebook).stem.partition("_")
    words = rest.replace("_", " ")
    return f"{number} {words[:1].upper()}{words[1:]}".strip()
