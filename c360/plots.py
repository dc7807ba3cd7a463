"""Report charts. Each draws one matplotlib figure from a small table; the notebook shows the table beside it
(nbval compares tables, not images)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd


def bars(table: pd.DataFrame, title: str, ylabel: str = "", horizontal: bool = False):
    """Bars of every column of `table` against its index (grouped when there are several columns)."""
    kind = "barh" if horizontal else "bar"
    ax = table.plot(kind=kind, figsize=(10, 3.5), title=title, legend=table.shape[1] > 1, rot=0 if horizontal else 30)
    ax.set_xlabel(ylabel if horizontal else "")
    ax.set_ylabel("" if horizontal else ylabel)
    if table.shape[1] > 1:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    plt.tight_layout()
    return ax


def lines(table: pd.DataFrame, title: str, xlabel: str, ylabel: str):
    """One line per column of `table` against its index."""
    ax = table.plot(figsize=(10, 3.5), title=title, marker="o")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    plt.tight_layout()
    return ax
