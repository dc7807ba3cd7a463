"""Report charts. Each draws one matplotlib figure from a small table; the notebook shows the table beside it
(nbval compares tables, not images). Every axis is labelled, with its unit. A table with nothing to draw (no rows,
or no number in it) draws no chart: the sentence `empty` is printed where the chart would be, never an empty
figure or a plotting error."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import MaxNLocator, PercentFormatter

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


def _percent(axis) -> None:
    axis.set_major_formatter(PercentFormatter(1.0, decimals=0))


def bars(table: pd.DataFrame, title: str, ylabel: str = "", horizontal: bool = False, empty: str | None = None,
         xlabel: str | None = None, percent: bool = False):
    """Bars of every column of `table` against its index (grouped when there are several columns); the value
    axis is labelled `ylabel` (as percentages with `percent`: values are shares), the category axis `xlabel`
    (default: the index's name). With nothing to draw, prints `empty` (default: "No data for the chart
    '<title>'.") and returns None."""
    category = xlabel if xlabel is not None else str(table.index.name or "")
    table = _drawable(table, title, empty)
    if table is None:
        return None
    kind = "barh" if horizontal else "bar"
    ax = table.plot(kind=kind, figsize=(10, 3.5), title=title, legend=table.shape[1] > 1, rot=0 if horizontal else 30)
    ax.set_xlabel(ylabel if horizontal else category)
    ax.set_ylabel(category if horizontal else ylabel)
    if percent:
        _percent(ax.xaxis if horizontal else ax.yaxis)
    elif ((table.fillna(0) % 1) == 0).all().all():  # counts: whole-number ticks
        (ax.xaxis if horizontal else ax.yaxis).set_major_locator(MaxNLocator(integer=True))
    if table.shape[1] > 1:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    plt.tight_layout()
    return ax


def lines(table: pd.DataFrame, title: str, xlabel: str, ylabel: str, empty: str | None = None,
          percent: bool = False):
    """One line per column of `table` against its index; with nothing to draw, prints `empty` and returns None."""
    table = _drawable(table, title, empty)
    if table is None:
        return None
    ax = table.plot(figsize=(10, 3.5), title=title, marker="o")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if percent:
        _percent(ax.yaxis)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    plt.tight_layout()
    return ax


def small_multiples(long: pd.DataFrame, panel: str, x: str, line: str, y: str, title: str, xlabel: str,
                    ylabel: str, empty: str | None = None, percent: bool = False, columns: int = 4):
    """One small chart per value of `panel` (in order of appearance), each a line per value of `line` of `y`
    against `x`, on the same scales (every panel labels both axes) and one legend; returns the figure, or prints `empty` and returns None when
    there is nothing to draw."""
    if long.empty or _numbers(long[[y]]).isna().all().all():
        print(empty or f"No data for the chart '{title}'.")
        return None
    panels = list(dict.fromkeys(long[panel]))
    names = sorted(set(long[line]))  # every panel draws every line, in the same colour
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows, min(columns, len(panels)), figsize=(12, 3.1 * rows + 0.6), sharex=False,
                             sharey=True, squeeze=False)
    for ax, name in zip(axes.flat, panels):
        part = long[long[panel] == name].pivot_table(index=x, columns=line, values=y, aggfunc="sum", fill_value=0)
        part = part.reindex(columns=names, fill_value=0)
        _numbers(part).plot(ax=ax, marker="o", legend=False, title=str(name))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if percent:
            _percent(ax.yaxis)
    low, high = long[x].min(), long[x].max()
    pad = (high - low) * 0.05 or 1
    for ax in list(axes.flat)[:len(panels)]:
        ax.set_xlim(low - pad, high + pad)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 0.95))
    fig.suptitle(title)
    fig.tight_layout()
    return fig
