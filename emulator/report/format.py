"""Numbers and Markdown tables as the reports print them."""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: what a table cell shows for a value that is missing or not a number
MISSING = "n/a"

_PREFIXES = {
    -18: "a", -15: "f", -12: "p", -9: "n", -6: "\u00b5", -3: "m",
    0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P",
}


def format_si(value: float | None, unit: str = "", digits: int = 3) -> str:
    """Format a number with an engineering (SI) prefix, e.g. ``3.2e-9 J -> "3.2 nJ"``.

    Parameters
    ----------
    value : float or None
        The number; numpy scalars are accepted. ``None`` and NaN give ``"n/a"``.
    unit : str, optional
        Unit symbol appended after the prefix (``"J"``, ``"s"``, ``"W"``...).
    digits : int, optional
        Significant digits; trailing zeros are dropped (``1.50 -> "1.5"``).

    Returns
    -------
    str
        ``"<mantissa> <prefix><unit>"`` with the mantissa in ``[1, 1000)``; exponents
        outside atto..peta fall back to scientific notation.

    Examples
    --------
    >>> format_si(4.5e-5, "J")
    '45 µJ'
    >>> format_si(1200, "J")
    '1.2 kJ'
    >>> format_si(-0.7, "s")
    '-700 ms'
    """
    if value is None:
        return MISSING
    v = float(value)
    if math.isnan(v):
        return MISSING
    sep = " " if unit else ""
    if math.isinf(v):
        return f"{'-' if v < 0 else ''}inf{sep}{unit}"
    if v == 0:
        return f"0{sep}{unit}"
    sign = "-" if v < 0 else ""
    mag = abs(v)
    exp3 = 3 * math.floor(math.log10(mag) / 3)
    mantissa = float(f"{mag / 10.0 ** exp3:.{digits}g}")
    if mantissa >= 1000:  # rounding (or log10 imprecision) pushed it to the next prefix
        exp3 += 3
        mantissa = float(f"{mag / 10.0 ** exp3:.{digits}g}")
    if exp3 not in _PREFIXES:
        return f"{sign}{mag:.{digits - 1}e}{sep}{unit}"
    return f"{sign}{mantissa:.{digits}g}{sep}{_PREFIXES[exp3]}{unit}"


def format_count(value: float | None) -> str:
    """Format an operation count with thousands separators.

    Integral values print exactly (``18944 -> "18,944"``); fractional ones, such as
    per-sample averages, keep one decimal above 10 and three significant digits below.

    Parameters
    ----------
    value : float or None
        The count; numpy scalars are accepted. ``None`` and NaN give ``"n/a"``.

    Returns
    -------
    str
    """
    if value is None:
        return MISSING
    v = float(value)
    if math.isnan(v):
        return MISSING
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v.is_integer():
        return f"{int(v):,}"
    if abs(v) >= 10:
        return f"{v:,.1f}"
    return f"{v:.3g}"


def format_percent(fraction: float | None, decimals: int = 1) -> str:
    """Format a fraction in [0, 1] as a percentage: ``0.9712 -> "97.1 %"``; None and NaN give ``"n/a"``."""
    if fraction is None or math.isnan(float(fraction)):
        return MISSING
    return f"{100.0 * float(fraction):.{decimals}f} %"


def format_fixed(value: float | None, decimals: int) -> str:
    """Format a number with ``decimals`` decimals (``12.345, 1 -> "12.3"``); None and NaN give ``"n/a"``."""
    if value is None or math.isnan(float(value)):
        return MISSING
    return f"{float(value):.{decimals}f}"


def format_cut(value: float | None) -> str:
    """A cut (a sum of edge weights, or a mean of them) to two decimals at most, with thousands separators."""
    if value is None:
        return MISSING
    return f"{float(value):,.2f}".rstrip("0").rstrip(".")


def format_value(value: Any) -> str:
    """Format a free-form value (a setting, an entry of a program summary) for a table cell."""
    if value is None:
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, np.integer)):
        return format_count(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return format_count(v) if v.is_integer() and abs(v) < 1e15 else f"{v:.4g}"
    if isinstance(value, (Mapping, list, tuple, np.ndarray)):
        return "`" + json_text(value) + "`"
    return str(value)


def json_text(value: Any, indent: int | None = None) -> str:
    """``value`` as JSON, numpy scalars and arrays, paths and sets turned into plain Python first."""
    return json.dumps(value, indent=indent, default=_plain)


def _plain(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def per(total: float | None, n: float | None) -> float | None:
    """``total / n``, or None when ``total`` is missing or ``n`` is missing or zero."""
    return total / n if total is not None and n else None


def ordered_union(*mappings: Mapping) -> list[str]:
    """The keys of all ``mappings``, in first-seen order: the rows of a table over several of them."""
    keys: dict[str, None] = {}
    for m in mappings:
        keys.update(dict.fromkeys(m))
    return list(keys)


def _cell(text: Any) -> str:
    """Make text safe for a Markdown table cell (no pipes, no line breaks)."""
    return str(text).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    """A Markdown table; ``align`` has one character per column, ``l`` or ``r`` (default: the first
    column left, the others right)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
