"""The attribution stage's Python step: channel-level models on the (small) aggregated path table.

Per-touch models are SQL (mrt__marketing__attributed_touchpoints); Markov and Shapley need the whole path
table at once, so only that table, one row per distinct path, comes back to pandas.
"""
from __future__ import annotations

import pandas as pd

from c360 import attribution
from c360.models import python_model

PER_TOUCH = set(attribution.PER_TOUCH_MODELS)
CHANNEL_LEVEL = ("markov", "shapley")
COLUMNS = ["window_days", "model", "channel", "conversions", "conversion_value"]


def channel_table(per_touch: pd.DataFrame, paths: pd.DataFrame, unattributed: pd.DataFrame,
                  models: list[str]) -> pd.DataFrame:
    """Every requested model's attributed conversions and value per (window_days, channel).

    Args:
        per_touch: window_days, model, channel, conversions, conversion_value (summed touchpoint credits).
        paths: window_days plus a path table (path, conversions, conversion_value, non_conversions).
        unattributed: window_days, conversions, conversion_value of won deals with no touchpoint.
        models: the models to produce.
    Returns:
        window_days, model, channel, conversions, conversion_value; each model's totals per window equal
        the won deals and won revenue.
    """
    frames = [per_touch[per_touch["model"].isin(models)]]
    wanted = [m for m in models if m in CHANNEL_LEVEL]
    windows = sorted(set(paths["window_days"]) | set(unattributed["window_days"]))
    for window in windows if wanted else []:
        table = paths[paths["window_days"] == window].drop(columns="window_days")
        if len(table):
            out = attribution.attribute_paths(table, wanted)
        else:
            out = pd.DataFrame(columns=["model", "channel", "conversions", "conversion_value"])
        out.insert(0, "window_days", window)
        frames.append(out)
        lost = unattributed[unattributed["window_days"] == window]
        if len(lost) and lost["conversions"].sum() > 0:
            frames.append(pd.DataFrame({"window_days": window, "model": wanted, "channel": "(unattributed)",
                                        "conversions": float(lost["conversions"].sum()),
                                        "conversion_value": float(lost["conversion_value"].sum())}))
    frames = [f for f in frames if len(f)]
    if not frames:  # no deal closed in any window
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "window_days" else "float64" if c.startswith("conv")
                                          else "object") for c in COLUMNS})
    out = pd.concat(frames, ignore_index=True)[COLUMNS]
    out = out.groupby(["window_days", "model", "channel"], as_index=False)[["conversions", "conversion_value"]].sum()
    out["window_days"] = out["window_days"].astype("int64")
    return out.sort_values(["window_days", "model", "channel"], ignore_index=True)


@python_model("mrt__marketing__channel_attribution", "attribution",
              refs=("int__attribution_paths", "mrt__marketing__attributed_touchpoints", "int__attribution_touchpoints"),
              params=("attribution_models",))
def build_channel_attribution(engine, params) -> None:
    """mrt__marketing__channel_attribution: one row per (window_days, model, channel) (unique):
    attributed conversions and conversion value of every model in `attribution_models`."""
    per_touch = engine.query("""
        SELECT window_days, model, channel, SUM(credit) AS conversions, SUM(attributed_revenue) AS conversion_value
        FROM mrt__marketing__attributed_touchpoints GROUP BY 1, 2, 3""")
    paths = engine.query("""
        SELECT window_days, path, conversions, conversion_value, non_conversions
        FROM int__attribution_paths ORDER BY window_days, path""")
    unattributed = engine.query("""
        SELECT window_days, COUNT(*) AS conversions, SUM(deal_amount) AS conversion_value
        FROM int__attribution_touchpoints WHERE touches = 0 AND deal_status = 'won' GROUP BY 1""")
    table = channel_table(per_touch, paths, unattributed, list(params["attribution_models"]))
    engine.write_frame("mrt__marketing__channel_attribution", table)
