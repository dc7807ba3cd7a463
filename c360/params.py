"""Run parameters: one typed spec, YAML defaults, overrides, and validation before any kernel starts.

Papermill merges parameters shallowly and only warns on unknown names, so c360 checks the merged set
itself: an unknown key, a wrong type or a value out of range is a `ParamError` naming the key.
"""
from __future__ import annotations

import copy
import difflib
import json
import re
import textwrap
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from c360.paths import PARAMS_DIR

DEFAULT_PARAMS = PARAMS_DIR / "default.yaml"


class ParamError(ValueError):
    """A parameter file or override is wrong; the message names the key."""


@dataclass(frozen=True)
class Param:
    """The contract of one parameter: its type, its default, its allowed values, what it means.

    `doc` is the one text of its meaning: docs/parameters.md shows it, params/default.yaml carries it as the key's
    comment and a notebook's parameters cell as the line's comment, shortened to its first sentence when the line
    would be long (see parameters_cell): so the first sentence says what the parameter is on its own, without '='.
    """

    name: str
    kind: str  # str | int | float | bool | list[str] | list[int]
    default: Any = field(hash=False)  # the value of params/default.yaml and of the notebooks' parameters cells
    doc: str
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    non_empty: bool = False
    pattern: str | None = None  # a str value must match it in full (or be '' unless non_empty)
    regex: bool = False  # each value is a regular expression the SQL runs (RE2): it must compile (re2_problem)


# The BigQuery backend's settings (backend: bigquery; the duckdb backend ignores them). Names are checked
# strictly, since they become SQL identifiers: letters, digits and underscores (projects: lower case and dashes).
BQ_PROJECT = r"[a-z][a-z0-9-]{4,28}[a-z0-9]"
BQ_DATASET = r"[A-Za-z0-9_]{1,1024}"
BQ_TABLE = r"[A-Za-z0-9_]{1,1024}"
BQ_DATASET_REF = rf"(?:{BQ_PROJECT}\.)?{BQ_DATASET}"
BQ_TABLE_REF = rf"(?:{BQ_PROJECT}\.)?{BQ_DATASET}\.{BQ_TABLE}"
BQ_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
# A domain name as unwanted_referrals lists it: lower-case labels of letters, digits and dashes, joined by dots.
DOMAIN = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
BIGQUERY_PARAMS = (
    Param("bigquery_project", "str", "", "BigQuery: the project that runs (and is billed for) the jobs and holds "
          "bigquery_dataset", pattern=BQ_PROJECT),
    Param("bigquery_location", "str", "US", "BigQuery: location of the datasets and jobs (US, EU, europe-west1, ...)",
          non_empty=True, pattern=r"[A-Za-z0-9-]{1,64}"),
    Param("bigquery_dataset", "str", "c360", "BigQuery: the dataset the models are written to (what warehouse is "
          "for duckdb)", non_empty=True, pattern=BQ_DATASET),
    Param("ga4_dataset", "str", "", "BigQuery: the GA4 export dataset, analytics_<property_id> (or "
          "project.analytics_<property_id>); its events_* / events_intraday_* shards are read in place",
          pattern=BQ_DATASET_REF),
    Param("ga4_start_date", "str", "", "BigQuery: the first GA4 shard date read (YYYY-MM-DD; '' = no lower bound)",
          pattern=BQ_DATE),
    Param("ga4_end_date", "str", "", "BigQuery: the last GA4 shard date read (YYYY-MM-DD; '' = no upper bound)",
          pattern=BQ_DATE),
    Param("crm_contacts_table", "str", "", "BigQuery: the CRM contacts table (as Fivetran syncs it), dataset.table "
          "or project.dataset.table", pattern=BQ_TABLE_REF),
    Param("crm_deals_table", "str", "", "BigQuery: the CRM deals table, dataset.table or project.dataset.table",
          pattern=BQ_TABLE_REF),
    Param("crm_form_submissions_table", "str", "", "BigQuery: the form submissions table ('' = none)",
          pattern=BQ_TABLE_REF),
    Param("crm_dataset", "str", "", "BigQuery: the dataset Fivetran syncs the CRM to (dataset or project.dataset), "
          "read in place when crm_connector is not contract; its tables as Fivetran names them (contact, deal, ...)",
          pattern=BQ_DATASET_REF),
    Param("product_users_table", "str", "", "BigQuery: the product users table ('' = none)", pattern=BQ_TABLE_REF),
    Param("ad_spend_table", "str", "", "BigQuery: the ad spend table ('' = none)", pattern=BQ_TABLE_REF),
    Param("fx_rates_table", "str", "", "BigQuery: exchange rates (date, currency, rate), as marketing/fx_rates.csv "
          "('' = none)", pattern=BQ_TABLE_REF),
    Param("email_domains_table", "str", "", "BigQuery: an email-domain classification table (domain, "
          "classification); '' = the seed CSV (source_root/seeds or c360/seeds), uploaded to bigquery_dataset",
          pattern=BQ_TABLE_REF),
    Param("maximum_bytes_billed", "int", 10 * 1024 ** 3, "BigQuery: every job fails past this many billed bytes "
          "(1 GiB = 1073741824), and a model whose dry-run estimate exceeds it is refused before it runs",
          minimum=10 * 1024 * 1024),
    Param("bigquery_max_bytes_per_run", "int", 50 * 1024 ** 3, "BigQuery: the run's byte budget: before the first "
          "model runs, the dry runs of every model that can be planned must sum to at most this (else the run is "
          "refused, naming the largest), and no job may bill more than what the run's earlier jobs left of it",
          minimum=10 * 1024 * 1024),
)
BIGQUERY_KEYS = tuple(p.name for p in BIGQUERY_PARAMS)
BIGQUERY_REQUIRED = ("bigquery_project", "ga4_dataset")
# the CRM on BigQuery: its two tables (crm_connector contract), or the Fivetran dataset (any other connector)
BIGQUERY_CRM_TABLES = ("crm_contacts_table", "crm_deals_table")
# A notebook declares the BigQuery keys as one mapping of this name (`bigquery: dict = {}`); report.stage_params
# merges it back into flat parameters. The runner fills it only for backend bigquery.
BIGQUERY_GROUP = "bigquery"
BIGQUERY_GROUP_LINE = (f"{BIGQUERY_GROUP}: dict = {{}}  # backend bigquery: its keys (bigquery_project, ga4_dataset, "
                       "...), filled by the runner")


