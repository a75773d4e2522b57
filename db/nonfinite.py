"""Non-finite floats stored faithfully: NaN, inf and -inf as a NULL value plus a word.

SQLite turns a bound NaN into NULL (and then a NOT NULL column refuses the row), and JSON has
no spelling for NaN or infinity, so a metric value is stored as ``value`` (finite, or NULL)
and ``special`` (``'nan'``, ``'inf'``, ``'-inf'`` or NULL). A diverging run's last metrics are
exactly what its analyst needs to see, so they must survive the round trip on every database.
"""
from __future__ import annotations

import math

__all__ = ["SPECIALS", "encode_float", "decode_float", "json_safe"]

SPECIALS = ("nan", "inf", "-inf")


def encode_float(value: float | None) -> tuple[float | None, str | None]:
    """``(value, special)`` for storage: finite floats as they are, the rest as ``(None, word)``."""
    if value is None:
        return None, None
    value = float(value)
    if math.isfinite(value):
        return value, None
    if math.isnan(value):
        return None, "nan"
    return None, "inf" if value > 0 else "-inf"


def decode_float(value: float | None, special: str | None) -> float | None:
    """The float a stored ``(value, special)`` pair stands for."""
    if special in SPECIALS:
        return float(special)
    return value


def json_safe(values: dict) -> dict:
    """``values`` without its NaN/inf floats: JSON has no spelling for them and PostgreSQL's
    json type refuses the ``NaN`` token Python would write (run summaries, model metrics). The
    metric rows keep them (``encode_float``)."""
    return {k: v for k, v in values.items() if not (isinstance(v, float) and not math.isfinite(v))}
