"""A BigQuery run's byte budget, checked before the first model runs: the dry run of every model that can be
planned, summed and compared with bigquery_max_bytes_per_run.

A dry run is free and runs nothing. A model can be planned when every table its SQL reads exists already (the
sources, and on a second run the models of the last one); the others (a first run's downstream models, the Python
steps, whose SQL is written as they run) are listed as not planned, and each of their jobs still carries what is
left of the budget (BigQueryEngine.job_limit).
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from c360.dag.materialize import is_incremental
from c360.dag.project import LAYERS
from c360.dag.render import config_of, plan, render
from c360.params import ParamError


def _human(n: int) -> str:
    return f"{n / 1024 ** 3:,.2f} GiB"


def estimate(engine, params: dict[str, Any]) -> pd.DataFrame:
    """One row per model, in build order: layer, model, `bytes` (the dry run's estimate; None when it cannot be
    planned) and `why` (why not)."""
    rows = []
    for layer in LAYERS:
        for model in plan(layer):
            row = {"layer": layer, "model": model.name, "bytes": None, "why": ""}
            if model.fn is not None:
                row["why"] = "Python step"
            elif config_of(model, engine.target)["materialized"] == "view":
                row["why"] = "view"
            else:
                try:
                    sql = render(model, engine, is_incremental(engine, model, params))
                    row["bytes"] = engine.dry_run(sql, params)
                except Exception as e:  # noqa: BLE001 - a table it reads is not there yet (a first run), ...
                    row["why"] = f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
            rows.append(row)
    return pd.DataFrame(rows, columns=["layer", "model", "bytes", "why"])


def check(engine, params: dict[str, Any], budget: int, log=print) -> pd.DataFrame:
    """estimate(), printed as a total, and RunBudgetError (a ParamError: exit 2) naming the largest models when
    the planned bytes exceed `budget`. Returns the estimates."""
    found = estimate(engine, params)
    planned = found.dropna(subset=["bytes"])
    total = int(planned["bytes"].sum()) if len(planned) else 0
    log(f"[c360] BigQuery dry runs: {len(planned)} of {len(found)} models planned, {_human(total)} estimated "
        f"(bigquery_max_bytes_per_run {_human(budget)})")
    if total > budget:
        largest = planned[planned["bytes"] > 0].sort_values(["bytes", "model"], ascending=[False, True]).head(3)
        named = ", ".join(f"{r.model} {_human(int(r.bytes))}" for r in largest.itertuples())
        raise BudgetExceeded(f"bigquery_max_bytes_per_run: the dry runs of this run's models estimate {total:,} "
                             f"bytes processed, more than the budget of {budget:,}; the largest: {named}. Narrow "
                             "ga4_start_date/ga4_end_date or raise bigquery_max_bytes_per_run. Nothing was run.")
    return found


class BudgetExceeded(ParamError):
    """The run's dry runs estimate more bytes than bigquery_max_bytes_per_run: refused before any model runs."""
