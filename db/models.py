"""Tables of Trainyard's data model (see DESIGN.md, 'Data model')."""
from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, String, Text, UniqueConstraint, event
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Field, SQLModel

from db.nonfinite import decode_float


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class RunStatus(str, Enum):
    pending = "pending"
    preparing = "preparing"
    training = "training"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"
    pruned = "pruned"  # a sweep trial its pruner stopped early: not a failure

    @property
    def finished(self) -> bool:
        return self in FINISHED

    @property
    def active(self) -> bool:
        return not self.finished


FINISHED = {RunStatus.completed, RunStatus.failed, RunStatus.cancelled, RunStatus.pruned}


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
    """A hyper-parameter search: its trials are ordinary runs with ``sweep_id`` set; the Optuna
    study named ``study_name`` lives in this same database."""
    id: int | None = Field(default=None, primary_key=True)
    name: str
    family: str
    kind: str = Field(default="search", index=True,
                      description="search (an Optuna study) or curve (a learning-curve study: one run per data "
                                  "fraction and repeat, jobs.learning_curves)")
    space: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    dataset_id: int | None = Field(default=None, foreign_key="dataset.id")
    method: str = "random"  # grid, random, guided
    metric: str = ""
    direction: str = "minimize"
    max_trials: int = 10
    parallel: int = 1
    pruner: str = "none"
    priority: str = "default"
    status: str = Field(default="running", description="running, completed, cancelled, failed")
    study_name: str = ""
    error: str | None = Field(default=None, sa_column=Column(Text))
    finished_at: datetime | None = None


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
    attempt: int = Field(default=0, description="Execution number: bumped at every enqueue; a worker holding an older one stops.")
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
    parent_version_id: int | None = Field(default=None, index=True,
                                          description="Model version this run started from (config init_version).")
    resume_from: str | None = Field(default=None, description="Checkpoint the next attempt starts from.")
    sweep_id: int | None = Field(default=None, foreign_key="sweep.id")
    trial_number: int | None = Field(default=None, description="Optuna trial number within the sweep")
    out_dir: str | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    description: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    cloned_from: int | None = Field(default=None, description="The run whose family, dataset and config this one was "
                                                              "cloned from (no foreign key: see migration 0008).")
    progress_at: datetime | None = Field(default=None, description="Last time the trainer reported progress or metrics.")
    stalled_at: datetime | None = Field(default=None, description="Set while the run makes no progress although its "
                                                                  "worker heartbeats (TRAINYARD_STALL_MINUTES).")
    resources: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}"),
                                      description="Resource summary: peak_ram_mb, peak_gpu_mem_mb, gpu_hours, gpus.")

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
    value: float | None = Field(default=None, description="The value; NULL when ``special`` holds it.")
    special: str | None = Field(default=None, max_length=4,
                                description="'nan', 'inf' or '-inf' for a non-finite value (db/nonfinite.py)")
    time: datetime = Field(default_factory=utcnow)


@event.listens_for(Metric, "load")
def _metric_loaded(metric: Metric, _context) -> None:
    """Rows that stored a non-finite value read back as that float (without marking them dirty)."""
    if metric.special:
        set_committed_value(metric, "value", decode_float(metric.value, metric.special))


class MetricSummary(SQLModel, table=True):
    """Per (run, metric): what the tables, tiles and comparisons show, kept up to date at ingest
    (one upsert per batch, ``db.queries.metrics``) so nothing scans the metric rows for it.
    ``min``/``max`` are over the finite values; ``first``/``last`` are the rows at the lowest and
    highest step (the earliest, resp. newest row of a step) and may be non-finite (``*_special``).
    ``version`` grows with every change, so caches keyed by it never serve a replaced curve."""
    __tablename__ = "metric_summary"
    __table_args__ = {"sqlite_with_rowid": False}  # the primary key is the table: one B-tree, not two
    run_id: int = Field(foreign_key="run.id", primary_key=True)
    name: str = Field(primary_key=True)
    count: int = 0
    first_step: int | None = None
    first_value: float | None = None
    first_special: str | None = Field(default=None, max_length=4)
    last_step: int | None = None
    last_value: float | None = None
    last_special: str | None = Field(default=None, max_length=4)
    min_value: float | None = None
    min_step: int | None = None
    max_value: float | None = None
    max_step: int | None = None
    version: int = 0


