"""What a family is handed, resolved from the database before it runs: the dataset with its
samples, the verified checkpoint to resume from, verified start weights, and the stores the
family needs. Families never query for any of it (``engine/`` imports no ``db``)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from db import queries
from db.session import session_scope
from engine.core import DatasetRef, SampleRow, VerifiedFile
from engine.stores import EMBEDDINGS

__all__ = ["init_version_of", "init_weights_for", "verified_model_version", "extra_datasets_for",
           "dataset_ref", "sample_row", "verified_checkpoint", "DbEmbeddingStore", "stores_for"]


def sample_row(smp) -> SampleRow:
    """A database Sample as plain engine data."""
    return SampleRow(id=smp.id, path=smp.path, group_key=smp.group_key, group_value=smp.group_value,
                     label=smp.label, split=smp.split, flags=tuple(smp.flags or ()), meta=dict(smp.meta or {}))


def dataset_ref(dataset_id: int | None, *, samples: bool = True) -> DatasetRef | None:
    """The dataset as a family sees it (with its samples unless ``samples=False``); None for no
    dataset; ``LookupError`` naming the id when there is no such dataset."""
    if dataset_id is None:
        return None
    with session_scope() as s:
        ds = queries.get_dataset(session=s, dataset_id=dataset_id)
        if ds is None:
            raise LookupError(f"no dataset with id {dataset_id}")
        rows = tuple(sample_row(smp) for smp in queries.dataset_samples(session=s, dataset_id=dataset_id)) \
            if samples else ()
        return DatasetRef(name=ds.name, kind=ds.kind, root=Path(ds.root), id=ds.id, summary=dict(ds.summary or {}),
                          samples=rows)


def extra_datasets_for(config, *, kind: str | None) -> tuple[DatasetRef, ...]:
    """The datasets a config's ``extra_datasets`` names (ids), with their samples, in order:
    combined with the run's own dataset by families that offer it. ``LookupError`` for an id with
    no dataset, ``ValueError`` for one of another kind than ``kind``."""
    refs = []
    for dataset_id in getattr(config, "extra_datasets", None) or ():
        ref = dataset_ref(int(dataset_id))
        if kind is not None and ref.kind != kind:
            raise ValueError(f"dataset {dataset_id} ({ref.name}) is a {ref.kind} dataset, not {kind}")
        refs.append(ref)
    return tuple(refs)


def verified_checkpoint(run_id: int, path: Path) -> VerifiedFile:
    """``path`` as a ``VerifiedFile`` when it still has the sha256 of one of the run's Checkpoint
    rows for it; else ``UntrustedModelError`` (changed on disk, or never registered) or
    ``FileNotFoundError`` (gone), so a resume never loads a file Trainyard did not register
    exactly as it is."""
    from engine.trust import UntrustedModelError, verify_recorded

    with session_scope() as s:
        rows = [(c.sha256, c.step) for c in queries.checkpoints_at_path(session=s, run_id=run_id, path=str(path))]
    if not rows:
        raise UntrustedModelError(f"checkpoint {path} is not registered for run {run_id}; refusing to resume from it")
    for digest, step in rows:
        try:
            return VerifiedFile(path=verify_recorded(path, digest, what="checkpoint"), sha256=digest,
                                what="checkpoint", meta={"step": step})
        except UntrustedModelError:
            continue
    raise UntrustedModelError(f"checkpoint {path} changed on disk since run {run_id} registered it (sha256 "
                              f"mismatch); refusing to resume from it. Resume again to pick an intact checkpoint, "
                              f"or retry the run from scratch")


class DbEmbeddingStore:
    """``engine.stores.EmbeddingStore`` over the Embedding table (shared by every run and worker)."""

    def missing(self, *, backbone: str, sample_ids: Iterable[int]) -> list[int]:
        ids = list(sample_ids)
        with session_scope() as s:
            have = queries.embeddings_for_samples(session=s, sample_ids=ids, backbone=backbone)
        return [i for i in ids if i not in have]

    def put(self, *, backbone: str, rows: Iterable[tuple[int, int, bytes]]) -> None:
        with session_scope() as s:
            queries.store_embeddings(session=s, backbone=backbone, rows=list(rows))

    def get(self, *, backbone: str, sample_ids: Iterable[int]) -> Mapping[int, bytes]:
        with session_scope() as s:
            return {k: bytes(e.vector) for k, e in
                    queries.embeddings_for_samples(session=s, sample_ids=list(sample_ids), backbone=backbone).items()}


def stores_for(family: str) -> dict[str, object]:
    """The stores a run of ``family`` is handed (every family gets the same set; unused ones cost
    nothing)."""
    return {EMBEDDINGS: DbEmbeddingStore()}


# the config key naming a model version to start from, the same in every family (reid's older
# ``init_model_version`` is read as it by the family's config, with a deprecation note)
INIT_KEYS = ("init_version",)


def verified_model_version(version_id: int, *, family: str) -> VerifiedFile:
    """The artifact of model version ``version_id`` of ``family``, its digest checked against
    the record; a clear error for a missing version, another family's, or a changed file."""
    from engine.trust import verify_recorded

    with session_scope() as s:
        mv = queries.get_model_version(session=s, model_version_id=version_id)
        if mv is None:
            raise LookupError(f"no model version with id {version_id}")
        if mv.family != family:
            raise ValueError(f"model version {version_id} is a {mv.family} model, not a {family} one")
        path = verify_recorded(mv.artifact_path, mv.sha256, what=f"model version {mv.id} artifact")
        return VerifiedFile(path=path, sha256=mv.sha256, what=f"model version {mv.id}",
                            meta={"version_id": mv.id, "family": mv.family, "task": mv.task, "scope": mv.scope})


def init_version_of(config) -> int | None:
    """The model version id a config starts from (``init_version``), or None."""
    for key in INIT_KEYS:
        version_id = getattr(config, key, None)
        if version_id is not None:
            return int(version_id)
    return None


def init_weights_for(family: str, config) -> VerifiedFile | None:
    """The verified start weights a config asks for by model version, or None."""
    version_id = init_version_of(config)
    return None if version_id is None else verified_model_version(version_id, family=family)
