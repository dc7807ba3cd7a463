"""Money: the reporting currency, the check that every amount could be put in it, and exact allocation.

Amounts are decimals end to end (NUMERIC / DECIMAL(38, 9)); the SQL models convert deals and ad spend into the
reporting currency (base__crm__deals, base__marketing__ad_spend). `check_currencies` runs after the base layer,
before any identity or attribution work: an amount that could not be converted stops the run, naming it.
`allocate` splits an amount over shares in the currency's minor unit so that the parts add up exactly.
"""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Sequence


class CurrencyError(ValueError):
    """Deals or ad spend in a currency that cannot be converted into the reporting currency."""


def reporting_currency(engine) -> tuple[str | None, int]:
    """The reporting currency's code (None: no currency anywhere in the inputs) and its minor unit."""
    row = engine.query("SELECT reporting_currency, minor_unit FROM base__reporting_currency").iloc[0]
    code = row["reporting_currency"]
    return (None if code is None or code != code else str(code)), int(row["minor_unit"])


def label(engine) -> str:
    """The currency as a report labels money: `USD`, or `(no currency)` when the inputs name none."""
    code, _ = reporting_currency(engine)
    return code or "(no currency)"


def check_currencies(engine) -> str:
    """Stop the run when a deal or an ad spend row could not be converted into the reporting currency.

    Returns:
        A one-line summary for the report (the reporting currency, how it was chosen, how much was converted).
    Raises:
        CurrencyError: several currencies and no `reporting_currency` (each currency with its deal count), or
            a currency with no rate on or before a deal's close (the first deal ids, with currency and date).
    """
    chosen = engine.query("SELECT reporting_currency, chosen_by FROM base__reporting_currency").iloc[0]
    deals = engine.query("""
        SELECT COALESCE(original_currency, '(blank)') AS currency, fx_status, COUNT(*) AS deals
        FROM base__crm__deals GROUP BY 1, 2 ORDER BY 1, 2""")
    if chosen["chosen_by"].startswith("several"):
        per = deals[deals["currency"] != "(blank)"].groupby("currency")["deals"].sum()
        spend = engine.query("SELECT DISTINCT original_currency AS currency FROM base__marketing__ad_spend "
                             "WHERE original_currency IS NOT NULL ORDER BY 1")["currency"].tolist()
        listed = ", ".join(f"{c} ({n} deal{'s' if n != 1 else ''})" for c, n in per.items())
        what = "deals" if len(per) else "ad spend (and no deal names a currency)"
        listed = listed if len(per) else ", ".join(spend)
        example = per.idxmax() if len(per) else spend[0]
        raise CurrencyError(
            f"{what} in several currencies: {listed}. Set parameter reporting_currency (e.g. "
            f"make run REPORTING_CURRENCY={example}) and give marketing/fx_rates.csv (date, currency, rate: "
            "one unit of currency is rate units of the reporting currency) for the others")
    # ad spend outside the analysis period (the GA4 dates) is never used: it needs no rate
    for table, key, when, used in (
            ("base__crm__deals", "deal_id", "closed_date", "TRUE"),
            ("base__marketing__ad_spend", "spend_date", "spend_date",
             "spend_date BETWEEN (SELECT MIN(event_date) FROM base__ga4__events) "
             "AND (SELECT MAX(event_date) FROM base__ga4__events)")):
        missing = engine.query(f"""
            SELECT CAST({key} AS STRING) AS key, original_currency, CAST({when} AS STRING) AS on_date
            FROM {table} WHERE fx_status = 'no rate' AND {used} ORDER BY 3, 1""")
        if len(missing):
            first = missing.iloc[:5]
            shown = "; ".join(f"{key} {r.key} ({r.original_currency}, {r.on_date or 'open: latest rate'})"
                              for r in first.itertuples())
            raise CurrencyError(
                f"{table}: {len(missing)} row(s) in a currency with no rate in marketing/fx_rates.csv on or before "
                f"their date into {chosen['reporting_currency']}: {shown}"
                + (" ..." if len(missing) > len(first) else ""))
    converted = int(deals.loc[deals["fx_status"] == "converted", "deals"].sum())
    code = chosen["reporting_currency"]
    return (f"Reporting currency: {code if code == code and code is not None else '(none named in the inputs)'}"
            f" ({chosen['chosen_by']}); deals converted from another currency: {converted}.")


def allocate(total: Decimal, shares: Sequence[float | Fraction], minor_unit: int = 2) -> list[Decimal]:
    """Split `total` over `shares` in units of 10^-minor_unit (9 when `total` is not a whole number of them), by
    largest remainder: each part is its share rounded down, and the units left over go one each to the largest
    remainders, ties to the earlier share. The parts add up to `total` exactly; zero shares get zero.

    Example:
        >>> allocate(Decimal("100.00"), [1, 1, 1])
        [Decimal('33.34'), Decimal('33.33'), Decimal('33.33')]
    """
    if not shares:
        return []
    digits = minor_unit if total == total.quantize(Decimal(1).scaleb(-minor_unit)) else 9
    units = int(total.scaleb(digits))
    weights = [Fraction(s) for s in shares]
    weight_sum = sum(weights)
    if weight_sum <= 0:
        raise ValueError("allocate: the shares add up to zero")
    exact = [Fraction(units) * w / weight_sum for w in weights]
    floors = [e.numerator // e.denominator for e in exact]
    left = units - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [Decimal(n).scaleb(-digits) for n in floors]
