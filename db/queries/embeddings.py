"""Embeddings: cached backbone vectors of samples (the anomaly family's preparation)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from db.models import Embedding, Sample, utcnow

__all__ = ["samples_missing_embedding", "store_embeddings", "embeddings_for_samples", "count_embeddings",
           "embedding_backbones", "delete_embeddings"]


def samples_missing_embedding(*, session: Session, dataset_id: int, backbone: str,
                              sample_ids: Iterable[int] | None = None) -> list[Sample]:
    """Samples of the dataset (optionally only ``sample_ids``) with no embedding for ``backbone``."""
    have = select(Embedding.sample_id).where(Embedding.backbone == backbone)
    stmt = select(Sample).where(Sample.dataset_id == dataset_id, col(Sample.id).not_in(have))
    if sample_ids is not None:
        stmt = stmt.where(col(Sample.id).in_(list(sample_ids)))
    return list(session.exec(stmt.order_by(Sample.id)))


def store_embeddings(*, session: Session, backbone: str, rows: Sequence[tuple[int, int, bytes]]) -> int:
    """Insert ``(sample_id, dim, float32 bytes)`` rows; a row that already exists (another worker
    got there first) is kept as it is. Returns how many rows were new."""
    if not rows:
        return 0
    values = [{"sample_id": sid, "backbone": backbone, "dim": dim, "vector": vec, "created_at": utcnow()}
              for sid, dim, vec in rows]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database dialect {dialect!r}")
    stmt = insert(Embedding).values(values).on_conflict_do_nothing(index_elements=["sample_id", "backbone"])
    result = session.exec(stmt)
    return result.rowcount if result.rowcount is not None and result.rowcount >= 0 else len(rows)


def embeddings_for_samples(*, session: Session, sample_ids: Iterable[int], backbone: str) -> dict[int, Embedding]:
    ids = list(sample_ids)
    if not ids:
        return {}
    stmt = select(Embedding).where(Embedding.backbone == backbone, col(Embedding.sample_id).in_(ids))
    return {e.sample_id: e for e in session.exec(stmt)}


def count_embeddings(*, session: Session, dataset_id: int, backbone: str | None = None) -> int:
    stmt = (select(func.count()).select_from(Embedding).join(Sample, Sample.id == Embedding.sample_id)
            .where(Sample.dataset_id == dataset_id))
    if backbone is not None:
        stmt = stmt.where(Embedding.backbone == backbone)
    return int(session.exec(stmt).one())


def embedding_backbones(*, session: Session, dataset_id: int) -> dict[str, int]:
    """Backbone → number of the dataset's samples embedded with it."""
    stmt = (select(Embedding.backbone, func.count()).join(Sample, Sample.id == Embedding.sample_id)
            .where(Sample.dataset_id == dataset_id).group_by(Embedding.backbone))
    return {name: int(n) for name, n in session.exec(stmt)}


def delete_embeddings(*, session: Session, sample_ids: Iterable[int]) -> None:
    """Drop every backbone's embedding of ``sample_ids`` (their files changed or went away)."""
    ids = list(sample_ids)
    if ids:
        session.exec(delete(Embedding).where(col(Embedding.sample_id).in_(ids)))
