"""`python -m c360 ...`: run the pipeline, list parameters, refresh notebook outputs."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from c360 import params as P

# jsonschema, imported by nbformat, registers an IRI format checker whose import builds a grammar (about 1 s of
# every run's start); notebook validation never uses that format, so the module is marked as absent.
sys.modules.setdefault("rfc3987_syntax", None)


def _cmd_run(args) -> int:
    # only the runner before the run: it starts the first kernel at once, and every module imported before that
    # delays the whole run (c360.sources and c360.bigquery bring pandas and duckdb: about 0.5 s)
    from c360 import runner

    try:
        overrides = [*P.split_make_vars(args.make_vars or ""), *args.p]
        merged = P.load(args.params, overrides)
    except P.ParamError as e:
        print(f"c360: bad parameters: {e}", file=sys.stderr)
        return 2
    try:
        out = runner.run(merged, Path(args.reports)) if args.reports else runner.run(merged)
    except P.ParamError as e:  # backend bigquery: a source table or dataset that does not exist
        print(f"c360: bad parameters: {e}", file=sys.stderr)
        return 2
    except runner.RunInProgress as e:
        print(f"c360: {e}", file=sys.stderr)
        return 4
    except runner.RunFailed as e:
        print(f"c360: run failed: {e}", file=sys.stderr)
        print("c360: the previous warehouse and reports are unchanged.", file=sys.stderr)
        return 1
    except Exception as e:
        from c360.bigquery import NoCredentials
        from c360.sources import BadInputError

        if isinstance(e, BadInputError):
            print(f"c360: bad input: {e}", file=sys.stderr)
            return 3
        if isinstance(e, NoCredentials):
            print(f"c360: {e}", file=sys.stderr)
            return 5
        raise
    print(f"c360: reports in {out} (reports/latest)")
    return 0


def _cmd_params(args) -> int:
    defaults = P.read_file(P.DEFAULT_PARAMS)
    for name, p in P.SPEC.items():
        extra = f" one of {list(p.choices)}" if p.choices else ""
        print(f"{name:28} {p.kind:10} default {defaults.get(name)!r:24} {p.doc}{extra}")
    return 0


def _cmd_golden(args) -> int:
    from c360 import golden

    golden.refresh()
    return 0


def _cmd_synth(args) -> int:
    from datetime import date

    from c360 import synth

    try:
        start = date.fromisoformat(args.start)
    except ValueError:
        print(f"c360: --start must be YYYY-MM-DD, got {args.start!r}", file=sys.stderr)
        return 2
    if args.persons < 1 or args.days < 1:
        print("c360: --persons and --days must be at least 1", file=sys.stderr)
        return 2
    counts = synth.generate(Path(args.out), args.persons, args.days, args.seed, args.format, start)
    print(f"c360: wrote {args.out}: " + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                                                  for k, v in counts.items()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="c360", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="validate parameters, run every notebook, write reports/")
    run.add_argument("--params", default=str(P.DEFAULT_PARAMS), help="YAML parameter file")
    run.add_argument("-p", action="append", default=[], metavar="KEY=VALUE", help="override one parameter")
    run.add_argument("--reports", default="", help="report folder (default reports/)")
    run.add_argument("--make-vars", default="", help=argparse.SUPPRESS)
    run.set_defaults(fn=_cmd_run)
    sub.add_parser("params", help="list every parameter").set_defaults(fn=_cmd_params)
    sub.add_parser("golden", help="re-execute notebooks/ on fixtures and store their outputs").set_defaults(fn=_cmd_golden)
    syn = sub.add_parser("synth", help="write a synthetic source root (GA4 export + CRM) following the data contract")
    syn.add_argument("out", help="folder to write (its GA4 shards and CSVs are replaced)")
    syn.add_argument("--persons", type=int, required=True, help="people in the population")
    syn.add_argument("--days", type=int, required=True, help="days of GA4 export (the last one is intraday)")
    syn.add_argument("--seed", type=int, required=True, help="the same seed writes byte-identical files")
    syn.add_argument("--format", default="jsonl.gz", choices=["jsonl.gz", "jsonl", "parquet"],
                     help="daily GA4 shard format (default jsonl.gz)")
    syn.add_argument("--start", default="2024-03-01", help="first day, YYYY-MM-DD (default 2024-03-01)")
    syn.set_defaults(fn=_cmd_synth)
    args = parser.parse_args(argv)
    return args.fn(args)
