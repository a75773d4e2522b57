"""Tables of Trainyard's data model (see DESIGN.md, 'Data model')."""
from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class RunStatus(str, Enum):
    pending = "pending"
    preparing = "preparing"
    training = "training"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def finished(self) -> bool:
        return self in FINISHED

    @property
    def active(self) -> bool:
        return not self.finished


FINISHED = {RunStatus.completed, RunStatus.failed, RunStatus.cancelled}


class Dataset(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    kind: str = Field(index=True, description="drawings, yolo, market1501, logos, transitions, ...")
    root: str = Field(description="Folder under the data root.")
    status: str = Field(default="ready", description="importing, ready, failed")
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    content_hash: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Sample(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("dataset_id", "path", name="uq_sample_dataset_path"),
        Index("ix_sample_dataset_group", "dataset_id", "group_key"),
    )
    id: int | None = Field(default=None, primary_key=True)
    dataset_id: int = Field(foreign_key="dataset.id", index=True)
    path: str = Field(description="Relative to the dataset root.")
    group_key: str | None = Field(default=None, description="age, category, class, identity or patient")
    group_value: float | None = Field(default=None, description="Numeric group value where one exists (age in years).")
    label: str | None = None
    split: str | None = Field(default=None, description="train, val, test")
    flags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    meta: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Embedding(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("sample_id", "backbone", name="uq_embedding_sample_backbone"),)
    id: int | None = Field(default=None, primary_key=True)
    sample_id: int = Field(foreign_key="sample.id", index=True)
    backbone: str
    dim: int
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False), description="float32 little-endian")
    created_at: datetime = Field(default_factory=utcnow)


class Sweep(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str
    family: str
    space: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class Run(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = ""
    family: str = Field(index=True)
    task: str | None = None
    dataset_id: int | None = Field(default=None, foreign_key="dataset.id")
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: RunStatus = Field(default=RunStatus.pending, index=True)
    priority: str = "default"
    job_id: str | None = None
    worker: str | None = None
    phase: str | None = None
    progress_done: int = 0
    progress_total: int = 0
    eta_s: float | None = None
    heartbeat_at: datetime | None = None
    cancel_requested: bool = False
    error: str | None = Field(default=None, sa_column=Column(Text))
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    parent_id: int | None = Field(default=None, foreign_key="run.id")
    resume_from: str | None = Field(default=None, description="Checkpoint the next attempt starts from.")
    sweep_id: int | None = Field(default=None, foreign_key="sweep.id")
    out_dir: str | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def progress(self) -> float:
        return self.progress_done / self.progress_total if self.progress_total else 0.0


class Metric(SQLModel, table=True):
    # (run_id, name, step, value) answers the curve buckets from the index alone (rows of one
    # name in step order); (run_id, step) finds a run's highest step in one lookup
    __table_args__ = (Index("ix_metric_run_name_step_value", "run_id", "name", "step", "value"),
                      Index("ix_metric_run_step", "run_id", "step"))
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id")
    step: int
    epoch: int | None = None
    name: str
    value: float
    time: datetime = Field(default_factory=utcnow)


class Checkpoint(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    step: int
    path: str
    sha256: str
    monitored: float | None = None
    best: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class ModelVersion(SQLModel, table=True):
    __table_args__ = (Index("ix_modelversion_scope", "family", "task", "scope"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    family: str
    task: str | None = None
    scope: str = ""
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    artifact_path: str
    sha256: str | None = Field(default=None, description="Digest recorded at registration; the artifact loads only if it still matches.")
    threshold: float | None = None
    active: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class ResourceSample(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    time: datetime = Field(default_factory=utcnow)
    cpu_percent: float
    ram_percent: float
    ram_mb: float
    gpu_percent: float | None = None
    gpu_mem_percent: float | None = None


class ShareLink(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(index=True, unique=True)
    run_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    title: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None
