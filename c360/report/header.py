"""A report's header: the parameters, inputs and code version that produced it, shown as escaped HTML."""
from __future__ import annotations

import html
from typing import Any

from IPython.display import display

from c360.params import BIGQUERY_GROUP, SPEC, from_notebook, lab_override, run_context, validate_partial
from c360.sources import provenance


def stage_params(namespace: dict[str, Any]) -> dict[str, Any]:
    """The parameters a notebook was given: the names of its namespace (`globals()`, right after its parameters
    cell) that are parameters (params.SPEC, and the `bigquery` mapping), validated and flat (the `bigquery`
    mapping merged back). A bad value fails here, before any work. In a `make lab` session `warehouse` is the
    scratch copy (params.lab_override)."""
    values = {k: v for k, v in namespace.items() if k in SPEC or k == BIGQUERY_GROUP}
    params = validate_partial(from_notebook(values))
    lab = lab_override(params)  # make lab: the scratch copy, never the published warehouse
    if lab is not params:
        print(f"make lab: this notebook works on the scratch copy {lab['warehouse']}, not {params['warehouse']}")
    return lab


def _inputs_line(inputs: dict) -> str:
    counts = ([f"{inputs['tables']} tables"] if inputs["tables"] else []) + [f"{inputs['files']} files"]
    return f"{', '.join(counts)}, {inputs['bytes']:,} bytes, fingerprint {inputs['fingerprint'][:16]}"


def _code(value: Any) -> str:
    return f"<code>{html.escape(str(value), quote=True)}</code>"


def _run_line(run: dict[str, str]) -> str:
    return f"{run['run_id']}, started {run.get('started_at', '?').replace('T', ' ')}"


def shown_params(params: dict[str, Any], run: dict[str, str]) -> dict[str, Any]:
    """The parameters as a reader needs them: in a run, `warehouse` is the warehouse the run publishes to, not
    the working copy the notebook built in (that copy replaces it when every notebook succeeded)."""
    if run.get("warehouse") and "warehouse" in params:
        return {**params, "warehouse": run["warehouse"]}
    return params


def header_html(stage: str, code: dict, inputs: dict, params: dict[str, Any], run: dict[str, str] | None = None) -> str:
    """The header as HTML, every value escaped (a parameter value is text, never markup): the run (id and start,
    when run by c360's runner), then one line per parameter, `<tr><td><code>name</code></td><td><code>value</code>
    </td></tr>`."""
    run = run or {}
    version = f"c360 {html.escape(str(code['c360']))}, commit {_code(str(code['git_sha'])[:12])}" + (
        " (uncommitted changes)" if code["dirty"] else "")
    params = shown_params(params, run)
    started = html.escape(run.get("started_at", "?").replace("T", " "))
    lines = [f"<p><b>Run</b> {_code(run['run_id'])}, started {started}</p>"] if run.get("run_id") else []
    lines += [f"<p><b>Stage</b> {_code(stage)}<br>",
             f"<b>Code</b> {version}<br>",
             f"<b>Inputs</b> {html.escape(_inputs_line(inputs))}<br>",
             "<b>Parameters</b></p>",
             # names and values are text: left-aligned (Jupyter's own style right-aligns every table cell)
             "<style>table.c360-params th, table.c360-params td, .jp-RenderedHTMLCommon table.c360-params th, "
             ".jp-RenderedHTMLCommon table.c360-params td {text-align: left}</style>",
             '<table class="c360-params">', "<thead><tr><th>parameter</th><th>value</th></tr></thead>", "<tbody>"]
    lines += [f"<tr><td>{_code(k)}</td><td>{_code(v) if str(v) != '' else '<i>(not set)</i>'}</td></tr>"
              for k, v in params.items()]
    return "\n".join(lines + ["</tbody>", "</table>"]) + "\n"


def header_text(stage: str, code: dict, inputs: dict, params: dict[str, Any], run: dict[str, str] | None = None) -> str:
    """The header as plain text (what a terminal or a text diff shows): `name = value`, one per line."""
    run = run or {}
    params = shown_params(params, run)
    lines = [f"Run {_run_line(run)}"] if run.get("run_id") else []
    lines += [f"Stage {stage}", f"Code c360 {code['c360']}, commit {str(code['git_sha'])[:12]}"
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
    run = run_context()
    display({"text/html": header_html(stage, code, info["inputs"], params, run),
             "text/plain": header_text(stage, code, info["inputs"], params, run)}, raw=True)
    return info