class MetricBucket(SQLModel, table=True):
    """The curve pyramid: per (run, metric, level) the rows of steps ``[bucket·2^level,
    (bucket+1)·2^level)`` folded into count, finite min and max, and the last row (highest step,
    newest of that step). Maintained at ingest; the raw ``metric`` rows stay the truth."""
    __tablename__ = "metric_bucket"
    __table_args__ = {"sqlite_with_rowid": False}
    run_id: int = Field(primary_key=True)  # derived rows, deleted with the run (purge_run): no foreign key to check per upsert
    name: str = Field(primary_key=True)
    level: int = Field(primary_key=True)
    bucket: int = Field(primary_key=True)
    count: int = 0
    vmin: float | None = None
    vmax: float | None = None
    last_step: int = 0
    last_epoch: int | None = None
    last_time: datetime | None = None
    last_value: float | None = None
    last_special: str | None = Field(default=None, max_length=4)


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
    __table_args__ = (Index("ix_modelversion_scope", "family", "task", "scope"),
                      Index("uq_modelversion_active_slot", "active_slot", unique=True))
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    family: str
    task: str | None = None
    scope: str = ""
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    artifact_path: str
    sha256: str | None = Field(default=None, description="Digest recorded at registration; the artifact loads only if it still matches.")
    threshold: float | None = None
    active: bool = False  # kept equal to ``status == "active"`` by the repository functions
    status: str = Field(default="candidate", description="candidate, active, archived, deleted (see ModelStatus)")
    active_slot: str | None = Field(default=None, sa_column=Column(String, nullable=True),
                                    description="'family|task|scope' while active, else NULL: the unique index "
                                                "that lets only one version per scope be active")
    created_at: datetime = Field(default_factory=utcnow)


class ModelStatus(str, Enum):
    candidate = "candidate"  # registered, not serving
    active = "active"        # the one version of its family/task/scope that pages use
    archived = "archived"    # replaced or set aside by hand; can be activated again (roll back)
    deleted = "deleted"      # artifact removed, row and audit kept


class ActivationPolicy(SQLModel, table=True):
    """How a family's finished runs become active (absent row: ``auto-if-better``)."""
    family: str = Field(primary_key=True)
    policy: str = Field(default="auto-if-better", description="auto-if-better, manual, always")
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: str | None = None


class ModelEvent(SQLModel, table=True):
    """One audit line of the model registry: what changed in a scope, what it replaced, and why."""
    __table_args__ = (Index("ix_modelevent_scope", "family", "task", "scope"),)
    id: int | None = Field(default=None, primary_key=True)
    time: datetime = Field(default_factory=utcnow, index=True)
    family: str
    task: str | None = None
    scope: str = ""
    action: str = Field(description="register, activate, keep, archive, delete, policy")
    model_version_id: int | None = Field(default=None, foreign_key="modelversion.id")
    replaced_id: int | None = Field(default=None, foreign_key="modelversion.id")
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    actor: str | None = None


class ResourceSample(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    time: datetime = Field(default_factory=utcnow)
    cpu_percent: float
    ram_percent: float
    ram_mb: float
    gpu_percent: float | None = None
    gpu_mem_percent: float | None = None
    proc_cpu_percent: float | None = Field(default=None, description="The run's process tree (100 = one core).")
    gpu_proc_mem_mb: float | None = Field(default=None, description="GPU memory the run's processes hold, MB.")
    disk_home_free_gb: float | None = None
    disk_artifacts_free_gb: float | None = None
    gpus: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON, nullable=True),
                                              description="Every visible GPU: index, name, util_percent, "
                                                          "mem_used_mb, mem_total_mb, temp_c, power_w, proc_mem_mb.")


