"""base__ga4__events is a view on DuckDB (materialized='view'): the rows the table it replaces held, counted
the same way, built atomically, and replacing that table in a warehouse written before."""
from __future__ import annotations

import pandas as pd
import pytest

from c360 import models, params as P
from c360.paths import PROJ_ROOT
from conftest import event, write_tree

FIXTURES = PROJ_ROOT / "data" / "fixtures"
BASE = "base__ga4__events"
HELPERS = ("base__ga4__events__copies", "base__ga4__events__daily_shards")

# the drop-reason rules over the loaded events, written independently of the model: one window over every
# event (as on BigQuery), no stored copies; the old table held the rows whose reason is NULL
REASONS = """
    SELECT * EXCLUDE (copy_number),
        CASE
            WHEN is_intraday AND shard_date IN (SELECT shard_date FROM src__ga4__events WHERE NOT is_intraday)
                THEN 'superseded_intraday'
            WHEN copy_number > 1 THEN 'duplicate'
            WHEN ga_session_id IS NULL THEN 'missing_session_id'
        END AS reason
    FROM (SELECT *, ROW_NUMBER() OVER (
              PARTITION BY event_fingerprint, event_timestamp, event_name, user_pseudo_id, user_id, stream_id
              ORDER BY is_intraday, shard) AS copy_number
          FROM src__ga4__events)
"""
EXPECTED = (f"SELECT * EXCLUDE (is_intraday, shard_date, event_fingerprint, reason) FROM ({REASONS}) "
            "WHERE reason IS NULL")


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(list(df.columns), ignore_index=True, na_position="first")


def assert_view_holds_the_kept_rows(eng) -> None:
    assert eng.is_view(BASE)
    got, want = eng.native(f"SELECT * FROM {BASE}").df(), eng.native(EXPECTED).df()
    pd.testing.assert_frame_equal(_sorted(got), _sorted(want))
    described = [tuple(r[:2]) for r in eng.native(f"DESCRIBE SELECT * FROM {BASE}").fetchall()]
    assert described == [tuple(r[:2]) for r in eng.native(f"DESCRIBE {EXPECTED}").fetchall()]
    # the audit counts each drop reason as the rules do, per event_date
    audit = eng.native(f"SELECT outcome, partition_key, row_count FROM c360__row_audit WHERE model = '{BASE}'").df()
    rules = eng.native(f"SELECT COALESCE(reason, 'kept') AS outcome, CAST(event_date AS VARCHAR) AS partition_key, "
                       f"COUNT(*) AS row_count FROM ({REASONS}) GROUP BY 1, 2").df()
    pd.testing.assert_frame_equal(_sorted(audit), _sorted(rules), check_dtype=False)
    assert not [t for t in eng.tables() if t.startswith("_stage__")]


def _edge_cases(root):
    a, c = event("20240301", 1709287200), event("20240301", 1709287400, name="scroll")
    f = event("20240301", 1709287500, name="click")  # only in two intraday shards, the first superseded
    return write_tree(root, {
        "events_20240301.jsonl": [a, a, event("20240301", 1709287300, name="first_visit", session=None), c],
        "events_intraday_20240301.jsonl": [a, event("20240301", 1709287600, name="form_start"), f],
        "events_intraday_20240302.jsonl": [f, event("20240302", 1709373600), event("20240302", 1709373600)],
        "events_20240303.jsonl": [c, event("20240303", 1709460000)],
    })


def test_the_view_holds_what_the_table_held_on_the_fixtures(build_base):
    eng, loaded = build_base(FIXTURES)
    assert_view_holds_the_kept_rows(eng)
    acc = models.row_accounting(eng, loaded.rows_read(), layer="base").set_index("model").loc[BASE]
    assert (acc["input"], acc["kept"], acc["duplicate"], acc["missing_session_id"], acc["superseded_intraday"],
            bool(acc["balanced"])) == (264, 242, 3, 6, 13, True)  # data/fixtures/README.md, 01 base
    assert eng.row_count(BASE) == 242 and eng.columns(BASE)[:3] == ["event_date", "event_timestamp", "event_name"]
    assert eng.checksum(BASE).startswith("242:")