SPEC: dict[str, Param] = {
    p.name: p
    for p in [
        Param("source_root", "str", "data/fixtures", "folder of source files laid out as the data contract says. "
              "It holds ga4/ and the folders of the CSV files: crm/, product/, marketing/, seeds/", non_empty=True),
        Param("warehouse", "str", "build/c360.duckdb", "the DuckDB warehouse file the models are written to",
              non_empty=True),
        Param("backend", "str", "duckdb", "the engine the SQL models run on. bigquery reads the BigQuery keys "
              "(see docs/bigquery.md)", choices=("duckdb", "bigquery")),
        Param("duckdb_memory_limit", "str", "1200MB", "DuckDB: memory the warehouse may use before it spills to "
              "disk. E.g. 1500MB, 4GB; '' = DuckDB's default, 80% of RAM", pattern=r"[0-9]+(\.[0-9]+)? ?[KMGT]i?B"),
        Param("on_bad_rows", "str", "fail", "what a malformed input row does. fail: it stops the run; quarantine: "
              "it is set aside (c360__quarantine) and counted", choices=("fail", "quarantine")),
        Param("full_refresh", "bool", False, "rebuild everything from the sources instead of only what changed. "
              "true (make run FULL_REFRESH=1) re-reads every source file and rebuilds every model; otherwise a run "
              "re-reads only new or changed files, rebuilds only the sessions of changed event dates and keeps the "
              "models whose inputs did not change"),
        Param("lookback_days", "int", 3, "GA4 shards dated within this many days of the newest one loaded are "
              "re-read when their bytes changed. Their content (sha256) is compared, so a late update that kept the "
              "size and modification time is read too: GA4 updates a daily table for about 72 hours. On BigQuery an "
              "incremental run re-reads the shards from this many days before the newest one it holds",
              minimum=0, maximum=365),
        Param("crm_connector", "str", "contract", "how the CRM is laid out. contract: crm/*.csv as "
              "docs/data-contract.md says; fivetran_hubspot, fivetran_salesforce: the tables as Fivetran syncs them, "
              "in source_root/hubspot/ or source_root/salesforce/ (BigQuery: crm_dataset). See docs/connectors.md",
              choices=("contract", "fivetran_hubspot", "fivetran_salesforce")),
        Param("crm_ga_client_id_property", "str", "ga_client_id", "the CRM contact property holding the GA client id "
              "(HubSpot: contact.property_<name>, Salesforce: contact.<name>_c). Its values are form-submission "
              "evidence", non_empty=True, pattern=r"[a-z][a-z0-9_]{0,62}"),
        Param("crm_user_id_property", "str", "product_user_id", "the CRM contact property holding the product user "
              "id (HubSpot: contact.property_<name>, Salesforce: contact.<name>_c). Its values are crm_contact "
              "evidence", non_empty=True, pattern=r"[a-z][a-z0-9_]{0,62}"),
        Param("won_stages", "list[str]", ["closedwon"], "deal stages that count as won", non_empty=True),
        Param("lost_stages", "list[str]", ["closedlost"], "deal stages that count as lost; every other stage is open"),
        Param("reporting_currency", "str", "", "ISO 4217 code every money figure is reported in, or empty for the "
              "single currency of the deals. Other currencies are converted with marketing/fx_rates.csv",
              pattern=r"[A-Z]{3}"),
        Param("email_canonicalization", "bool", False,
              "also canonicalize emails, provider-aware. gmail.com/googlemail.com drop dots and +tag (-> gmail.com); "
              "outlook.com, hotmail.com, icloud.com, protonmail.com, proton.me, fastmail.com drop the +tag"),
        Param("identity_blocklist", "list[str]",
              ["", "undefined", "null", "none", "n/a", "na", "0", "-1", "anonymous", "unknown"],
              "identifier values that never link records (exact, case-insensitive). Junk such as 'undefined'"),
        Param("identity_blocklist_patterns", "list[str]",
              ["^(noreply|no-reply|donotreply|do-not-reply|test)@", r"@example\.(com|org|net)$"],
              "regular expressions (RE2) on the normalized identifier; a match never links records", regex=True),
        Param("max_identifiers_per_customer", "int", 100,
              "a customer with more identifiers is not merged blindly. Its devices are re-attached by their best "
              "link, then it is split so each CRM contact stands alone", minimum=2),
        Param("unwanted_referrals", "list[str]", [],
              "domains (and their subdomains) whose referrals never set a session's source, e.g. your own or your "
              "payment provider's. As GA4's 'List unwanted referrals' setting: an event with medium referral from "
              "one of them (case-insensitive) does not set its session's source, nor does an event with "
              "ignore_referrer = 'true'", pattern=DOMAIN),
        Param("conversion_window_days", "int", 90,
              "a closed deal's touchpoints are its sessions from closed_date minus this many days to closed_date. "
              "Both ends are inclusive", minimum=0, maximum=3650),
        Param("half_life_days", "float", 7.0, "time_decay: a touch this many days earlier gets half the weight",
              minimum=0.01, maximum=3650),
        Param("attribution_models", "list[str]",
              ["first_touch", "last_touch", "linear", "time_decay", "position_based", "markov", "shapley"],
              "the attribution models to produce", non_empty=True,
              choices=("first_touch", "last_touch", "linear", "time_decay", "position_based", "markov", "shapley")),
        Param("attribution_channel", "str", "channel_group", "the channel dimension of attribution and ROI",
              choices=("channel_group", "source_medium", "campaign")),
        Param("sensitivity_windows_days", "list[int]", [7, 30, 60, 90],
              "further conversion windows computed in the same run, to show how channel shares move",
              minimum=0, maximum=3650),
        *BIGQUERY_PARAMS,
    ]
}


