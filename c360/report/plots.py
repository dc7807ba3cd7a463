"""Report charts. Each draws one matplotlib figure from a small table; the notebook shows the table beside it
(nbval compares tables, not images). A table with nothing to draw (no rows, or no number in it) draws no chart:
the sentence `empty` is printed where the chart would be, never an empty figure or a plotting error."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

# labels come from data (campaigns, channels): `spend_$50_get_$10_off` is text, never mathtext to parse
plt.rcParams["text.parse_math"] = False


def _numbers(table: pd.DataFrame) -> pd.DataFrame:
    """The table's values as floats for drawing only (money arrives as decimal.Decimal objects; the table the
    notebook shows keeps them as they are). A value that is no number becomes NaN."""
    return table.apply(lambda col: pd.to_numeric(col, errors="coerce")).astype("float64")


def _drawable(table: pd.DataFrame, title: str, empty: str | None) -> pd.DataFrame | None:
    numbers = _numbers(table)
    if numbers.empty or numbers.isna().all().all():
        print(empty or f"No data for the chart '{title}'.")
        return None
    return numbers


def bars(table: pd.DataFrame, title: str, ylabel: str = "", horizontal: bool = False, empty: str | None = None):
    """Bars of every column of `table` against its index (grouped when there are several columns); with nothing to
    draw, prints `empty` (default: "No data for the chart '<title>'.") and returns None."""
    table = _drawable(table, title, empty)
    if table is None:
        return None
    kind = "barh" if horizontal else "bar"
    ax = table.plot(kind=kind, figsize=(10, 3.5), title=title, legend=table.shape[1] > 1, rot=0 if horizontal else 30)
    ax.set_xlabel(ylabel if horizontal else "")
    ax.set_ylabel("" if horizontal else ylabel)
    if table.shape[1] > 1:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    plt.tight_layout()
    return ax


def lines(table: pd.DataFrame, title: str, xlabel: str, ylabel: str, empty: str | None = None):
    """One line per column of `table` against its index; with nothing to draw, prints `empty` and returns None."""
    table = _drawable(table, title, empty)
    if table is None:
        return None
    ax = table.plot(figsize=(10, 3.5), title=title, marker="o")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    plt.tight_layout()
    return ax