class ShareLink(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(index=True, unique=True)
    run_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    title: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None
    kind: str = Field(default="runs", description="run, comparison, model or curve (a learning-curve study)")
    model_version_id: int | None = Field(default=None, foreign_key="modelversion.id")
    revoked_at: datetime | None = None


class Artifact(SQLModel, table=True):
    """A file a run wrote, recorded by the worker when the run ended: its path inside the run
    folder, size and sha256. Pages hand out only bytes that still have that sha256."""
    __table_args__ = (UniqueConstraint("run_id", "path", name="uq_artifact_run_path"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    path: str = Field(description="POSIX path relative to the run folder.")
    size: int
    sha256: str
    kind: str = Field(default="other", description="image, table, json, text, checkpoint, other")
    recorded_at: datetime = Field(default_factory=utcnow)


class RunManifest(SQLModel, table=True):
    """What produced a run, captured when an attempt starts: code, packages, data, config,
    seed, machine and start weights (``jobs.manifest``)."""
    __table_args__ = (UniqueConstraint("run_id", "attempt", name="uq_runmanifest_run_attempt"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    attempt: int = 0
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class Notification(SQLModel, table=True):
    """An event to announce (run completed, failed, cancelled or stalled; sweep finished; model
    activated): an outbox row, delivered to each configured webhook by ``jobs.notify``."""
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    event: str = Field(description="run.completed, run.failed, run.cancelled, run.stalled, sweep.finished, "
                                   "model.activated")
    subject: str = Field(default="run", description="run, sweep or model")
    subject_id: int | None = None
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class NotificationDelivery(SQLModel, table=True):
    """One notification to one webhook: its attempts, the next try and the last error. The
    webhook is named by a digest of its URL (a Slack URL is a secret) and its host."""
    __table_args__ = (UniqueConstraint("notification_id", "target", name="uq_delivery_notification_target"),
                      Index("ix_delivery_target_status", "target", "status"))
    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notification.id", index=True)
    target: str = Field(description="sha256 of the webhook URL (first 16 hex digits)")
    host: str = ""
    status: str = Field(default="pending", description="pending, sending, delivered, failed")
    attempts: int = 0
    next_at: datetime = Field(default_factory=utcnow)
    claimed_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    delivered_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class Evaluation(SQLModel, table=True):
    """One evaluation of a saved model (a model version or a checkpoint) on a split of a dataset,
    run as a job on the worker queue; metrics as the family's trainer names them for that split,
    breakdown tables (per patient, per category), and the files it wrote with their sha256."""
    id: int | None = Field(default=None, primary_key=True)
    model_version_id: int | None = Field(default=None, foreign_key="modelversion.id", index=True)
    checkpoint_id: int | None = Field(default=None, foreign_key="checkpoint.id")
    run_id: int | None = Field(default=None, foreign_key="run.id", description="The run the model came from.")
    family: str
    task: str | None = None
    dataset_id: int = Field(foreign_key="dataset.id", index=True)
    split: str = "test"
    options: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", description="pending, running, completed, failed, cancelled")
    phase: str | None = None
    progress_done: int = 0
    progress_total: int = 0
    job_id: str | None = None
    worker: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    tables: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    artifacts: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False),
                                            description="[{path (relative to out_dir), size, sha256}]")
    out_dir: str | None = None
    error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow, index=True)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
class CatalogEntry(SQLModel, table=True):
    """One base model in the operator's models folder (``TRAINYARD_MODELS_DIR``): a file or a
    folder, the family it starts, its format, size and the sha256 recorded when it was added or
    pulled. A catalogued file loads only while it still has that digest (at launch and again on
    the worker); the record lives here, not beside the file, so whoever swaps the file cannot
    also rewrite the digest it is checked against."""
    __tablename__ = "catalog_entry"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, description="Path relative to the models folder (the loading name).")
    family: str = Field(index=True)
    task: str | None = Field(default=None, description="yolo: detect, segment or classify; else None.")
    format: str = Field(description="pt, yaml, pth, safetensors folder, ...")
    size: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    sha256: str = Field(description="sha256 of the file, or engine.digests.folder_sha256 of a folder.")
    source: str = Field(default="", description="Where it came from: 'added from PATH', 'pulled NAME (library)'.")
    added_at: datetime = Field(default_factory=utcnow)