def defaults() -> dict[str, Any]:
    """Every parameter's default, from SPEC (a fresh copy: a caller may change it)."""
    return {name: copy.deepcopy(p.default) for name, p in SPEC.items()}


def _type_ok(kind: str, value: Any) -> bool:
    scalar = {
        "str": lambda v: isinstance(v, str),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
    }
    if kind.startswith("list["):
        inner = kind[5:-1]
        return isinstance(value, list) and all(scalar[inner](v) for v in value)
    return scalar[kind](value)


def _check_one(p: Param, value: Any) -> None:
    if not _type_ok(p.kind, value):
        raise ParamError(f"parameter '{p.name}' must be {p.kind}, got {value!r} ({type(value).__name__})")
    items = value if isinstance(value, list) else [value]
    if p.non_empty and (value == "" or value == []):
        raise ParamError(f"parameter '{p.name}' must not be empty")
    for v in items:
        if p.choices is not None and v not in p.choices:
            raise ParamError(f"parameter '{p.name}' must be one of {list(p.choices)}, got {v!r}")
        if p.minimum is not None and v < p.minimum:
            raise ParamError(f"parameter '{p.name}' must be >= {p.minimum}, got {v!r}")
        if p.maximum is not None and v > p.maximum:
            raise ParamError(f"parameter '{p.name}' must be <= {p.maximum}, got {v!r}")
        # '' passes a str pattern unless non_empty (it means "none"); an item of a list must match
        if p.pattern is not None and (v != "" or p.non_empty or p.kind.startswith("list[")) \
                and not re.fullmatch(p.pattern, v):
            raise ParamError(f"parameter '{p.name}' must match {p.pattern}, got {v!r}")
        if p.regex:
            problem = re2_problem(v)
            if problem:
                raise ParamError(f"parameter '{p.name}': {v!r} is not a valid regular expression (RE2): {problem}")


