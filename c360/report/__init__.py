"""What every report shows: where its numbers came from, and tables a reader can check (PII masked)."""
from __future__ import annotations

import html
from decimal import Decimal
from typing import Any

import pandas as pd
from IPython.display import display

from c360.sources import provenance
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
    return f"{', '.join(counts)}, {inputs['bytes']:,} bytes, fingerprint {inputs['fingerprint'][:16]}"


def _code(value: Any) -> str:
    return f"<code>{html.escape(str(value), quote=True)}</code>"


def header_html(stage: str, code: dict, inputs: dict, params: dict[str, Any]) -> str:
    """The header as HTML, every value escaped (a parameter value is text, never markup): one line per
    parameter, `<tr><td><code>name</code></td><td><code>value</code></td></tr>`."""
    version = f"c360 {html.escape(str(code['c360']))}, commit {_code(str(code['git_sha'])[:12])}" + (
        " (uncommitted changes)" if code["dirty"] else "")
    lines = [f"<p><b>Stage</b> {_code(stage)}<br>",
             f"<b>Code</b> {version}<br>",
             f"<b>Inputs</b> {html.escape(_inputs_line(inputs))}<br>",
             "<b>Parameters</b></p>",
             "<table>", "<thead><tr><th>parameter</th><th>value</th></tr></thead>", "<tbody>"]
    lines += [f"<tr><td>{_code(k)}</td><td>{_code(v)}</td></tr>" for k, v in params.items()]
    return "\n".join(lines + ["</tbody>", "</table>"]) + "\n"


def header_text(stage: str, code: dict, inputs: dict, params: dict[str, Any]) -> str:
    """The header as plain text (what a terminal or a text diff shows): `name = value`, one per line."""
    lines = [f"Stage {stage}", f"Code c360 {code['c360']}, commit {str(code['git_sha'])[:12]}"
             f"{' (uncommitted changes)' if code['dirty'] else ''}", f"Inputs {_inputs_line(inputs)}", "Parameters"]
    return "\n".join(lines + [f"  {k} = {v}" for k, v in params.items()])


def header(stage: str, params: dict[str, Any]) -> dict:
    """Show, and return, the parameters, inputs and code version that produce this report.

    Shown as escaped HTML (with a plain-text form), never as Markdown built from values: a parameter value
    holding backticks or markup shows as the text it is."""
    prints = provenance.inputs(params) if "source_root" in params else []
    code = provenance.code_version()
    info = {"stage": stage, "parameters": params, "code": code, "environment": provenance.environment(),
            "inputs": provenance.summary(prints)}
    display({"text/html": header_html(stage, code, info["inputs"], params),
             "text/plain": header_text(stage, code, info["inputs"], params)}, raw=True)
    return info


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
    """A data-test run in brief: counts by status, then every test that did not pass."""
    counts = result["status"].value_counts()
    print(f"{len(result)} data tests: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("pass", "warn", "fail")))
    failing = result[result["status"] != "pass"]
    if len(failing):
        show(failing)
