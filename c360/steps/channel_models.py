"""The attribution stage's Python step: channel-level models on the (small) aggregated path table.

Per-touch models are SQL (mrt__marketing__attributed_touchpoints); Markov and Shapley need the whole path
table at once, so only that table, one row per distinct path, comes back to pandas. Money stays decimal: the
channel-level models give each channel a share, and the window's won revenue is split by those shares in the
currency's minor unit (c360.money.allocate), so every model's channel revenue adds up to the won revenue exactly.
"""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pandas as pd

from c360 import attribution, money
from c360.dag.project import python_model

PER_TOUCH = set(attribution.PER_TOUCH_MODELS)
CHANNEL_LEVEL = ("markov", "shapley")
COLUMNS = ["window_days", "model", "channel", "conversions", "conversion_value"]
SHARE_DECIMALS = 12  # model shares are rounded to this many decimals before money is split by them


def _decimal(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _channel_level(table: pd.DataFrame, models: list[str], minor_unit: int) -> list[dict]:
    """Markov / Shapley rows for one window's path table: conversions rounded to 1e-9, the window's path value
    (a decimal sum) split by each model's channel shares in minor units (largest remainder, ties by channel)."""
    value = sum((_decimal(v) for v in table["conversion_value"]), Decimal(0))
    floats = table.assign(conversion_value=[float(_decimal(v)) for v in table["conversion_value"]])
    out = attribution.attribute_paths(floats, models)
    rows = []
    for model in models:
        part = out[out["model"] == model].sort_values("channel")
        weights = part["conversion_value"].clip(lower=0).to_numpy(dtype=float)
        if value == 0 or weights.sum() <= 0:
            shares = [Fraction(0)] * len(part)
            values = [Decimal(0)] * len(part)
        else:
            shares = [Fraction(round(w / weights.sum(), SHARE_DECIMALS)) for w in weights]
            values = money.allocate(value, shares, minor_unit)
        for channel, conversions, amount in zip(part["channel"], part["conversions"], values):
            rows.append({"model": model, "channel": channel, "conversions": round(float(conversions), 9),
                         "conversion_value": amount})
    return rows


def channel_table(per_touch: pd.DataFrame, paths: pd.DataFrame, unattributed: pd.DataFrame,
                  models: list[str], minor_unit: int = 2) -> pd.DataFrame:
    """Every requested model's attributed conversions and value per (window_days, channel).

    Args:
        per_touch: window_days, model, channel, conversions, conversion_value (summed touchpoint credits; the value
            a decimal).
        paths: window_days plus a path table (path, conversions, conversion_value, non_conversions).
        unattributed: window_days, conversions, conversion_value of won deals with no touchpoint.
        models: the models to produce.
        minor_unit: decimals of the reporting currency's smallest unit.
    Returns:
        window_days, model, channel, conversions (float, rounded to 1e-9), conversion_value (Decimal); each
        model's value per window adds up to the won revenue exactly, its conversions to the won deals.
    """
    rows = [{**r, "conversions": round(float(r["conversions"]), 9), "conversion_value": _decimal(r["conversion_value"])}
            for r in per_touch[per_touch["model"].isin(models)].to_dict("records")]
    wanted = [m for m in models if m in CHANNEL_LEVEL]
    windows = sorted(set(paths["window_days"]) | set(unattributed["window_days"]))
    for window in windows if wanted else []:
        table = paths[paths["window_days"] == window].drop(columns="window_days").sort_values("path")
        if len(table):
            rows += [{"window_days": window, **r} for r in _channel_level(table, wanted, minor_unit)]
        lost = unattributed[unattributed["window_days"] == window]
        if len(lost) and lost["conversions"].sum() > 0:
            rows += [{"window_days": window, "model": m, "channel": "(unattributed)",
                      "conversions": float(lost["conversions"].sum()),
                      "conversion_value": sum((_decimal(v) for v in lost["conversion_value"]), Decimal(0))}
                     for m in wanted]
    if not rows:  # no deal closed in any window
        return pd.DataFrame({"window_days": pd.Series(dtype="int64"), "model": pd.Series(dtype="object"),
                             "channel": pd.Series(dtype="object"), "conversions": pd.Series(dtype="float64"),
                             "conversion_value": pd.Series(dtype="object")})
    out = pd.DataFrame(rows, columns=COLUMNS)
    out = (out.groupby(["window_days", "model", "channel"], as_index=False, sort=True)
           .agg(conversions=("conversions", "sum"), conversion_value=("conversion_value", lambda s: sum(s, Decimal(0)))))
    out["conversions"] = out["conversions"].round(9)
    out["window_days"] = out["window_days"].astype("int64")
    return out.sort_values(["window_days", "model", "channel"], ignore_index=True)[COLUMNS]


@python_model("mrt__marketing__channel_attribution", "attribution",
              refs=("int__attribution_paths", "mrt__marketing__attributed_touchpoints", "int__attribution_touchpoints",
                    "base__reporting_currency"),
              params=("attribution_models",))
def build_channel_attribution(engine, params) -> None:
    """mrt__marketing__channel_attribution: one row per (window_days, model, channel) (unique):
    attributed conversions (FLOAT64, rounded to 1e-9) and conversion value (NUMERIC, in the reporting currency)
    of every model in `attribution_models`. Every model's value per window adds up to the won revenue exactly."""
    # credits summed as NUMERIC (9 decimals each): an exact sum, the same whatever order the rows come in
    per_touch = engine.query("""
        SELECT window_days, model, channel, SUM(CAST(credit AS NUMERIC)) AS conversions,
               SUM(attributed_revenue) AS conversion_value
        FROM mrt__marketing__attributed_touchpoints GROUP BY 1, 2, 3""")
    paths = engine.query("""
        SELECT window_days, path, conversions, conversion_value, non_conversions
        FROM int__attribution_paths ORDER BY window_days, path""")
    unattributed = engine.query("""
        SELECT window_days, COUNT(*) AS conversions, SUM(deal_amount) AS conversion_value
        FROM int__attribution_touchpoints WHERE touches = 0 AND deal_status = 'won' GROUP BY 1""")
    _, minor_unit = money.reporting_currency(engine)
    table = channel_table(per_touch, paths, unattributed, list(params["attribution_models"]), minor_unit)
    engine.write_frame("mrt__marketing__channel_attribution", table, decimal_columns=("conversion_value",))
