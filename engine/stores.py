"""Stores a family needs beyond its samples, as interfaces: the worker hands a trainer one that
keeps its data in the database (``jobs.stores``); tests and the offline CLI hand it the
in-memory one here. A family reaches a store through ``ctx.stores[name]``."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

__all__ = ["EmbeddingStore", "MemoryEmbeddingStore", "EMBEDDINGS"]

EMBEDDINGS = "embeddings"  # the key of the embedding cache in ``ctx.stores``


@runtime_checkable
class EmbeddingStore(Protocol):
    """Vectors per (sample id, backbone), computed once and reused by every run."""

    def missing(self, *, backbone: str, sample_ids: Iterable[int]) -> list[int]:
        """The ids among ``sample_ids`` that have no vector for ``backbone`` yet, in order."""

    def put(self, *, backbone: str, rows: Iterable[tuple[int, int, bytes]]) -> None:
        """Store ``(sample_id, dim, float32 little-endian bytes)`` rows; existing ones stay."""

    def get(self, *, backbone: str, sample_ids: Iterable[int]) -> Mapping[int, bytes]:
        """The stored vectors (raw bytes) of those of ``sample_ids`` that have one."""


class MemoryEmbeddingStore:
    """An ``EmbeddingStore`` in a dict, for tests and the offline CLI."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, int], bytes] = {}

    def missing(self, *, backbone: str, sample_ids: Iterable[int]) -> list[int]:
        return [i for i in sample_ids if (backbone, i) not in self._rows]

    def put(self, *, backbone: str, rows: Iterable[tuple[int, int, bytes]]) -> None:
        for sample_id, _dim, vector in rows:
            self._rows.setdefault((backbone, int(sample_id)), bytes(vector))

    def get(self, *, backbone: str, sample_ids: Iterable[int]) -> Mapping[int, bytes]:
        return {i: self._rows[(backbone, i)] for i in sample_ids if (backbone, i) in self._rows}

    def __len__(self) -> int:
        return len(self._rows)
