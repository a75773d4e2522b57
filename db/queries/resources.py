"""Resource samples: CPU, RAM and GPU use of a run over time."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, func, select

from db.models import ResourceSample

__all__ = ["add_resource_sample", "resource_samples", "latest_resource_samples"]

OPTIONAL = {"proc_cpu_percent", "gpu_proc_mem_mb", "disk_home_free_gb", "disk_artifacts_free_gb", "gpus"}


def add_resource_sample(*, session: Session, run_id: int, cpu_percent: float, ram_percent: float,
                        ram_mb: float, gpu_percent: float | None = None,
                        gpu_mem_percent: float | None = None, **more: Any) -> None:
    """One sample; ``more``: the optional columns (``proc_cpu_percent``, ``gpu_proc_mem_mb``,
    ``disk_home_free_gb``, ``disk_artifacts_free_gb``, ``gpus``)."""
    unknown = set(more) - OPTIONAL
    if unknown:
        raise TypeError(f"unknown resource sample field(s): {', '.join(sorted(unknown))}")
    session.add(ResourceSample(run_id=run_id, cpu_percent=cpu_percent, ram_percent=ram_percent,
                               ram_mb=ram_mb, gpu_percent=gpu_percent, gpu_mem_percent=gpu_mem_percent, **more))


def latest_resource_samples(*, session: Session, run_ids: Iterable[int]) -> dict[int, ResourceSample]:
    """The newest sample of each run in ``run_ids`` (runs without one are left out)."""
    ids = list(run_ids)
    if not ids:
        return {}
    newest = (select(ResourceSample.run_id, func.max(ResourceSample.id).label("id"))
              .where(col(ResourceSample.run_id).in_(ids)).group_by(ResourceSample.run_id).subquery())
    stmt = select(ResourceSample).join(newest, ResourceSample.id == newest.c.id)
    return {s.run_id: s for s in session.exec(stmt)}


def resource_samples(*, session: Session, run_id: int, limit: int = 2000) -> list[ResourceSample]:
    stmt = (select(ResourceSample).where(ResourceSample.run_id == run_id)
            .order_by(col(ResourceSample.time).desc()).limit(limit))
    return list(reversed(list(session.exec(stmt))))
