"""How a report writes a number: percentages as 28.4%, money as `USD 12,000.00` (from the Decimal, never through a
float), counts as integers, and tables as escaped HTML without the pandas index. Pure functions, text out."""
from __future__ import annotations

import html
import math
import numbers
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

import pandas as pd

EMPTY = "—"  # a cell with no value (no spend, nothing to divide by)
_CENT = Decimal("0.01")


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, Decimal) and value.is_nan()


def _decimal(value: Any) -> Decimal:
    """An exact Decimal: a Decimal or an int as it is, a Fraction or a float through its shortest repr."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, numbers.Integral):
        return Decimal(int(value))
    if isinstance(value, Fraction):
        return Decimal(value.numerator) / Decimal(value.denominator)
    try:
        return Decimal(repr(float(value)) if isinstance(value, numbers.Real) else str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def decimal_text(value: Any) -> Any:
    """A decimal as a report prints it: to the cent when that is exact (12000.00), else every digit it has
    (0.125); anything else unchanged.

    Example:
        >>> decimal_text(Decimal("12000.000000000")), decimal_text(Decimal("0.125000000"))
        ('12000.00', '0.125')
    """
    if not isinstance(value, Decimal) or not value.is_finite():
        return value
    if value == value.quantize(_CENT):
        return f"{value.quantize(_CENT):f}"
    return f"{value.normalize():f}"


def money_text(value: Any, currency: str, places: int = 2) -> str:
    """Money with its currency code and thousands separators, to `places` decimals (half up on the Decimal).

    Example:
        >>> money_text(Decimal("1234567.5"), "USD"), money_text(Decimal("-80"), "EUR")
        ('USD 1,234,567.50', 'EUR -80.00')
    """
    if _missing(value):
        return EMPTY
    amount = _decimal(value).quantize(Decimal(1).scaleb(-places), rounding="ROUND_HALF_UP")
    return f"{currency} {amount:,.{places}f}".strip()


def percent_text(share: Any, places: int = 1, signed: bool = False) -> str:
    """A share (0.2836) as a percentage (28.4%); `signed` adds + to a positive change (+12.5%).

    Example:
        >>> percent_text(0.28358), percent_text(Decimal("-0.5"), signed=True), percent_text(0.125, signed=True)
        ('28.4%', '-50.0%', '+12.5%')
    """
    if _missing(share):
        return EMPTY
    value = (_decimal(share) * 100).quantize(Decimal(1).scaleb(-places), rounding="ROUND_HALF_UP")
    if value == 0:
        value = abs(value)  # never -0.0%
    return f"{value:+,.{places}f}%" if signed else f"{value:,.{places}f}%"


def count_text(value: Any) -> str:
    """A count as an integer with thousands separators (12.0 -> 12, 12000 -> 12,000); a fraction keeps two
    decimals (1.03), as attributed conversions can be fractional.

    Example:
        >>> count_text(12.0), count_text(12000), count_text(1.0333)
        ('12', '12,000', '1.03')
    """
    if _missing(value):
        return EMPTY
    number = _decimal(value)
    if abs(number - number.to_integral_value()) < Decimal("1e-6"):  # a float sum of credits: 6.9999999999 is 7
        return f"{int(number.to_integral_value()):,}"
    return number_text(number)


def number_text(value: Any, places: int = 2) -> str:
    """A plain number (a ratio such as ROAS) to `places` decimals with thousands separators: 2.142857 -> 2.14."""
    if _missing(value):
        return EMPTY
    return f"{_decimal(value).quantize(Decimal(1).scaleb(-places), rounding='ROUND_HALF_UP'):,.{places}f}"


def _is_count(column: pd.Series) -> bool:
    """A float column holding whole numbers only (a count that became float through a NULL or a SUM)."""
    if column.dtype.kind != "f":
        return False
    values = column.dropna()
    return len(values) > 0 and bool((values == values.round()).all())


def _is_key(name: Any) -> bool:
    """An identifier (contact_id 1001): written as it is, never grouped (1,001)."""
    return isinstance(name, str) and (name.lower().endswith("id") or name.lower().endswith("_ids"))


def _is_share(name: Any) -> bool:
    return isinstance(name, str) and (name == "share" or name.endswith("_share") or name.startswith("share "))


def format_frame(df: pd.DataFrame, money: dict[str, str] | None = None, percent: tuple = (),
                 counts: tuple = (), ratios: tuple = ()) -> pd.DataFrame:
    """The table's cells as text, the way a report writes them.

    Args:
        money: column -> currency code: `USD 12,000.00`.
        percent: columns of shares: `28.4%` (also every column named `share`, `..._share` or `share ...`).
        counts: columns of counts: integers, fractions to two decimals (also every float column of whole numbers).
        ratios: columns of plain ratios: two decimals.
    Other Decimal columns keep every digit they have (c360.report.tables.decimal_text), with thousands separators.
    """
    money = money or {}
    out = []
    for column in df.columns:
        values = df[column]
        if column in money:
            out.append(values.map(lambda v, c=money[column]: money_text(v, c)))
        elif column in percent or _is_share(column):
            out.append(values.map(percent_text))
        elif column in counts or (_is_count(values) and not _is_key(column)):
            out.append(values.map(count_text))
        elif column in ratios:
            out.append(values.map(number_text))
        elif values.map(lambda v: isinstance(v, Decimal)).any():
            out.append(values.map(lambda v: _separated(decimal_text(v)) if isinstance(v, Decimal) else v))
        elif values.dtype.kind in "iu" and not _is_key(column):
            out.append(values.map(lambda v: f"{v:,}"))
        else:
            out.append(values)
    text = pd.concat(out, axis=1) if out else df.copy()
    text.columns = df.columns
    return text


def _separated(text: str) -> str:
    """'12000.00' -> '12,000.00' (the digits as they are, only grouped)."""
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, fraction = digits.partition(".")
    return f"{sign}{int(whole):,}{dot}{fraction}" if whole.isdigit() else text


def _cell(value: Any) -> str:
    return EMPTY if _missing(value) else html.escape(str(value), quote=True)


def _label(column: Any) -> str:
    return " ".join(map(str, column)) if isinstance(column, tuple) else str(column)


def _header(column: Any) -> str:
    return html.escape(_label(column), quote=True)


def table_html(df: pd.DataFrame, numeric: tuple = (), caption: str = "") -> str:
    """The table as escaped HTML without an index: an optional caption, a header row (two rows when the columns
    are pairs, the first spanning its group), one row per record, cells kept on one line; `numeric` columns
    right-aligned, the others left-aligned. A row whose first cell is `Total` is bold; a table without rows says so."""
    columns = list(df.columns)
    align = [' style="text-align:right;white-space:nowrap"' if c in numeric else
             ' style="text-align:left;white-space:nowrap"' for c in columns]
    th = [a.replace(";white-space:nowrap", "") for a in align]  # a long header wraps; cells stay on one line
    head = []
    if columns and all(isinstance(c, tuple) and len(c) == 2 for c in columns):
        groups: list[list] = []
        for top, _ in columns:
            if groups and groups[-1][0] == top:
                groups[-1][1] += 1
            else:
                groups.append([top, 1])
        head.append("<tr>" + "".join(f'<th colspan="{n}" style="text-align:center">{html.escape(str(top))}</th>'
                                     for top, n in groups) + "</tr>")
        head.append("<tr>" + "".join(f"<th{a}>{html.escape(str(sub))}</th>" for a, (_, sub) in zip(th, columns))
                    + "</tr>")
    else:
        head.append("<tr>" + "".join(f"<th{a}>{_header(c)}</th>" for a, c in zip(th, columns)) + "</tr>")
    body = []
    for row in df.itertuples(index=False):
        bold = len(row) > 0 and str(row[0]) == "Total"
        cells = "".join(f"<td{a}>{'<b>' if bold else ''}{_cell(v)}{'</b>' if bold else ''}</td>"
                        for a, v in zip(align, row))
        body.append(f"<tr>{cells}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{max(len(columns), 1)}" style="text-align:left"><i>no rows</i></td></tr>')
    title = (f'<caption style="caption-side:top;text-align:left;font-weight:bold">{html.escape(caption)}</caption>\n'
             if caption else "")
    size = ' style="font-size:12px"' if len(columns) > 7 else ""  # a wide table: smaller, and it scrolls
    return ('<div style="overflow-x:auto">\n<table class="c360"' + size + '>\n' + title + "<thead>\n"
            + "\n".join(head) + "\n</thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>\n</div>\n")


def table_text(df: pd.DataFrame, caption: str = "") -> str:
    """The table as plain text without an index (what a terminal and the notebook tests compare)."""
    title = f"{caption}\n" if caption else ""
    if df.empty:
        return title + "(no rows) columns: " + ", ".join(_label(c) for c in df.columns)
    flat = df.copy()
    flat.columns = [_label(c) for c in df.columns]
    return title + flat.to_string(index=False)
