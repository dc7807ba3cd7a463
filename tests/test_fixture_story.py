"""The fixture story (data/fixtures/README.md) holds: numbers derived there by hand, asserted here."""
from __future__ import annotations

import pytest

from c360 import models
from c360.paths import PROJ_ROOT

FIXTURES = PROJ_ROOT / "data" / "fixtures"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from c360 import engine as engines, params as P, sources

    params = P.load(overrides=[f"warehouse={tmp_path_factory.mktemp('w') / 'w.duckdb'}"])
    eng = engines.connect(params)
    loaded = sources.load_sources(eng, FIXTURES, params["on_bad_rows"])
    models.build(eng, "base", params)
    yield eng, loaded
    eng.con.close()


def test_base_row_accounting_matches_the_story(base):
    eng, loaded = base
    acc = models.row_accounting(eng, loaded.rows_read()).set_index("model")
    ga4 = acc.loc["base__ga4__events"]
    assert (ga4["rows_read"], ga4["input"], ga4["kept"]) == (260, 260, 238)
    assert (ga4["duplicate"], ga4["superseded_intraday"], ga4["missing_session_id"], ga4["deleted"]) == (3, 13, 6, 0)
    for model, rows_in, kept, deleted in [("base__crm__contacts", 16, 15, 1), ("base__crm__deals", 12, 11, 1),
                                          ("base__form_submissions", 15, 15, 0), ("base__product__users", 5, 5, 0)]:
        row = acc.loc[model]
        assert (row["input"], row["kept"], row["deleted"], row["duplicate"]) == (rows_in, kept, deleted, 0), model
    assert acc["balanced"].all()


def test_kept_events_form_the_story_sessions_and_devices(base):
    eng, _ = base
    got = eng.query("""
        SELECT COUNT(DISTINCT CONCAT(user_pseudo_id, ':', CAST(ga_session_id AS STRING))) AS sessions,
               COUNT(DISTINCT user_pseudo_id) AS devices, COUNT(DISTINCT ga_session_id) AS session_ids,
               COUNTIF(user_pseudo_id IS NULL) AS no_device,
               COUNTIF(event_date = DATE '2024-03-27') AS on_27, COUNTIF(event_date = DATE '2024-03-28') AS on_28,
               COUNTIF(event_date = DATE '2024-03-27' AND shard = '20240327') AS on_27_daily
        FROM base__ga4__events""").iloc[0].tolist()
    assert got == [47, 23, 46, 0, 14, 10, 14]


def test_late_events_land_on_their_own_date(base):
    eng, _ = base
    late = eng.query("""SELECT COUNT(*) AS n FROM base__ga4__events
                        WHERE event_date = DATE '2024-02-26' AND shard = '20240227'""")["n"].iloc[0]
    assert late == 5


def test_deal_outcomes_match_the_story(base):
    eng, _ = base
    status = dict(eng.query("SELECT deal_id, deal_status FROM base__crm__deals").values.tolist())
    assert sorted(k for k, v in status.items() if v == "won") == ["5001", "5003", "5004", "5006", "5007", "5008", "5010"]
    assert [k for k, v in status.items() if v == "lost"] == ["5002"]
    assert "5009" not in status
    won = eng.query("SELECT SUM(amount) AS s FROM base__crm__deals WHERE deal_status = 'won'")["s"].iloc[0]
    assert won == 33500
    frank = eng.query("SELECT CAST(closed_date AS STRING) AS d FROM base__crm__deals WHERE deal_id = '5006'")["d"].iloc[0]
    assert frank == "2024-03-26"
