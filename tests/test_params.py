"""Parameters: one typed spec, validated before any kernel starts, overridable from make."""
from __future__ import annotations

import pytest

from c360 import params as P
from c360.run.notebooks import declared_parameters, notebooks


def test_defaults_validate():
    assert P.load()["won_stages"] == ["closedwon"]


def test_unknown_key_is_an_error_with_a_suggestion():
    with pytest.raises(P.ParamError, match=r"unknown parameter 'on_bad_row' \(did you mean 'on_bad_rows'\?\)"):
        P.load(overrides=["ON_BAD_ROW=fail"])


@pytest.mark.parametrize("override, message", [
    ("on_bad_rows=skip", r"'on_bad_rows' must be one of \['fail', 'quarantine'\]"),
    ("won_stages=closedwon", r"'won_stages' must be list\[str\]"),
    ("won_stages=[]", r"'won_stages' must not be empty"),
    ("source_root=", r"'source_root' must not be empty"),
    ("conversion_window_days=-1", r"'conversion_window_days' must be >= 0"),
    ("attribution_models=[markov, last_click]", r"'attribution_models' must be one of"),
    ("half_life_days=0", r"'half_life_days' must be >= 0.01"),
    ("attribution_channel=source; DROP TABLE x", r"'attribution_channel' must be one of"),
    ("conversion_windows=30", r"unknown parameter 'conversion_windows' \(did you mean 'conversion_window_days'\?\)"),
    *[(f"duckdb_memory_limit={limit}", "duckdb_memory_limit") for limit in ("lots", "1500", "-1GB", "1.5.GB")],
    # identity_blocklist_patterns are RE2 in SQL: an invalid one, or a construct RE2 lacks, stops the run here
    ("identity_blocklist_patterns=['^test@', '(unclosed']",
     r"parameter 'identity_blocklist_patterns': '\(unclosed' is not a valid regular expression \(RE2\): "
     "missing \\)"),
    ("identity_blocklist_patterns=['^(?!alice)']", r"'identity_blocklist_patterns': '\^\(\?!alice\)' .*lookahead"),
    ("identity_blocklist_patterns=['(?<=x)@']", r"'identity_blocklist_patterns': .*lookbehind"),
    ("identity_blocklist_patterns=['^(.)\\1@']", r"'identity_blocklist_patterns': .*backreference"),
])
def test_bad_values_name_the_key(override, message):
    with pytest.raises(P.ParamError, match=message):
        P.load(overrides=[override])


@pytest.mark.parametrize("pattern", [r"^(noreply|no-reply)@", r"@example\.(com|org)$", r"[(?=]", r"\(?=x",
                                     r"^\d{3,}$", r"[]\\1]"])
def test_re2_patterns_that_only_look_like_lookarounds_are_accepted(pattern):
    assert P.re2_problem(pattern) is None


