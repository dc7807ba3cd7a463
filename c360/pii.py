"""Masking of personal data in anything a report, a log or an error shows. Reports go through `mask_frame`,
never around it; free text (data-test examples, kernel logs) goes through `mask_text`.

What is masked, by column name (case-insensitive; a `customer__` style prefix is ignored: the part after the
last `__` counts):

- email columns: a name containing `email`, except descriptions of an email that are not the address itself
  (`EMAIL_COLUMN_EXCEPTIONS`: names ending in `_domain`, `_domains`, `_domain_type`, `_type`, `_kind`,
  `_status`, `_count`, `_canonicalization`, or starting with `is_`, `has_`, `n_`, `num_`). EVERY value of an
  email column is masked, whatever it looks like: each address it holds keeps its first character and domain
  (`j***@münchen.de`), anything else (a hash, a malformed value, `n/a`) keeps its first character (`n***`).
- name columns (`NAME_COLUMNS`: first_name, last_name, ...): the initial only (`J***`).
- pseudonymous identifiers (`PSEUDONYMOUS_COLUMNS`: user_pseudo_id, ga_client_id, client_id, device_id,
  app_instance_id, session_key, and names ending in `_pseudo_id`, `_client_id`, `_device_id`): a short stable
  hash, `pid:` + the first 8 hex digits of the value's SHA-256 (`pseudonym`), the same in every report.
- `<x>value` next to `<x>type` (identifier_value / identifier_type, node_a_value / node_a_type): each value
  masked as its type says (an email, a name, a pseudonymous id), else as text.
- every other text column: any email address in it (Unicode local parts and domains included) and any GA client
  id (`1013000001.1709287200`) masked as above (`mask_text`).

CRM ids (contact_id, source_contact_ids, crm_contact_id), product user ids and company names are not masked.
Lists (DuckDB LIST columns) are masked element by element.
"""
from __future__ import annotations

import hashlib
import re
from typing import Any, Callable

import pandas as pd

# An address: a local part of word characters (any script) and . % + - ! # $ & * / = ? ^ ` { | } ~ (an
# apostrophe too, after its first character: o'neil@..., but 'ann@...' keeps its quote), then @ and a domain of at
# least two labels, any script (IDN) or punycode. Brackets, quotes and spaces around an address stay.
_LOCAL = r"[\w.%+\-!#$&*/=?^`{|}~][\w.%+\-!#$&'*/=?^`{|}~]*"
_DOMAIN = r"(?:[\w](?:[\w\-]*[\w])?\.)+[\w](?:[\w\-]*[\w])?"
EMAIL = re.compile(rf"({_LOCAL})@({_DOMAIN})")
# A GA client id (user_pseudo_id, ga_client_id): a random number, a dot, a Unix time in seconds; with
# `:<ga_session_id>` after it, a session key (hashed whole).
CLIENT_ID_IN_KEY = re.compile(r"(?<![\w.])\d{5,}\.1\d{9}(?::\d+)?(?!\w|\.\d)")

NAME_COLUMNS = {"first_name", "last_name", "full_name", "middle_name", "name", "display_name", "contact_name"}
PSEUDONYMOUS_COLUMNS = {"user_pseudo_id", "ga_client_id", "client_id", "device_id", "app_instance_id",
                        "session_key", "user_pseudo_ids", "ga_client_ids", "device_ids", "session_keys"}
PSEUDONYMOUS_SUFFIXES = ("_pseudo_id", "_client_id", "_device_id", "_pseudo_ids", "_client_ids", "_device_ids")
EMAIL_COLUMN_EXCEPTIONS = (("_domain", "_domains", "_domain_type", "_type", "_kind", "_status", "_count",
                            "_canonicalization"), ("is_", "has_", "n_", "num_"))
# identifier types (identifier_type, node_a_type, ...) whose values are pseudonymous ids
PSEUDONYMOUS_TYPES = PSEUDONYMOUS_COLUMNS


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value)) if not isinstance(value, (str, bytes)) else False
    except (TypeError, ValueError):  # an array: not a scalar missing value
        return False


def _each(value: Any, fn: Callable[[Any], Any]) -> Any:
    """fn applied to a scalar, or to every element of a list, tuple or array (a list comes back)."""
    if _missing(value):
        return value
    if isinstance(value, (list, tuple)) or (hasattr(value, "tolist") and not isinstance(value, (str, bytes))
                                            and getattr(value, "ndim", 0) > 0):
        return [_each(v, fn) for v in list(value)]
    return fn(value)


def _masked_address(m: re.Match) -> str:
    return f"{m.group(1)[0]}***@{m.group(2)}"


