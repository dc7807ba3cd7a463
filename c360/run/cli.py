"""`python -m c360 ...`: run the pipeline, list parameters, refresh notebook outputs, open the lab."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from c360 import params as P

# jsonschema, imported by nbformat, registers an IRI format checker whose import builds a grammar (about 1 s of
# every run's start); notebook validation never uses that format, so the module is marked as absent.
sys.modules.setdefault("rfc3987_syntax", None)


def _load(args) -> dict:
    """The parameters of `run` or `lab`: the file, make's variables (through the environment with --from-make: no
    shell ever parses their values; the Makefile's own, PYTHON, PARAMS, ..., left out) and -p overrides."""
    make_vars, params_file = args.make_vars or "", args.params
    if args.from_make:
        make_vars, params_file = os.environ.get("C360_MAKE_VARS", ""), os.environ.get("C360_PARAMS") or params_file
    return P.load(params_file, [*P.split_make_vars(make_vars), *args.p])


def _cmd_run(args) -> int:
    # only the runner before the run: it starts the first kernel at once, and every module imported before that
    # delays the whole run (c360.sources and c360.warehouse bring pandas and duckdb: about 0.5 s)
    from c360.run import errors, runner

    try:
        merged = _load(args)
    except P.ParamError as e:
        print(f"c360: bad parameters: {e}", file=sys.stderr)
        return 2
    try:
        out = runner.run(merged, Path(args.reports)) if args.reports else runner.run(merged)
    except P.ParamError as e:  # backend bigquery: a source table or dataset that does not exist
        print(f"c360: bad parameters: {e}", file=sys.stderr)
        return 2
    except errors.RunInProgress as e:
        print(f"c360: {e}", file=sys.stderr)
        return 4
    except errors.RunFailed as e:
        print(f"c360: run failed: {e}", file=sys.stderr)
        print("c360: the previous warehouse and reports are unchanged.", file=sys.stderr)
        return 1
    except errors.WarehouseError as e:  # a WAL that cannot be checkpointed, a publish that stopped half way
        print(f"c360: {e}", file=sys.stderr)
        return 1
    except Exception as e:
        from c360.sources.contract import BadInputError
        from c360.warehouse.bigquery import NoCredentials

        if isinstance(e, BadInputError):
            print(f"c360: bad input: {e}", file=sys.stderr)
            return 3
        if isinstance(e, NoCredentials):
            print(f"c360: {e}", file=sys.stderr)
            return 5
        raise
    print(f"c360: reports in {out} (reports/latest)")
    return 0


def _cmd_reproduce(args) -> int:
    """Re-run a published run from its manifest into a scratch warehouse and compare the tables' checksums."""
    from c360.run import errors, reproduce

    try:
        return reproduce.reproduce(Path(args.manifest), Path(args.scratch) if args.scratch else None, args.keep)
    except P.ParamError as e:
        print(f"c360: {e}", file=sys.stderr)
        return 2
    except (errors.RunFailed, errors.WarehouseError, errors.RunInProgress) as e:
        print(f"c360: the re-run failed: {e}", file=sys.stderr)
        return 1
    except Exception as e:
        from c360.sources.contract import BadInputError

        if isinstance(e, BadInputError):
            print(f"c360: bad input: {e}", file=sys.stderr)
            return 3
        raise


