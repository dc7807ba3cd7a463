"""What every report shows: where its numbers came from, and tables a reader can check (PII masked)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
from IPython.display import Markdown, display

from c360 import provenance
from c360.params import from_notebook, validate_partial
from c360.pii import mask_frame

# Reports show whole tables: the text form (what nbval compares) must not elide rows or wrap columns.
pd.set_option("display.max_rows", 500)
pd.set_option("display.max_columns", 60)
pd.set_option("display.width", 250)
pd.set_option("display.max_colwidth", 80)


def stage_params(**params: Any) -> dict[str, Any]:
    """The parameters a notebook was given, validated and flat (its `bigquery` mapping merged back; a bad value
    fails here, before any work)."""
    return validate_partial(from_notebook(params))


def _inputs_line(inputs: dict) -> str:
    counts = ([f"{inputs['tables']} tables"] if inputs["tables"] else []) + [f"{inputs['files']} files"]
    return f"**Inputs** {', '.join(counts)}, {inputs['bytes']:,} bytes, fingerprint `{inputs['fingerprint'][:16]}`  "


def header(stage: str, params: dict[str, Any]) -> dict:
    """Show, and return, the parameters, inputs and code version that produce this report."""
    prints = provenance.inputs(params) if "source_root" in params else []
    code = provenance.code_version()
    info = {"stage": stage, "parameters": params, "code": code, "environment": provenance.environment(),
            "inputs": provenance.summary(prints)}
    lines = [f"**Stage** `{stage}`  ",
             f"**Code** c360 {code['c360']}, commit `{code['git_sha'][:12]}`"
             f"{' (uncommitted changes)' if code['dirty'] else ''}  ",
             _inputs_line(info["inputs"]),
             "**Parameters**  ", "", "| parameter | value |", "|---|---|"]
    lines += [f"| `{k}` | `{v}` |" for k, v in params.items()]
    display(Markdown("\n".join(lines)))
    return info


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


_CENT = Decimal("0.01")


def show(df: pd.DataFrame, rows: int | None = None) -> None:
    """A table as a report shows it: PII masked, decimals as decimal_text, index dropped, at most `rows` rows."""
    out = (df if rows is None else df.head(rows)).copy()
    for column in out.columns[out.dtypes == object]:
        if out[column].map(lambda v: isinstance(v, Decimal)).any():
            out[column] = out[column].map(decimal_text)
    display(mask_frame(out).reset_index(drop=True))


def show_checks(result: pd.DataFrame) -> None:
    """A data-test run in brief: counts by status, then every test that did not pass."""
    counts = result["status"].value_counts()
    print(f"{len(result)} data tests: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("pass", "warn", "fail")))
    failing = result[result["status"] != "pass"]
    if len(failing):
        show(failing)
