"""Resource samples: CPU, RAM and GPU use of a run over time."""
from __future__ import annotations

from sqlmodel import Session, col, select

from db.models import ResourceSample

__all__ = ["add_resource_sample", "resource_samples"]


def add_resource_sample(*, session: Session, run_id: int, cpu_percent: float, ram_percent: float,
                        ram_mb: float, gpu_percent: float | None = None,
                        gpu_mem_percent: float | None = None) -> None:
    session.add(ResourceSample(run_id=run_id, cpu_percent=cpu_percent, ram_percent=ram_percent,
                               ram_mb=ram_mb, gpu_percent=gpu_percent, gpu_mem_percent=gpu_mem_percent))


def resource_samples(*, session: Session, run_id: int, limit: int = 2000) -> list[ResourceSample]:
    stmt = (select(ResourceSample).where(ResourceSample.run_id == run_id)
            .order_by(col(ResourceSample.time).desc()).limit(limit))
    return list(reversed(list(session.exec(stmt))))
