"""Data tests after each stage, in the style of dbt tests, declared in c360/sql/<layer>/_tests.yml.

unique, not_null, accepted_values, relationships, expressions (a named SQL condition every row must meet,
with the column shown for offending rows) and reconciliations (a named query over several tables that returns
one row, column `value`, per thing that does not add up: the won value of the customer table against the
deals, the attributed revenue against the won revenue). With the rows a run read per source table, `run` also
reconciles the row accounting: every row read is kept or counted as dropped. An error-level failure stops the
run with a message naming the table, the test and a few offending values (masked); warn-level ones are
reported.

Examples are masked by the column they come from (c360.pii.mask_value: an email column's values, names,
pseudonymous ids such as user_pseudo_id or session_key) and, whatever the column, any address or GA client id
in them (c360.pii.mask_text): neither the result table a report shows nor DataTestError's message holds PII.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import yaml

from c360.dag.materialize import row_accounting
from c360.paths import SQL_DIR
from c360.pii import mask_text, mask_value
from c360.warehouse.base import check_identifier


class DataTestError(AssertionError):
    """An error-level data test failed."""


@dataclass(frozen=True)
class DataTest:
    model: str
    kind: str
    column: str
    severity: str
    sql: str  # returns one row per offending value: column `value`
    show: str = ""  # expressions: the column (SQL) whose values are shown; else the tested column

    @property
    def name(self) -> str:
        return f"{self.kind}({self.column})"


def _tests_for(model: str, spec: dict) -> list[DataTest]:
    t = check_identifier(model)
    out = []
    for col in spec.get("unique", []):
        c = check_identifier(col)
        out.append(DataTest(model, "unique", col, "error",
                            f"SELECT CAST({c} AS STRING) AS value FROM {t} WHERE {c} IS NOT NULL "
                            f"GROUP BY {c} HAVING COUNT(*) > 1"))
    for col in spec.get("not_null", []):
        c = check_identifier(col)
        out.append(DataTest(model, "not_null", col, "error",
                            f"SELECT 'NULL' AS value FROM {t} WHERE {c} IS NULL"))
    for col, rule in spec.get("accepted_values", {}).items():
        c = check_identifier(col)
        values = ", ".join("'" + str(v).replace("'", "''") + "'" for v in rule["values"])
        out.append(DataTest(model, "accepted_values", col, rule.get("severity", "error"),
                            f"SELECT DISTINCT CAST({c} AS STRING) AS value FROM {t} "
                            f"WHERE {c} IS NOT NULL AND CAST({c} AS STRING) NOT IN ({values})"))
    for col, rule in spec.get("relationships", {}).items():
        c, to, field = check_identifier(col), check_identifier(rule["to"]), check_identifier(rule["field"])
        out.append(DataTest(model, "relationships", col, rule.get("severity", "error"),
                            f"SELECT DISTINCT CAST(a.{c} AS STRING) AS value FROM {t} AS a "
                            f"LEFT JOIN {to} AS b ON a.{c} = b.{field} WHERE a.{c} IS NOT NULL AND b.{field} IS NULL"))
    for rule in spec.get("reconciliations", []):
        out.append(DataTest(model, "reconciliation", rule["name"], rule.get("severity", "error"),
                            f"SELECT CAST(value AS STRING) AS value FROM ({rule['sql']}) AS r"))
    for rule in spec.get("expressions", []):
        out.append(DataTest(model, "expression", rule["name"], rule.get("severity", "error"),
                            f"SELECT CAST({rule.get('show', 'NULL')} AS STRING) AS value FROM {t} "
                            f"WHERE NOT ({rule['sql']})", str(rule.get("show") or "")))
    return out


def masked_example(test: DataTest, value) -> str:
    """An offending value as a data test reports it: masked as its column says (`show` for an expression),
    then any address or GA client id left in it masked too.

    Example:
        >>> masked_example(DataTest("m", "unique", "customer__email", "error", ""), "bob@münchen.de")
        'b***@münchen.de'
    """
    return str(mask_text(mask_value(test.show or test.column, str(value))))


def _rows_balance(engine, layer: str, rows_read: dict[str, int]) -> dict:
    """The row accounting as a data test: the models whose input (kept + dropped + malformed) is not the rows
    read from their source."""
    accounting = row_accounting(engine, rows_read, layer=layer)
    off = accounting.loc[~accounting["balanced"], "model"].tolist()
    return {"model": f"{layer} models", "test": "reconciliation(rows_balance)", "severity": "error",
            "failures": len(off), "examples": ", ".join(off[:3]), "status": "fail" if off else "pass"}


RESULTS_TABLE = "c360__data_tests"  # the last result of every layer's data tests: what the run's manifest reports


def _record(engine, layer: str, result: pd.DataFrame) -> None:
    """Keep this layer's results in c360__data_tests, replacing the layer's previous ones (examples masked)."""
    rows = result.assign(layer=layer)[["layer", "model", "test", "severity", "failures", "examples", "status"]]
    if engine.has_table(RESULTS_TABLE):
        previous = engine.query(f"SELECT layer, model, test, severity, failures, examples, status "
                                f"FROM {engine.relation(RESULTS_TABLE)}")
        rows = pd.concat([previous[previous["layer"] != layer], rows], ignore_index=True)
    engine.write_frame(RESULTS_TABLE, rows.astype({"failures": "int64"}))


def summary(engine) -> dict[str, dict[str, int]]:
    """The last data-test results per layer: tests, and how many passed, warned and failed ({} before any)."""
    if not engine.has_table(RESULTS_TABLE):
        return {}
    counts = engine.query(f"SELECT layer, status, COUNT(*) AS n FROM {engine.relation(RESULTS_TABLE)} GROUP BY 1, 2")
    out: dict[str, dict[str, int]] = {}
    for r in counts.itertuples():
        layer = out.setdefault(r.layer, {"tests": 0, "pass": 0, "warn": 0, "fail": 0})
        layer[r.status] = int(r.n)
        layer["tests"] += int(r.n)
    return {layer: out[layer] for layer in sorted(out)}


def declared(layer: str) -> list[DataTest]:
    """The data tests declared for a layer."""
    path = SQL_DIR / layer / "_tests.yml"
    spec = yaml.safe_load(path.read_text()) if path.exists() else {}
    return [t for model, s in (spec or {}).items() for t in _tests_for(model, s)]


def run(engine, layer: str, raise_on_error: bool = True, rows_read: dict[str, int] | None = None) -> pd.DataFrame:
    """Run a layer's data tests; given `rows_read` (rows read per source table, the load's report), also the row
    accounting of the layer's models that read sources (test `rows_balance`: a model whose input differs from
    the rows read from its source).

    Returns:
        One row per test: model, test, severity, failures, examples (masked), status (pass/warn/fail).
    Raises:
        DataTestError: when an error-level test fails and raise_on_error is set.
    """
    rows = []
    tests = declared(layer)
    counts = {}
    if tests:  # one query for the whole layer: each test's count of offending values
        union = " UNION ALL ".join(f"SELECT {i} AS i, COUNT(*) AS n FROM ({t.sql})" for i, t in enumerate(tests))
        counts = dict(engine.query(union).values.tolist())
    for i, test in enumerate(tests):
        n = int(counts[i])
        found = engine.query(f"SELECT DISTINCT value FROM ({test.sql}) ORDER BY value LIMIT 3") if n else None
        examples = ", ".join(masked_example(test, v) for v in found["value"]) if n else ""
        status = "pass" if n == 0 else ("warn" if test.severity == "warn" else "fail")
        rows.append({"model": test.model, "test": test.name, "severity": test.severity,
                     "failures": n, "examples": examples, "status": status})
    if rows_read is not None:
        rows.append(_rows_balance(engine, layer, rows_read))
    result = pd.DataFrame(rows, columns=["model", "test", "severity", "failures", "examples", "status"])
    _record(engine, layer, result)
    failed = result[result.status == "fail"]
    if raise_on_error and len(failed):
        lines = [f"{r.model}: {r.test} failed for {r.failures} value(s), e.g. {r.examples}"
                 for r in failed.itertuples()]
        raise DataTestError("data tests failed:\n" + "\n".join(lines))
    return result