def test_the_view_holds_what_the_table_held_on_every_drop_reason(tmp_path, build_base):
    eng, _ = build_base(_edge_cases(tmp_path / "src"))
    assert_view_holds_the_kept_rows(eng)
    counts = models.row_accounting(eng).set_index("model").loc[BASE]
    assert (counts["kept"], counts["duplicate"], counts["missing_session_id"], counts["superseded_intraday"]) \
        == (4, 4, 1, 3)
    # the copy in intraday_20240302 of an event whose first copy is in the superseded intraday_20240301 is a
    # duplicate, as the table had it
    assert eng.query(f"SELECT COUNT(*) AS n FROM {BASE} WHERE event_name = 'click'")["n"].iloc[0] == 0


def test_config_resolves_per_engine():
    base = models.discover()[BASE]
    assert models.config_of(base, "duckdb")["materialized"] == "view"
    assert models.config_of(base, "bigquery")["materialized"] == "incremental"


def _params(root, eng, *extra):
    return P.load(overrides=[f"source_root={root}", f"warehouse={eng.path}", *extra])


def test_a_table_of_that_name_from_an_earlier_c360_is_replaced_by_the_view(tmp_path, build_base):
    root = _edge_cases(tmp_path / "src")
    eng, _ = build_base(root)
    eng.native(f"DROP VIEW {BASE}")  # what c360 wrote before: a table, and no helper tables
    eng.native(f"CREATE TABLE {BASE} AS SELECT * FROM ({EXPECTED}) LIMIT 2")
    for helper in HELPERS:
        eng.native(f"DROP TABLE {helper}")
    assert not eng.is_view(BASE) and eng.has_table(BASE)
    built = models.build(eng, "base", _params(root, eng)).set_index("model")
    assert built.loc[BASE, "rows"] == 4 and not built.loc[BASE, "incremental"]
    assert_view_holds_the_kept_rows(eng)
    assert all(eng.has_table(h) for h in HELPERS)


@pytest.mark.parametrize("previous", ["view", "table"])
def test_a_failed_build_leaves_the_previous_relation(tmp_path, build_base, monkeypatch, previous):
    root = _edge_cases(tmp_path / "src")
    eng, _ = build_base(root)
    if previous == "table":
        eng.native(f"DROP VIEW {BASE}")
        eng.native(f"CREATE TABLE {BASE} AS SELECT * FROM ({EXPECTED})")
        eng.native(f"DROP TABLE {HELPERS[0]}")
    eng.native(f"CREATE TABLE {HELPERS[1]}_before AS SELECT * FROM {HELPERS[1]}")
    eng.native(f"UPDATE {HELPERS[1]} SET shard_date = 'stale'")  # what a finished build would rewrite

    def state():
        def rows(sql, *args):
            return eng.native(sql, list(args)).fetchall()
        return {"relations": rows("SELECT table_name, table_type FROM information_schema.tables ORDER BY 1"),
                "view": rows("SELECT sql FROM duckdb_views() WHERE view_name = ?", BASE),
                "content": eng.checksum(BASE), "helper": eng.checksum(HELPERS[1]),
                "audit": rows("SELECT * FROM c360__row_audit ORDER BY ALL")}

    before = state()
    monkeypatch.setenv("C360_FAULT", f"fail:{BASE}")
    with pytest.raises(RuntimeError, match="C360_FAULT"):  # a full refresh: inputs unchanged would keep the view
        models.build(eng, "base", _params(root, eng, "full_refresh=true"))
    assert state() == before
    assert eng.is_view(BASE) == (previous == "view")
    assert not [t for t in eng.tables() if t.startswith("_stage__")]
    monkeypatch.delenv("C360_FAULT")
    models.build(eng, "base", _params(root, eng))
    assert_view_holds_the_kept_rows(eng)
    assert eng.checksum(HELPERS[1]) == eng.checksum(f"{HELPERS[1]}_before")
