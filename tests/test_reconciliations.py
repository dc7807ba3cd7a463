"""The reconciliations are named data tests (c360/sql/<layer>/_tests.yml and datatests.run's rows_balance): they
pass on the fixtures, and each fails, naming what does not add up, once the tables it compares disagree."""
from __future__ import annotations

import pytest

from c360 import models, params as P, sources
from c360.dag import datatests
from c360.warehouse import connect


def _reconciliations(result):
    return result[result["test"].str.startswith("reconciliation(")].set_index("test")


@pytest.fixture
def built(tmp_path):
    params = P.load(overrides=[f"warehouse={tmp_path / 'w.duckdb'}"])
    eng = connect(params)
    loaded = sources.prepare(eng, params)
    for layer in models.LAYERS:
        models.build(eng, layer, params)
    yield eng, loaded
    eng.close()


def test_every_reconciliation_passes_on_the_fixtures(built):
    eng, loaded = built
    found = {}
    for layer in models.LAYERS:
        result = datatests.run(eng, layer, rows_read=loaded.rows_read() if layer == "base" else None)
        found.update(_reconciliations(result)["status"].to_dict())
    assert found == {"reconciliation(rows_balance)": "pass", "reconciliation(won_value_matches_the_deals)": "pass",
                     "reconciliation(credits_sum_to_one)": "pass",
                     "reconciliation(revenue_matches_the_won_deals)": "pass"}


def test_a_cent_more_on_a_won_deal_fails_the_customer_and_attribution_reconciliations(built):
    eng, _ = built
    eng.execute("UPDATE base__crm__deals SET amount = amount + 0.01 WHERE deal_id = "
                "(SELECT MIN(deal_id) FROM base__crm__deals WHERE deal_status = 'won')")
    with pytest.raises(datatests.DataTestError, match="won_value_matches_the_deals"):
        datatests.run(eng, "customer")
    customer = _reconciliations(datatests.run(eng, "customer", raise_on_error=False))
    assert customer.loc["reconciliation(won_value_matches_the_deals)", "failures"] == 1
    assert customer.loc["reconciliation(won_value_matches_the_deals)", "examples"].endswith(".010000000")
    attribution = _reconciliations(datatests.run(eng, "attribution", raise_on_error=False))
    windows = len(P.load()["attribution_models"]) * len(set(P.load()["sensitivity_windows_days"])
                                                          | {P.load()["conversion_window_days"]})
    assert attribution.loc["reconciliation(revenue_matches_the_won_deals)", "failures"] == windows
    assert attribution.loc["reconciliation(credits_sum_to_one)", "status"] == "pass"


def test_a_halved_credit_fails_credits_sum_to_one(built):
    eng, _ = built
    eng.execute("UPDATE mrt__marketing__attributed_touchpoints SET credit = credit / 2 WHERE deal_id = "
                "(SELECT MIN(deal_id) FROM mrt__marketing__attributed_touchpoints) AND model = 'linear'")
    result = _reconciliations(datatests.run(eng, "attribution", raise_on_error=False))
    row = result.loc["reconciliation(credits_sum_to_one)"]
    assert row["status"] == "fail" and "linear" in row["examples"]


def test_rows_read_that_the_models_did_not_account_for_fail_rows_balance(built):
    eng, loaded = built
    read = {**loaded.rows_read(), "src__crm__deals": loaded.rows_read()["src__crm__deals"] + 1}
    row = _reconciliations(datatests.run(eng, "base", raise_on_error=False, rows_read=read)).loc[
        "reconciliation(rows_balance)"]
    assert (row["status"], row["failures"], row["examples"]) == ("fail", 1, "base__crm__deals")