# What Python's `re` accepts but RE2 (BigQuery's and DuckDB's regular expressions) does not.
_RE2_LACKS = (
    (re.compile(r"\(\?[=!]"), "lookahead (?=...) / (?!...)"),
    (re.compile(r"\(\?<[=!]"), "lookbehind (?<=...) / (?<!...)"),
    (re.compile(r"\(\?P=|\\g<|\\[1-9]"), "backreference"),
    (re.compile(r"\(\?>"), "atomic group (?>...)"),
    (re.compile(r"\(\?\("), "conditional (?(...)...)"),
    (re.compile(r"(?:[*+?}])\+"), "possessive quantifier"),
)


def re2_problem(pattern: str) -> str | None:
    """Why `pattern` is no RE2 regular expression (None: it is one, as far as this checks): it must compile
    with Python's `re`, and use none of the constructs RE2 lacks (lookarounds, backreferences, atomic groups,
    conditionals, possessive quantifiers), looked for outside character classes."""
    try:
        re.compile(pattern)
    except re.error as e:
        return str(e)
    # the pattern with escaped characters and character classes blanked, so `\(` or `[(?=]` is not mistaken
    # for a construct (a backslash escape is kept as written: \1 must still be seen)
    plain, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            plain.append("_" if in_class else (ch + nxt if nxt.isdigit() or nxt == "g" else "__"))
            i += 2
            continue
        if in_class:
            in_class = ch != "]" or not plain or plain[-1] == "["
            plain.append("_" if in_class else "]")
        else:
            in_class = ch == "["
            plain.append(ch)
        i += 1
    text = "".join(plain)
    for construct, name in _RE2_LACKS:
        if construct.search(text):
            return f"RE2 has no {name}"
    return None


