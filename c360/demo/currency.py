"""Currencies and exact amounts as text: the currency list (parse_currencies), the currencies without a minor unit
(ZERO_DECIMAL), and integer cents / millionths written as decimal text, never through a float (cents_text,
micro_text)."""
from __future__ import annotations

import numpy as np


ZERO_DECIMAL = {"JPY", "KRW", "CLP", "ISK", "VND", "PYG", "UGX"}  # no minor unit: amounts in whole units


def cents_text(cents) -> list[str]:
    """Integer cents -> '1234.56' (exact: built from the integer, never from a float)."""
    return [f"{c // 100}.{c % 100:02d}" if c >= 0 else f"-{-c // 100}.{-c % 100:02d}"
            for c in np.asarray(cents, dtype=np.int64).tolist()]


def micro_text(micros) -> list[str]:
    """Integer millionths -> '1.084512' (exact, six decimals)."""
    return [f"{m // 1_000_000}.{m % 1_000_000:06d}" for m in np.asarray(micros, dtype=np.int64).tolist()]


def parse_currencies(text) -> tuple[str, ...]:
    """'USD,EUR,GBP' (or a sequence) -> ('USD', 'EUR', 'GBP'): ISO-4217-like codes, unique, the first the reporting
    currency. Raises ValueError otherwise."""
    codes = tuple(c.strip().upper() for c in (text.split(",") if isinstance(text, str) else text))
    if not codes or any(len(c) != 3 or not c.isalpha() or not c.isascii() for c in codes):
        raise ValueError(f"currencies must be three-letter codes separated by commas, got {text!r}")
    if len(set(codes)) != len(codes):
        raise ValueError(f"currencies must not repeat, got {text!r}")
    return codes
