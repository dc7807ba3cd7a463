"""Charts draw what the data says, whatever its labels hold, and print a sentence when there is nothing to draw."""
from __future__ import annotations

from decimal import Decimal

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402

from c360.report import plots  # noqa: E402


def test_a_label_with_dollar_signs_is_drawn_as_text(tmp_path):
    # matplotlib reads $...$ as math: `spend_$50_get_$10_off` once failed to draw notebook 04
    table = pd.DataFrame({"linear $": [Decimal("1.50"), Decimal("2")]}, index=["spend_$50_get_$10_off", "x"])
    ax = plots.bars(table, "ROAS for $ campaigns", "ROAS")
    ax.figure.savefig(tmp_path / "chart.png")  # rendering is where mathtext fails
    assert [t.get_text() for t in ax.get_xticklabels()] == ["spend_$50_get_$10_off", "x"]


def test_nothing_to_draw_prints_the_sentence(capsys):
    assert plots.bars(pd.DataFrame({"a": []}), "Empty", empty="No won deals.") is None
    assert capsys.readouterr().out.strip() == "No won deals."