def test_a_bad_pattern_in_a_params_file_fails_before_any_kernel(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("identity_blocklist_patterns: ['[a-']\n", encoding="utf-8")
    with pytest.raises(P.ParamError, match=r"'identity_blocklist_patterns': '\[a-' is not a valid regular"):
        P.load(path)


def test_overrides_are_case_insensitive_and_typed():
    assert P.parse_override("WON_STAGES=[a, b]") == ("won_stages", ["a", "b"])
    assert P.parse_override("source_root=2024-01-01") == ("source_root", "2024-01-01")  # str stays str


def test_make_vars_are_split_on_unescaped_spaces_and_params_file_is_not_a_parameter():
    assert P.split_make_vars(r"WON_STAGES=[a,\ b] PARAMS=x.yaml SOURCE_ROOT=/d") == ["WON_STAGES=[a, b]", "SOURCE_ROOT=/d"]


def test_a_params_file_overrides_defaults_and_unknown_keys_fail(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("on_bad_rows: quarantine\n")
    assert P.load(f)["on_bad_rows"] == "quarantine"
    f.write_text("conversion_windw: 3\n")
    with pytest.raises(P.ParamError, match="mine.yaml: unknown parameter 'conversion_windw'"):
        P.load(f)


def test_every_notebook_parameter_is_specified_with_the_default_of_default_yaml():
    import papermill as pm

    defaults = P.read_file(P.DEFAULT_PARAMS)
    used = set()
    for nb in notebooks():
        for name, info in pm.inspect_notebook(str(nb)).items():
            if name == P.BIGQUERY_GROUP:  # the BigQuery keys as one mapping, filled by the runner (backend bigquery)
                assert eval(info["default"]) == {}, f"{nb.name}: '{name}' must default to an empty mapping"
                continue
            assert name in P.SPEC, f"{nb.name} declares '{name}', which params.SPEC does not know"
            assert eval(info["default"]) == defaults[name], f"{nb.name}: default of '{name}' differs from default.yaml"
            assert info["inferred_type_name"] == P.SPEC[name].kind.split("[")[0], \
                f"{nb.name}: '{name}' is annotated {info['inferred_type_name']}, params.SPEC says {P.SPEC[name].kind}"
            used.add(name)
    # the BigQuery keys reach the notebooks inside their `bigquery` mapping (backend: bigquery), not one by one
    unused = set(P.SPEC) - used - set(P.BIGQUERY_KEYS)
    assert not unused, f"parameters no notebook uses: {unused}"
    assert declared_parameters(notebooks()[0])[:2] == ["source_root", "warehouse"]


def test_full_refresh_accepts_make_style_one_and_zero():
    assert P.parse_override("FULL_REFRESH=1") == ("full_refresh", True)
    assert P.parse_override("full_refresh=0") == ("full_refresh", False)
    with pytest.raises(P.ParamError, match="'full_refresh' must be bool"):
        P.load(overrides=["FULL_REFRESH=2"])


def test_notebooks_get_the_bigquery_keys_as_one_mapping_and_give_them_back_flat():
    params = P.load(P.PARAMS_DIR / "bigquery.example.yaml")
    values = P.notebook_values(params)
    assert set(values[P.BIGQUERY_GROUP]) == set(P.BIGQUERY_KEYS) and not set(P.BIGQUERY_KEYS) & set(values)
    assert P.from_notebook(values) == params
    assert P.BIGQUERY_GROUP not in P.notebook_values(P.load())  # duckdb: the notebooks' default, {}
    with pytest.raises(P.ParamError, match=r"'bigquery' holds 'bigquery_projekt'.*did you mean 'bigquery_project'"):
        P.from_notebook({"backend": "bigquery", "bigquery": {"bigquery_projekt": "p"}})


@pytest.mark.parametrize("limit, setting", [("1500MB", "1.3 GiB"), ("2GiB", "2.0 GiB"), ("", None)])
def test_the_duckdb_memory_limit_reaches_the_warehouse(tmp_path, limit, setting):
    import duckdb

    from c360 import warehouse as engines

    params = P.load(overrides=[f"warehouse={tmp_path / 'w.duckdb'}", f"duckdb_memory_limit={limit}"])
    eng = engines.connect(params)
    try:
        got = eng.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        default = duckdb.connect().execute("SELECT current_setting('memory_limit')").fetchone()[0]
        assert got == (setting or default)
    finally:
        eng.close()


def test_docs_parameters_md_is_the_generated_reference():
    # docs/parameters.md is written by `python -m c360 params --markdown`; a parameter added to the spec, a changed
    # default or a notebook that starts reading a parameter must show there (regenerate it with that command)
    from c360.run.cli import parameter_readers
    from c360.paths import PROJ_ROOT

    generated = P.markdown(parameter_readers())
    assert (PROJ_ROOT / "docs" / "parameters.md").read_text(encoding="utf-8") == generated
    assert generated.count("\n| `") == len(P.SPEC)
    readers = parameter_readers()
    assert readers["conversion_window_days"] == ["04_attribution"]
    assert readers["unwanted_referrals"] == ["03_customer_360"]


def test_params_default_yaml_is_generated_from_the_spec():
    # params/default.yaml is written by `python -m c360 params --yaml`: a default or a meaning changes in
    # c360/params.py's SPEC, then the file is regenerated with that command
    from c360.paths import PROJ_ROOT
    from c360.run.cli import parameter_readers

    generated = P.default_yaml(parameter_readers())
    assert P.DEFAULT_PARAMS.read_text(encoding="utf-8") == generated
    assert P.read_file(P.DEFAULT_PARAMS) == P.defaults() and list(P.validate(P.defaults())) == list(P.SPEC)
    assert P.load(PROJ_ROOT / "params" / "bigquery.example.yaml")["bigquery_location"]  # keys it leaves out: defaults
    for name in P.SPEC:  # each key once, with its comment
        assert generated.count(f"\n{name}: ") == 1, name
    assert generated.index("# --- shared by every stage") < generated.index("# --- 01 base extraction") \
        < generated.index("\nlookback_days: ") < generated.index("# --- BigQuery backend") \
        < generated.index("\nbigquery_project: ")


def test_notebook_parameters_cells_are_rendered_from_the_spec():
    # each notebook's parameters cell is `name: type = default  # doc` from SPEC, for the names it declares (in its
    # order); after a change to SPEC, `python -m c360 params --write` rewrites them (and default.yaml, parameters.md)
    import json

    for nb in notebooks():
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        [cell] = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert "".join(cell["source"]) == P.parameters_cell(declared_parameters(nb)), \
            f"{nb.name}: its parameters cell differs from what c360/params.py's SPEC renders"


def test_a_parameters_cell_line_papermill_could_not_read_is_refused(monkeypatch):
    import dataclasses

    doc = "'' = none, which papermill would not read"
    monkeypatch.setitem(P.SPEC, "ga4_dataset", dataclasses.replace(P.SPEC["ga4_dataset"], doc=doc))
    with pytest.raises(ValueError, match="parameter 'ga4_dataset': papermill cannot read the line"):
        P.parameters_cell(["ga4_dataset"])
    assert P.first_sentence("a, e.g. b. More") == "a, e.g. b"


def test_notebooks_pass_their_parameters_without_listing_them_again():
    # each notebook stages the parameters its parameters cell declares: report.stage_params(globals()), no list
    # that could drift from the cell
    import json

    for nb in notebooks():
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        assert code.count("report.stage_params(globals())") == 1, nb.name
        assert "stage_params(" not in code.replace("report.stage_params(globals())", ""), nb.name


def test_stage_params_takes_the_parameters_of_a_namespace_and_checks_them():
    from c360 import report

    namespace = {"conversion_window_days": 30, "warehouse": "w.duckdb", "engine": object(), "P": P,
                 "bigquery": {}, "_": 1}
    assert report.stage_params(namespace) == {"conversion_window_days": 30, "warehouse": "w.duckdb"}
    with pytest.raises(P.ParamError, match="conversion_window_days"):
        report.stage_params({**namespace, "conversion_window_days": -1})
