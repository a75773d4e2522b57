"""What travels through Redis: plain JSON data, never pickles.

Every queue, worker and job fetch uses ``SERIALIZER`` (RQ's ``JSONSerializer``), so a job's
payload, meta and return value are JSON text: a payload cannot hold code, and a worker cannot be
made to unpickle anything (a pickled job fails to deserialize and never runs).

``require_plain`` refuses, with the path of the offending value, anything JSON would not carry
as it is (objects, sets, bytes, non-string keys) before a job is written. Predictions carry
images: ``pack`` turns bytes into ``{"$bytes": "<base64>"}`` (and numpy scalars or arrays into
numbers and lists) and ``unpack`` turns them back, at the two ends of the scoring lane.
"""
from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from rq.serializers import JSONSerializer

__all__ = ["SERIALIZER", "SERIALIZER_PATH", "NotPlainData", "require_plain", "pack", "unpack"]

SERIALIZER = JSONSerializer
SERIALIZER_PATH = "rq.serializers.JSONSerializer"  # for ``rq worker --serializer``
BYTES_TAG = "$bytes"
_SCALARS = (str, int, float, bool, type(None))


class NotPlainData(TypeError):
    """A job payload holds something other than JSON data; nothing was queued."""


def require_plain(value: Any, where: str = "payload") -> None:
    """Raise ``NotPlainData`` naming the first value under ``value`` that is not JSON data
    (``None``, bools, numbers, strings, lists or tuples of them, dicts with string keys)."""
    if isinstance(value, _SCALARS):
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            require_plain(item, f"{where}[{i}]")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotPlainData(f"{where} has the key {key!r} ({type(key).__name__}); "
                                   f"a queue payload's keys must be strings")
            require_plain(item, f"{where}[{key!r}]")
        return
    hint = " (bytes travel base64-encoded: jobs.wire.pack)" if isinstance(value, (bytes, bytearray, memoryview)) else ""
    raise NotPlainData(f"{where} is a {type(value).__module__}.{type(value).__qualname__}; a queue payload "
                       f"carries plain JSON data only (None, bools, numbers, strings, lists, dicts){hint}")


def pack(value: Any) -> Any:
    """``value`` as JSON data: bytes become ``{"$bytes": base64}``, numpy scalars and arrays
    become numbers and lists, tuples lists, and numeric dict keys strings (as JSON writes them).
    Anything else that is not JSON data is left for ``require_plain`` to refuse."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {BYTES_TAG: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        return {_key(k): pack(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [pack(v) for v in value]
    if hasattr(value, "dtype") and hasattr(value, "tolist"):  # numpy without importing it
        return pack(value.tolist())
    return value


def _key(key: Any) -> Any:
    if isinstance(key, bool) or key is None:
        return key  # refused by require_plain: JSON would write them as 'true' / 'null'
    return str(key) if isinstance(key, (int, float)) else key


def unpack(value: Any) -> Any:
    """The inverse of ``pack``: ``{"$bytes": base64}`` becomes bytes again."""
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get(BYTES_TAG), str):
            return base64.b64decode(value[BYTES_TAG])
        return {k: unpack(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unpack(v) for v in value]
    return value
