"""What every report shows: where its numbers came from, and tables a reader can check (PII masked)."""
from __future__ import annotations

from typing import Any

import pandas as pd
from IPython.display import Markdown, display

from c360 import provenance, sources
from c360.params import validate_partial
from c360.paths import resolve
from c360.pii import mask_frame


def stage_params(**params: Any) -> dict[str, Any]:
    """The parameters a notebook was given, validated (a bad value fails here, before any work)."""
    return validate_partial(params)


def header(stage: str, params: dict[str, Any]) -> dict:
    """Show, and return, the parameters, inputs and code version that produce this report."""
    files = sources.preflight(resolve(params["source_root"])) if "source_root" in params else []
    prints = provenance.fingerprints(files)
    code = provenance.code_version()
    info = {"stage": stage, "parameters": params, "code": code, "environment": provenance.environment(),
            "inputs": {"files": len(prints), "bytes": sum(p["bytes"] for p in prints),
                       "fingerprint": provenance.combined(prints)}}
    lines = [f"**Stage** `{stage}`  ",
             f"**Code** c360 {code['c360']}, commit `{code['git_sha'][:12]}`"
             f"{' (uncommitted changes)' if code['dirty'] else ''}  ",
             f"**Inputs** {info['inputs']['files']} files, {info['inputs']['bytes']:,} bytes, "
             f"fingerprint `{info['inputs']['fingerprint'][:16]}`  ",
             "**Parameters**  ", "", "| parameter | value |", "|---|---|"]
    lines += [f"| `{k}` | `{v}` |" for k, v in params.items()]
    display(Markdown("\n".join(lines)))
    return info


def show(df: pd.DataFrame, rows: int | None = None) -> None:
    """A table as a report shows it: PII masked, index dropped, at most `rows` rows."""
    out = mask_frame(df if rows is None else df.head(rows)).reset_index(drop=True)
    display(out)