def _cmd_sql(args) -> int:
    """Print a model's SQL as the engine runs it; --explain: run it under DuckDB's EXPLAIN ANALYZE on the
    warehouse (read-only) and print the plan with each operator's rows and time."""
    import difflib

    from c360 import models

    try:
        merged = P.load(args.params, args.p)
    except P.ParamError as e:
        print(f"c360: bad parameters: {e}", file=sys.stderr)
        return 2
    known = models.discover()
    if args.model not in known:
        close = difflib.get_close_matches(args.model, known, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else "; `ls c360/sql/*/` lists them"
        print(f"c360: no model {args.model!r}{hint}", file=sys.stderr)
        return 2
    target = args.target or merged["backend"]
    if args.explain and target != "duckdb":
        print("c360: --explain runs on the DuckDB warehouse; on BigQuery a model's plan and slot time are in the "
              "console's execution details of its job (jobs/<notebook>.jsonl of a run's reports lists them)",
              file=sys.stderr)
        return 2
    try:
        sql, helpers = models.compiled(args.model, target, args.incremental)
    except ValueError as e:
        print(f"c360: {e}", file=sys.stderr)
        return 2
    if not args.explain:
        cfg = models.config_of(known[args.model], target)
        print(f"-- {args.model} on {target}: " + ", ".join(f"{k}={v}" for k, v in sorted(cfg.items())))
        for name, helper_sql in helpers.items():
            print(f"-- helper table {name} (built with the view, before it):")
            print(_formatted(helper_sql, args.pretty, target) + ";\n")
        print(_formatted(sql, args.pretty, target) + ";")
        return 0
    return _explain(args.model, merged, args.incremental)


def _formatted(sql: str, pretty: bool, target: str) -> str:
    if not pretty:
        return sql.strip()
    import sqlglot

    return sqlglot.parse_one(sql, read=target).sql(dialect=target, pretty=True)


def _explain(name: str, params: dict, incremental: bool) -> int:
    from c360 import models
    from c360.paths import resolve
    from c360.warehouse.duckdb import DuckDBEngine

    path = resolve(params["warehouse"])
    if not path.exists():
        print(f"c360: no warehouse at {path}; `make run` builds it", file=sys.stderr)
        return 2
    try:
        engine = DuckDBEngine(path, read_only=True, memory_limit=params.get("duckdb_memory_limit", ""))
    except Exception as e:  # noqa: BLE001 - another process holds it for writing, or it is no DuckDB file
        print(f"c360: cannot open {path} read-only: {e}", file=sys.stderr)
        return 2
    try:
        model = models.discover()[name]
        needed = models.dependencies(model) | models.sources_of(model)
        if incremental:  # it reads its own table and the dates the last load touched
            needed |= {name, models.TOUCHED_DATES}
        missing = sorted(n for n in needed if not engine.has_table(n))
        if missing:
            print(f"c360: {path} has no {', '.join(missing)}: run the pipeline (or the notebooks before this "
                  "model's) first", file=sys.stderr)
            return 2
        sql = models.render(model, engine, incremental)
        plan = engine.explain_analyze(sql, params)
    finally:
        engine.close()
    print(f"-- {name}: EXPLAIN ANALYZE on {path} (read-only; the model's SELECT, nothing written)")
    print(plan)
    return 0


def _cmd_params(args) -> int:
    if args.markdown:
        print(P.markdown(parameter_readers()), end="")
        return 0
    if args.yaml:
        print(P.default_yaml(parameter_readers()), end="")
        return 0
    if args.write:
        for path in write_generated():
            print(f"c360: wrote {path}")
        return 0
    for name, p in P.SPEC.items():
        extra = f" one of {list(p.choices)}" if p.choices else ""
        print(f"{name:28} {p.kind:10} default {p.default!r:24} {p.doc}{extra}")
    return 0


def write_generated() -> list[Path]:
    """Rewrite what derives from params.SPEC: each notebook's `parameters` cell (for the names it declares, in its
    order), params/default.yaml and docs/parameters.md. Returns the files that changed."""
    import json

    from c360.paths import PROJ_ROOT
    from c360.run.notebooks import declared_parameters, notebooks

    changed = []
    for nb in notebooks():
        text = nb.read_text(encoding="utf-8")
        doc = json.loads(text)
        [cell] = [c for c in doc["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        cell["source"] = P.parameters_cell(declared_parameters(nb)).splitlines(keepends=True)
        if json.dumps(doc, indent=1, ensure_ascii=False) + "\n" != text:
            nb.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            changed.append(nb)
    readers = parameter_readers()
    for path, text in ((P.DEFAULT_PARAMS, P.default_yaml(readers)),
                       (PROJ_ROOT / "docs" / "parameters.md", P.markdown(readers))):
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def parameter_readers() -> dict[str, list[str]]:
    """Parameter name -> the notebooks (stems) whose parameters cell declares it (the BigQuery keys through the
    notebook's `bigquery` mapping)."""
    from c360.run.notebooks import declared_parameters, notebooks

    readers: dict[str, list[str]] = {}
    for nb in notebooks():
        declared = declared_parameters(nb)
        names = [*declared, *(P.BIGQUERY_KEYS if P.BIGQUERY_GROUP in declared else ())]
        for name in names:
            readers.setdefault(name, []).append(nb.stem)
    return readers


def _cmd_dag(args) -> int:
    """The models as a Mermaid flowchart, from their refs (docs/architecture.md shows it)."""
    from c360 import models

    print(models.mermaid(models.LAYERS), end="")
    return 0


def _cmd_lab(args) -> int:
    """JupyterLab on the notebooks, on a scratch copy of the published warehouse (c360.run.lab); --prepare-only:
    refresh the copy and stop."""
    from c360.paths import resolve
    from c360.run import lab

    try:
        merged = _load(args)
    except P.ParamError as e:
        print(f"c360: bad parameters: {e}", file=sys.stderr)
        return 2
    published, scratch = resolve(merged["warehouse"]), resolve(args.scratch)
    if args.prepare_only:
        print(f"c360: {lab.refresh_scratch(published, scratch)}")
        return 0
    lab.start(published, args.jupyter, scratch)
    return 0  # not reached: the process is JupyterLab's now


def _version() -> str:
    from c360.sources.provenance import code_version

    code = code_version()
    dirty = {True: ", uncommitted changes", False: "", None: ""}[code["dirty"]]
    return f"c360 {code['c360']} (commit {code['git_sha']}{dirty})"


class _Version(argparse.Action):
    """--version: the package version and the git commit, with a dirty flag (computed only when asked)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="print the version and commit, and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        print(_version())
        parser.exit()


def _cmd_golden(args) -> int:
    from c360.run import golden

    golden.refresh()
    return 0


def _cmd_synth(args) -> int:
    from datetime import date

    from c360 import demo

    try:
        start = date.fromisoformat(args.start)
    except ValueError:
        print(f"c360: --start must be YYYY-MM-DD, got {args.start!r}", file=sys.stderr)
        return 2
    if args.persons < 1 or args.days < 1:
        print("c360: --persons and --days must be at least 1", file=sys.stderr)
        return 2
    try:
        currencies = demo.parse_currencies(args.currencies)
    except ValueError as e:
        print(f"c360: --currencies: {e}", file=sys.stderr)
        return 2
    counts = demo.generate(Path(args.out), args.persons, args.days, args.seed, args.format, start, currencies)
    print(f"c360: wrote {args.out}: " + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                                                  for k, v in counts.items()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="c360", description=__doc__)
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="validate parameters, run every notebook, write reports/")
    run.add_argument("--params", default=str(P.DEFAULT_PARAMS), help="YAML parameter file")
    run.add_argument("-p", action="append", default=[], metavar="KEY=VALUE", help="override one parameter")
    run.add_argument("--reports", default="", help="report folder (default reports/)")
    run.add_argument("--make-vars", default="", help=argparse.SUPPRESS)
    run.add_argument("--from-make", action="store_true", help=argparse.SUPPRESS)
    run.set_defaults(fn=_cmd_run)
    rep = sub.add_parser("reproduce", help="re-run a run from its manifest into a scratch warehouse and check every "
                         "table's checksum against it")
    rep.add_argument("manifest", help="a run's manifest, e.g. reports/latest/manifest.json")
    rep.add_argument("--scratch", default="", help="folder for the re-run's warehouse and reports (kept; default: a "
                     "temporary folder, removed when every table matches)")
    rep.add_argument("--keep", action="store_true", help="keep the temporary folder")
    rep.set_defaults(fn=_cmd_reproduce)
    pp = sub.add_parser("params", help="list every parameter")
    pp_format = pp.add_mutually_exclusive_group()
    pp_format.add_argument("--markdown", action="store_true", help="the reference table of docs/parameters.md")
    pp_format.add_argument("--yaml", action="store_true", help="params/default.yaml, generated from the spec")
    pp_format.add_argument("--write", action="store_true", help="rewrite the notebooks' parameters cells, "
                           "params/default.yaml and docs/parameters.md from the spec")
    pp.set_defaults(fn=_cmd_params)
    sq = sub.add_parser("sql", help="print a model's SQL as the engine runs it; --explain profiles it on the warehouse")
    sq.add_argument("model", help="a model name, e.g. int__web_sessions")
    sq.add_argument("--target", choices=["duckdb", "bigquery"], default="",
                    help="the engine's SQL to print (default: the parameters' backend)")
    sq.add_argument("--incremental", action="store_true", help="the incremental form (models that have one)")
    sq.add_argument("--pretty", action="store_true", help="formatted by sqlglot (default: the exact text run)")
    sq.add_argument("--explain", action="store_true",
                    help="run the SELECT under DuckDB's EXPLAIN ANALYZE on the warehouse (read-only)")
    sq.add_argument("--params", default=str(P.DEFAULT_PARAMS), help="YAML parameter file")
    sq.add_argument("-p", action="append", default=[], metavar="KEY=VALUE", help="override one parameter")
    sq.set_defaults(fn=_cmd_sql)
    lb = sub.add_parser("lab", help="JupyterLab on notebooks/, on a scratch copy of the published warehouse "
                        "(build/lab.duckdb)")
    lb.add_argument("--params", default=str(P.DEFAULT_PARAMS), help="YAML parameter file (its warehouse is copied)")
    lb.add_argument("-p", action="append", default=[], metavar="KEY=VALUE", help="override one parameter")
    lb.add_argument("--make-vars", default="", help=argparse.SUPPRESS)
    lb.add_argument("--from-make", action="store_true", help=argparse.SUPPRESS)
    lb.add_argument("--scratch", default="build/lab.duckdb", help="the scratch copy (default build/lab.duckdb)")
    lb.add_argument("--prepare-only", action="store_true", help="refresh the scratch copy, do not start JupyterLab")
    lb.add_argument("jupyter", nargs="*", help="arguments for jupyter lab (after --)")
    lb.set_defaults(fn=_cmd_lab)
    sub.add_parser("dag", help="print the models and sources as a Mermaid flowchart").set_defaults(fn=_cmd_dag)
    sub.add_parser("golden", help="re-execute notebooks/ on fixtures and store their outputs").set_defaults(fn=_cmd_golden)
    syn = sub.add_parser("synth", help="write a synthetic source root (GA4 export + CRM) following the data contract")
    syn.add_argument("out", help="folder to write (its GA4 shards and CSVs are replaced)")
    syn.add_argument("--persons", type=int, required=True, help="people in the population")
    syn.add_argument("--days", type=int, required=True, help="days of GA4 export (the last one is intraday)")
    syn.add_argument("--seed", type=int, required=True, help="the same seed writes byte-identical files")
    syn.add_argument("--format", default="jsonl.gz", choices=["jsonl.gz", "jsonl", "parquet"],
                     help="daily GA4 shard format (default jsonl.gz)")
    syn.add_argument("--start", default="2024-03-01", help="first day, YYYY-MM-DD (default 2024-03-01)")
    syn.add_argument("--currencies", default="USD",
                     help="deal currencies, comma-separated; the first is the reporting currency (default USD); "
                          "more than one also writes marketing/fx_rates.csv")
    syn.set_defaults(fn=_cmd_synth)
    args = parser.parse_args(argv)
    if args.cmd != "lab":  # a run or `golden` started from a lab terminal writes where it says, not to the lab copy
        os.environ.pop(P.LAB_WAREHOUSE_ENV, None)
    return args.fn(args)