def _unknown(key: str) -> ParamError:
    close = difflib.get_close_matches(key, SPEC, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return ParamError(f"unknown parameter '{key}'{hint}; known: {', '.join(sorted(SPEC))}")


def validate(params: dict[str, Any]) -> dict[str, Any]:
    """Check a complete parameter set against SPEC.

    Args:
        params: every parameter, by name.
    Returns:
        The same parameters, in SPEC order.
    Raises:
        ParamError: an unknown or missing key, a wrong type, a value out of range.
    """
    for key in params:
        if key not in SPEC:
            raise _unknown(key)
    missing = [k for k in SPEC if k not in params]
    if missing:
        raise ParamError(f"missing parameter(s): {', '.join(missing)}")
    for key, p in SPEC.items():
        _check_one(p, params[key])
    if params["backend"] == "bigquery":
        check_bigquery(params)
    return {k: params[k] for k in SPEC}


def check_bigquery(params: dict[str, Any]) -> None:
    """What backend bigquery needs beyond each key's type: every BigQuery key present, the required names set,
    real dates in order. Raises ParamError naming the key."""
    missing = [k for k in BIGQUERY_KEYS if k not in params]
    if missing:
        raise ParamError(f"backend bigquery needs the parameter(s) {', '.join(missing)}")
    validate_partial({k: params[k] for k in BIGQUERY_KEYS})
    for key in BIGQUERY_REQUIRED:
        if not params[key]:
            raise ParamError(f"backend bigquery needs parameter '{key}' (see params/bigquery.example.yaml)")
    if not params["crm_dataset"]:
        for key in BIGQUERY_CRM_TABLES:
            if not params[key]:
                raise ParamError(f"backend bigquery needs parameter '{key}' (or crm_dataset, read by a crm_connector "
                                 "other than contract; see params/bigquery.example.yaml)")
    dates = {}
    for key in ("ga4_start_date", "ga4_end_date"):
        try:
            dates[key] = date.fromisoformat(params[key]) if params[key] else None
        except ValueError:
            raise ParamError(f"parameter '{key}' is not a date: {params[key]!r}") from None
    if dates["ga4_start_date"] and dates["ga4_end_date"] and dates["ga4_start_date"] > dates["ga4_end_date"]:
        raise ParamError("parameter 'ga4_start_date' is after ga4_end_date")


def validate_partial(params: dict[str, Any]) -> dict[str, Any]:
    """Check the parameters one notebook declares (types and ranges; no completeness)."""
    for key, value in params.items():
        if key not in SPEC:
            raise _unknown(key)
        _check_one(SPEC[key], value)
    return dict(params)


def read_file(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML parameter file (not yet validated); for a run's manifest.json (a mapping with `run_id`
    and `parameters`), its `parameters`: the run's parameters, to run with again."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamError(f"parameter file not found: {path}") from None
    except yaml.YAMLError as e:
        raise ParamError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ParamError(f"{path}: must be a mapping of parameter: value")
    if "run_id" in data and isinstance(data.get("parameters"), dict):  # a manifest: `c360 reproduce` checks it too
        return data["parameters"]
    return data


def parse_override(text: str) -> tuple[str, Any]:
    """`key=value` -> (key, value); the key is case-insensitive, the value is read as YAML.

    Example:
        >>> parse_override("CONVERSION_WINDOW_DAYS=30")
        ('conversion_window_days', 30)
    """
    if "=" not in text:
        raise ParamError(f"override {text!r} must look like key=value")
    key, raw = text.split("=", 1)
    key = key.strip().lower()
    if key not in SPEC:
        raise _unknown(key)
    if SPEC[key].kind == "str":
        return key, raw
    if SPEC[key].kind == "bool" and raw.strip() in ("0", "1"):  # make FULL_REFRESH=1
        return key, raw.strip() == "1"
    try:
        return key, yaml.safe_load(raw)
    except yaml.YAMLError:
        raise ParamError(f"override for '{key}': cannot read {raw!r}") from None


# The Makefile's own variables (`make run PYTHON=python3.11`, PARAMS=file.yaml): make uses them, they are no
# parameters. Spelled as make spells them (make's names are case-sensitive); tests/test_params.py checks that every
# variable the Makefile sets is here and that no parameter's upper-case name is.
MAKEFILE_VARIABLES = ("PYTHON", "PARAMS", "VENV", "BIN", "STAMP", "SHELL", "BENCH_SIZES",
                      "BENCH_SEED", "BENCH_REPEAT", "TEST_WORKERS")


def split_make_vars(text: str) -> list[str]:
    """Make's $(MAKEOVERRIDES) (`A=1 B=x\\ y`) -> ['A=1', 'B=x y'], without the Makefile's own variables
    (MAKEFILE_VARIABLES: PYTHON, PARAMS, ...). Every other word is a parameter override: a misspelled one is
    still refused (load)."""
    words = [w.replace("\\ ", " ") for w in re.split(r"(?<!\\) ", text.strip()) if w]
    return [w for w in words if w.split("=", 1)[0].strip() not in MAKEFILE_VARIABLES]


def load(path: str | Path = DEFAULT_PARAMS, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Defaults, then the file at `path`, then `key=value` overrides; validated.

    A file need not repeat every key: what it leaves out comes from params/default.yaml.
    """
    merged = read_file(DEFAULT_PARAMS)
    if Path(path).resolve() != DEFAULT_PARAMS.resolve():
        for key, value in read_file(path).items():
            if key not in SPEC:
                raise ParamError(f"{path}: {_unknown(key)}")
            merged[key] = value
    for text in overrides:
        key, value = parse_override(text)
        merged[key] = value
    return validate(merged)


# `make lab` (c360.run.lab): the scratch copy of the published warehouse that notebooks run by hand write to.
# Runs and `make golden` drop it from their environment, so the notebooks they execute never see it.
LAB_WAREHOUSE_ENV = "C360_LAB_WAREHOUSE"


def lab_override(params: dict[str, Any], environ: dict[str, str] | None = None) -> dict[str, Any]:
    """In a `make lab` session (LAB_WAREHOUSE_ENV set), the parameters with `warehouse` pointing at the scratch
    copy: a notebook run by hand never writes the published warehouse. Outside one, the parameters as given."""
    import os

    scratch = (os.environ if environ is None else environ).get(LAB_WAREHOUSE_ENV)
    if not scratch or "warehouse" not in params:
        return params
    return {**params, "warehouse": scratch}


def notebook_values(params: dict[str, Any]) -> dict[str, Any]:
    """Flat parameters as notebooks declare them: the BigQuery keys become one mapping, BIGQUERY_GROUP, filled only
    for backend bigquery (the duckdb backend ignores them)."""
    values = {k: v for k, v in params.items() if k not in BIGQUERY_KEYS}
    if params.get("backend") == "bigquery":
        values[BIGQUERY_GROUP] = {k: params[k] for k in BIGQUERY_KEYS if k in params}
    return values


def from_notebook(values: dict[str, Any]) -> dict[str, Any]:
    """A notebook's parameter values back to flat parameters (the inverse of notebook_values); a key inside the
    BIGQUERY_GROUP mapping that is not a BigQuery key is a ParamError naming it."""
    values = dict(values)
    group = values.pop(BIGQUERY_GROUP, None) or {}
    if not isinstance(group, dict):
        raise ParamError(f"parameter '{BIGQUERY_GROUP}' must be a mapping of BigQuery keys, got {group!r}")
    for key in group:
        if key not in BIGQUERY_KEYS:
            hint = difflib.get_close_matches(str(key), BIGQUERY_KEYS, n=1)
            raise ParamError(f"'{BIGQUERY_GROUP}' holds '{key}', which is not a BigQuery parameter"
                             + (f" (did you mean '{hint[0]}'?)" if hint else ""))
    return {**values, **group}


def for_notebook(params: dict[str, Any], declared: list[str]) -> dict[str, Any]:
    """The values a notebook declares in its `parameters` cell (see notebook_values)."""
    values = notebook_values(params)
    return {k: values[k] for k in declared if k in values}


def markdown(readers: dict[str, list[str]]) -> str:
    """The parameter reference (docs/parameters.md) from SPEC: one row per parameter with its type, default,
    allowed values and meaning, and the notebooks that read it (`readers`: name -> notebook stems)."""
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    def allowed(p: Param) -> str:
        parts = [f"one of {', '.join(f'`{c}`' for c in p.choices)}"] if p.choices else []
        for sign, bound in ((">=", p.minimum), ("<=", p.maximum)):
            if bound is not None:
                parts.append(f"{sign} {int(bound) if float(bound).is_integer() else bound}")
        if p.pattern is not None:
            parts.append(f"matches `{cell(p.pattern)}`")
        if p.non_empty:
            parts.append("not empty")
        return "; ".join(parts)

    lines = [
        "# Parameters",
        "",
        "<!-- generated by `python -m c360 params --markdown` from c360/params.py; tests/test_params.py checks it -->",
        "",
        "Every parameter lives in [`params/default.yaml`](../params/default.yaml). Change one for a single run with",
        "`make run KEY=value` (any case), or keep a file of your own: `make run PARAMS=params/mine.yaml` (keys it",
        "leaves out come from default.yaml). Values are checked before any notebook starts. The BigQuery keys are",
        "read only with `backend: bigquery` (see [bigquery.md](bigquery.md)).",
        "",
        "| parameter | type | default | allowed | meaning | read by |",
        "|---|---|---|---|---|---|",
    ]
    for name, p in SPEC.items():
        default = json.dumps(p.default, ensure_ascii=False)
        lines.append(f"| `{name}` | {p.kind} | `{cell(default)}` | {allowed(p)} | {cell(p.doc)} | "
                     f"{', '.join(readers.get(name, [])) or '–'} |")
    return "\n".join(lines) + "\n"


YAML_HEADER = """\
# c360 parameters: every parameter of a run, with its default and meaning. Change a run with
#   make run CONVERSION_WINDOW_DAYS=30        or   python -m c360 run -p conversion_window_days=30
# or copy this file, change the copy and run `make run PARAMS=params/mine.yaml` (keys it leaves out come from
# here). Keys are validated before anything runs; `python -m c360 params` lists them with their meaning.
# This file is generated from c360/params.py (SPEC), where a default or a meaning is changed:
# `python -m c360 params --write` rewrites it with the notebooks' parameters cells (tests/test_params.py checks).
"""
LINE_WIDTH = 120  # of params/default.yaml and of a notebook's parameters cell, where the docs allow it
COMMENT_COLUMN = 34  # where a key's comment starts in params/default.yaml


def _yaml_value(value: Any) -> str:
    """`value` in YAML flow style, on one line: `data/fixtures`, `''`, `[closedwon, 'null']`, `false`; a string
    is quoted unless it is a plain word (letters, digits, _ . / -) that YAML reads back as the same string."""
    if isinstance(value, list):
        text = "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    elif isinstance(value, str) and not (re.fullmatch(r"[A-Za-z0-9_./-]+", value) and yaml.safe_load(value) == value):
        text = yaml.safe_dump(value, default_style="'", allow_unicode=True, width=1 << 30).rstrip("\n")
    else:
        text = yaml.safe_dump(value, allow_unicode=True, width=1 << 30).rstrip("\n").removesuffix("\n...")
    assert "\n" not in text and yaml.safe_load(text) == value, (value, text)
    return text


def _sections(readers: dict[str, list[str]]) -> dict[str, list[str]]:
    """Section title -> its parameters, in SPEC order: those every notebook reads, then those of each notebook
    (or set of notebooks) in notebook order, then any no notebook reads, then the BigQuery keys."""
    stems = sorted({stem for names in readers.values() for stem in names})
    grouped: dict[tuple[int, tuple[str, ...]], list[str]] = {}
    for name in SPEC:
        read_by = tuple(sorted(readers.get(name, [])))
        rank = 4 if name in BIGQUERY_KEYS else 3 if not read_by else 1 if list(read_by) == stems else 2
        grouped.setdefault((rank, read_by if rank == 2 else ()), []).append(name)
    titles = {1: "shared by every stage", 3: "read by no notebook",
              4: "BigQuery backend (backend: bigquery; see params/bigquery.example.yaml). The duckdb backend "
                 "ignores these."}
    return {titles.get(rank) or ", ".join(stem.replace("_", " ") for stem in read_by): grouped[rank, read_by]
            for rank, read_by in sorted(grouped)}


def _comment(p: Param, short: bool = False) -> str:
    """A parameter's comment in default.yaml and a parameters cell: its doc (`short`: its first sentence), after its
    choices when it is one of a few (`fail | quarantine: ...`)."""
    doc = first_sentence(p.doc) if short else p.doc
    return f"{' | '.join(p.choices)}: {doc}" if p.choices and not p.kind.startswith("list[") else doc


def default_yaml(readers: dict[str, list[str]]) -> str:
    """params/default.yaml from SPEC: each key with its default and its doc as comment, in sections by the
    notebooks that read it (`readers`: name -> notebook stems, see c360.run.cli.parameter_readers). The comment
    trails the key (from COMMENT_COLUMN, or just after a longer key), wrapped to LINE_WIDTH on comment lines
    aligned with it; a key too long to leave a comment room for that has its comment as a block before it."""
    def wrap(text: str, width: int) -> list[str]:  # "'' = none" is not broken at its '='
        lines = textwrap.wrap(text.replace(" = ", "\0=\0"), width, break_long_words=False, break_on_hyphens=False)
        return [line.replace("\0", " ") for line in lines]

    lines = [YAML_HEADER]
    for title, names in _sections(readers).items():
        lines.append(f"# --- {title}")
        for name in names:
            entry, doc = f"{name}: {_yaml_value(SPEC[name].default)}", _comment(SPEC[name])
            column = max(COMMENT_COLUMN, len(entry) + 2)
            if LINE_WIDTH - column - 2 >= 60 or len(entry) + 4 + len(doc) <= LINE_WIDTH:
                first, *rest = wrap(doc, LINE_WIDTH - column - 2)
                lines.append(f"{entry:<{column - 2}}  # {first}")
                lines += [f"{'':<{column}}# {text}" for text in rest]
            else:
                lines += [f"# {text}" for text in wrap(doc, LINE_WIDTH - 2)]
                lines.append(entry)
        lines.append("")
    return "\n".join(lines[:-1]) + "\n"


def _python_value(value: Any) -> str:
    """`value` as a parameters cell writes it: "data/fixtures", ["closedwon"], False, 7.0."""
    if isinstance(value, list):
        return "[" + ", ".join(_python_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a Python string literal of the same value
    return repr(value)


def first_sentence(doc: str) -> str:
    """The doc up to its first '. ' (an 'e.g. ' or 'i.e. ' does not end it)."""
    return re.split(r"(?<!e\.g)(?<!i\.e)\.\s", doc, maxsplit=1)[0]


def parameters_cell(names: list[str]) -> str:
    """The source of a notebook's `parameters` cell declaring `names` (in that order; BIGQUERY_GROUP is the mapping
    of the BigQuery keys): `name: type = default  # doc`, the doc cut to its first sentence when the line would
    be longer than LINE_WIDTH. Papermill reads the type from the annotation (str, int, float, bool, list) and
    skips a line with more than one '=', so a comment may hold none. A parameter with a few choices lists
    them first, as default.yaml does."""
    lines = []
    for name in names:
        if name == BIGQUERY_GROUP:
            lines.append(BIGQUERY_GROUP_LINE)
            continue
        p = SPEC[name]
        code = f"{name}: {p.kind.split('[')[0]} = {_python_value(p.default)}"
        line = f"{code}  # {_comment(p)}"
        if len(line) > LINE_WIDTH:
            line = f"{code}  # {_comment(p, short=True)}"
        if line.count("=") != 1 or "#" in code:
            raise ValueError(f"parameter '{name}': papermill cannot read the line {line!r} (one '=', no '#' before "
                             "the comment): reword the first sentence of its doc")
        lines.append(line)
    return "\n".join(lines)


RUN_ENV = {"run_id": "C360_RUN_ID", "started_at": "C360_RUN_STARTED", "warehouse": "C360_PUBLISHED_WAREHOUSE"}


def run_context(environ: dict[str, str] | None = None) -> dict[str, str]:
    """What the runner tells each notebook's kernel about its run (RUN_ENV): its id, when it started and the
    warehouse it publishes to (a notebook builds in the run's working copy). {} outside a run (golden, lab)."""
    import os

    env = os.environ if environ is None else environ
    return {key: env[name] for key, name in RUN_ENV.items() if env.get(name)}
