"""Masking of personal data in anything a report shows: emails keep their first letter and domain,
names keep their initial. Reports go through `mask_frame`, never around it."""
from __future__ import annotations

import re

import pandas as pd

EMAIL = re.compile(r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})")
NAME_COLUMNS = {"first_name", "last_name", "full_name", "name", "customer__first_name", "customer__last_name"}


def mask_email(text: str | None) -> str | None:
    """Every email address in `text` reduced to its first letter and domain.

    Example:
        >>> mask_email("John.Doe@example.com")
        'J***@example.com'
    """
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return text
    return EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", str(text))


def mask_name(text: str | None) -> str | None:
    """A name reduced to its initial.

    Example:
        >>> mask_name("Alice")
        'A***'
    """
    if text is None or (isinstance(text, float) and pd.isna(text)) or str(text).strip() == "":
        return text
    return str(text).strip()[0] + "***"


def mask_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` safe to show: name columns masked, email addresses masked in every text column."""
    out = df.copy()
    for col in out.columns:
        if str(col).lower() in NAME_COLUMNS:
            out[col] = out[col].map(mask_name)
        elif out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(mask_email)
    return out