def mask_email(text: Any) -> Any:
    """Every email address in `text` reduced to its first character and domain (Unicode addresses too); the text
    around the addresses stays. For a value of an email column use `mask_email_value`.

    Example:
        >>> mask_email("John.Doe@example.com"), mask_email("jürgen.müller@acme.com, bob@münchen.de")
        ('J***@example.com', 'j***@acme.com, b***@münchen.de')
    """
    return _each(text, lambda v: EMAIL.sub(_masked_address, str(v)))


def mask_email_value(value: Any) -> Any:
    """A value of an email column, masked whatever it holds: the addresses in it reduced to their first character
    and domain (joined by ", "; nothing else of the value is kept), anything else to its first character.

    Example:
        >>> mask_email_value("Bob <bob@münchen.de>"), mask_email_value("0cc175b9c0f1b6a831c399e269772661")
        ('b***@münchen.de', '0***')
    """
    def one(v: Any) -> str:
        text = str(v).strip()
        found = [_masked_address(m) for m in EMAIL.finditer(text)]
        if found:
            return ", ".join(found)
        return text[0] + "***" if text else text
    return _each(value, one)


def mask_name(text: Any) -> Any:
    """A name reduced to its initial.

    Example:
        >>> mask_name("Alice"), mask_name(" Øyvind")
        ('A***', 'Ø***')
    """
    def one(v: Any) -> Any:
        s = str(v).strip()
        return v if s == "" else s[0] + "***"
    return _each(text, one)


def pseudonym(value: Any) -> Any:
    """A pseudonymous identifier (a GA client id, a device id, a session key) as reports show it: `pid:` and the
    first 8 hex digits of the SHA-256 of its text, stable across reports and runs.

    Example:
        >>> pseudonym("1013000001.1709287200")
        'pid:8e2f5018'
    """
    def one(v: Any) -> str:
        text = str(v)
        return text if text == "" else "pid:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return _each(value, one)


def mask_text(text: Any) -> Any:
    """Free text (a note, a guard's detail, a data test's examples, a log line): every email address masked
    (`mask_email`) and every GA client id, or session key built on one, replaced by its `pseudonym`.

    Example:
        >>> mask_text("attached to email:bob@münchen.de via 1013000001.1709287200:1709287200")
        'attached to email:b***@münchen.de via pid:879af398'
    """
    return _each(text, lambda v: CLIENT_ID_IN_KEY.sub(lambda m: pseudonym(m.group(0)), mask_email(str(v))))


def _base(column: Any) -> str:
    return str(column).lower().rsplit("__", 1)[-1]


def is_email_column(column: Any) -> bool:
    """Whether a column holds email addresses by its name (see the module's docstring for the exceptions).

    Example:
        >>> [is_email_column(c) for c in ("email", "customer__email", "email_domain_type", "product_email")]
        [True, True, False, True]
    """
    name = _base(column)
    suffixes, prefixes = EMAIL_COLUMN_EXCEPTIONS
    return "email" in name and not name.endswith(suffixes) and not name.startswith(prefixes)


def column_kind(column: Any) -> str | None:
    """How a column is masked by its name: 'email', 'name', 'pseudonym', or None (free text, `mask_text`)."""
    name = _base(column)
    if name in NAME_COLUMNS:
        return "name"
    if name in PSEUDONYMOUS_COLUMNS or name.endswith(PSEUDONYMOUS_SUFFIXES):
        return "pseudonym"
    if is_email_column(column):
        return "email"
    return None


MASKS: dict[str | None, Callable[[Any], Any]] = {"email": mask_email_value, "name": mask_name,
                                                  "pseudonym": pseudonym, None: mask_text}


def mask_value(column: Any, value: Any) -> Any:
    """One value as a report shows it, masked by its column's name (`column_kind`).

    Example:
        >>> mask_value("customer__email", "not-an-email"), mask_value("session_key", "1.1709287200:1")
        ('n***', 'pid:3a8ef19b')
    """
    return MASKS[column_kind(column)](value)


def _kind_of_type(identifier_type: Any) -> str | None:
    return None if _missing(identifier_type) else column_kind(str(identifier_type))


def _textual(series: pd.Series) -> bool:
    return series.dtype == object or pd.api.types.is_string_dtype(series)


def mask_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` safe to show: each text column masked by its name (`column_kind`), `<x>value` columns by
    their `<x>type` column, every other text column through `mask_text`. Numbers, dates and booleans stay."""
    out = df.copy()
    names = {str(c).lower(): c for c in out.columns}
    for col in out.columns:
        if not _textual(out[col]):
            continue
        lower = str(col).lower()
        type_col = names.get(lower[:-len("value")] + "type") if lower.endswith("value") else None
        if type_col is not None and column_kind(col) is None:
            out[col] = [MASKS[_kind_of_type(t)](v) for t, v in zip(df[type_col], df[col])]
        else:
            out[col] = out[col].map(MASKS[column_kind(col)])
    return out
