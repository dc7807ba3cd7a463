"""Tables as a report shows them: PII masked, decimals exact, data-test results in brief."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
from IPython.display import display

from c360.pii import mask_frame

_CENT = Decimal("0.01")


def decimal_text(value: Any) -> Any:
    """A decimal as a report prints it: to the cent when that is exact (12000.00), else every digit it has
    (0.125); anything else unchanged.

    Example:
        >>> decimal_text(Decimal("12000.000000000")), decimal_text(Decimal("0.125000000"))
        ('12000.00', '0.125')
    """
    if not isinstance(value, Decimal) or not value.is_finite():
        return value
    if value == value.quantize(_CENT):
        return f"{value.quantize(_CENT):f}"
    return f"{value.normalize():f}"


def show(df: pd.DataFrame, rows: int | None = None) -> None:
    """A table as a report shows it: PII masked, decimals as decimal_text, index dropped, at most `rows` rows."""
    out = (df if rows is None else df.head(rows)).copy()
    for column in out.columns[out.dtypes == object]:
        if out[column].map(lambda v: isinstance(v, Decimal)).any():
            out[column] = out[column].map(decimal_text)
    display(mask_frame(out).reset_index(drop=True))


def show_checks(result: pd.DataFrame) -> None:
    """A data-test run in brief: counts by status, the reconciliations (each listed, whatever its status), then
    every other test that did not pass."""
    counts = result["status"].value_counts()
    print(f"{len(result)} data tests: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("pass", "warn", "fail")))
    reconciliations = result["test"].str.startswith("reconciliation(")
    if reconciliations.any():
        show(result.loc[reconciliations, ["model", "test", "failures", "examples", "status"]])
    failing = result[(result["status"] != "pass") & ~reconciliations]
    if len(failing):
        show(failing)


def job_costs(jobs: list[dict]) -> pd.DataFrame:
    """BigQuery jobs (an engine's `jobs`: one dict per job) per model: jobs, bytes processed, bytes billed and slot
    milliseconds, largest first, then a row `(other jobs)` for the jobs outside a model's build (report queries,
    data tests) and a row `total`. No rows when there are no jobs."""
    columns = ["model", "jobs", "bytes_processed", "bytes_billed", "slot_ms"]
    if not jobs:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame([{"model": j.get("model") or "(other jobs)", "jobs": 1,
                           **{k: int(j.get(k) or 0) for k in columns[2:]}} for j in jobs])
    per = frame.groupby("model", as_index=False)[columns[1:]].sum()
    models = per[per["model"] != "(other jobs)"].sort_values(["bytes_billed", "bytes_processed", "model"],
                                                             ascending=[False, False, True])
    total = pd.DataFrame([{"model": "total", **frame[columns[1:]].sum().to_dict()}])
    return pd.concat([models, per[per["model"] == "(other jobs)"], total], ignore_index=True)[columns]


def show_costs(engine) -> None:
    """What an engine's jobs cost (job_costs), when it sends jobs (BigQuery); nothing on DuckDB."""
    jobs = getattr(engine, "jobs", None)
    if jobs:
        show(job_costs(jobs))
