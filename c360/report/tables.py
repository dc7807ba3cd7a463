"""Tables as a report shows them: PII masked, decimals exact, data-test results in brief."""
from __future__ import annotations

from decimal import Decimal

import pandas as pd
from IPython.display import display

from c360.pii import mask_frame
from c360.report import formats
from c360.report.formats import decimal_text  # noqa: F401  (c360.report.decimal_text)

def _numeric(column: pd.Series) -> bool:
    return column.dtype.kind in "iuf" or bool(column.map(lambda v: isinstance(v, Decimal)).any())


def show(df: pd.DataFrame, rows: int | None = None, money: dict[str, str] | None = None, percent: tuple = (),
         counts: tuple = (), ratios: tuple = (), numeric: tuple = (), caption: str = "") -> None:
    """A table as a report shows it: PII masked, numbers written as c360.report.formats.format_frame writes them
    (money with its currency, shares as %, counts as integers), no index, at most `rows` rows; as escaped HTML
    with a plain-text form. Number columns are right-aligned, and so are the `numeric` columns (numbers
    already written as text)."""
    out = (df if rows is None else df.head(rows)).reset_index(drop=True)
    numeric = tuple(c for c in out.columns
                    if c in numeric or c in (money or {}) or c in percent or _numeric(out[c]))
    text = mask_frame(formats.format_frame(out, money=money, percent=percent, counts=counts, ratios=ratios))
    display({"text/html": formats.table_html(text, numeric=numeric, caption=caption),
             "text/plain": formats.table_text(text, caption=caption)},
            raw=True)


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
