"""The engine contract: what a family trainer is handed and what it returns.

The engine knows nothing of Streamlit or RQ. A trainer talks to the outside world only through
the ``RunContext`` it is given: the worker hands it one that writes to the database, tests and
the offline CLI hand it others.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")

__all__ = [
    "DatasetRef", "SampleRow", "VerifiedFile", "FitResult", "ModelArtifact", "RunCancelled", "RunPruned", "RunDiverged", "LaunchBlocked",
    "TaskMismatch", "RunContext", "Trainer",
    "FamilyConfig", "Family", "Conformance", "Headline", "Registry", "UnknownKeyError", "UnknownFamilyError", "FAMILIES",
    "EvalContext", "EvalResult", "EvaluationRefused",
]


class RunCancelled(Exception):
    """Raised by a trainer (or ``check_stop``) when the context asked it to stop."""


class RunPruned(Exception):
    """Raised by a sweep trial's context when the sweep's pruner stops the trial early."""


class RunDiverged(Exception):
    """Raised by the run context when a loss turned NaN/inf or exploded; the run ends ``failed``
    with this message (no traceback), keeping its metrics and its last good checkpoint."""


class LaunchBlocked(ValueError):
    """A launch the family's sufficiency gate refuses; ``reasons`` lists why. Pass
    ``override=True`` to ``submit_run`` (or ``--override`` on the CLI) to launch anyway."""

    def __init__(self, family: str, reasons: list[str]) -> None:
        self.family = family
        self.reasons = list(reasons)
        super().__init__(f"{family} launch blocked by the data sufficiency gate: " + "; ".join(self.reasons)
                         + " (launch with override to go on anyway)")


class TaskMismatch(str):
    """A gate reason saying the config's task is not one the dataset can train (e.g. classify on
    detect data): a plain string everywhere, so pages can tell it from "not enough data"."""


@dataclass(frozen=True)
class VerifiedFile:
    """A file the worker checked before ``fit``: its sha256 matched the record it came from (a
    Checkpoint row, a model version, the models folder). Load it with
    ``engine.checkpoints.load_verified`` so the digest is checked again right before use."""
    path: Path
    sha256: str
    what: str = "file"
    meta: Mapping[str, Any] = field(default_factory=dict)  # e.g. the model version's family, config


@runtime_checkable
class RunContext(Protocol):
    """What a trainer is handed. Besides the four calls below a context carries what the worker
    resolved before ``fit``: ``resume`` (the verified checkpoint to resume from, or None),
    ``init_weights`` (verified start weights, or None), ``stores`` (name → store a family
    needs, e.g. ``"embeddings"``: an ``engine.stores.EmbeddingStore``) and ``extra_datasets``
    (the ``DatasetRef``s, with samples, of a config's ``extra_datasets`` ids). Read them with
    ``getattr(ctx, name, None)`` so a bare test context needs none of them."""
    out_dir: Path
    device: str
    resume_from: Path | None

    def log(self, metrics: Mapping[str, float], *, step: int, epoch: int | None = None) -> None: ...
    def progress(self, done: int, total: int, phase: str = "train") -> None: ...
    def checkpoint(self, path: Path, *, step: int, monitored: float | None = None,
                   best: bool | None = None) -> None: ...
    def should_stop(self) -> bool: ...
    # ``report(value, step)``: an intermediate value of the sweep metric (optional; the worker's
    # context feeds it from ``log`` automatically, so families need not call it)


def check_stop(ctx: RunContext) -> None:
    """Raise ``RunCancelled`` when the run was asked to stop; call at batch or epoch ends."""
    if ctx.should_stop():
        raise RunCancelled("cancelled on request")


class EvaluationRefused(ValueError):
    """An evaluation that cannot run as asked (another family's model, a dataset of the wrong
    kind or task, a split the dataset lacks); the message names the value."""


@runtime_checkable
class EvalContext(Protocol):
    """What a family's evaluator is handed: where to write its artifact files, the device, a
    progress sink and a stop flag. Like a ``RunContext`` it may carry ``stores`` (read it with
    ``getattr(ctx, "stores", None)``)."""
    out_dir: Path
    device: str

    def progress(self, done: int, total: int, phase: str = "evaluate") -> None: ...
    def should_stop(self) -> bool: ...


@dataclass
class EvalResult:
    """An evaluation's outcome: ``metrics`` named as the trainer names them for the same split
    (``test/mAP50-95``, ``val/loss``, ...), ``tables`` of breakdowns (name → rows of plain data:
    per patient, per category), and ``artifacts``: the files it wrote under ``ctx.out_dir``."""
    metrics: dict[str, float] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    artifacts: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class SampleRow:
    """One imported sample as the engine sees it (a copy of its database row, plain data)."""
    id: int
    path: str  # relative to the dataset root
    group_key: str | None = None
    group_value: float | None = None
    label: str | None = None
    split: str | None = None
    flags: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetRef:
    """What a trainer or a gate needs to know of a dataset: where it lives, what kind it is, its
    import summary and (when the caller loaded them) its samples. The worker and the launch path
    load the samples before a family sees the dataset; a family never queries for them."""
    name: str
    kind: str
    root: Path
    id: int | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)
    samples: tuple[SampleRow, ...] = ()


@dataclass
class ModelArtifact:
    """A trained model to register: one artifact, its scope and headline numbers."""
    path: Path
    scope: str = ""
    task: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    threshold: float | None = None


@dataclass
class FitResult:
    """The run's final summary metrics and, when it produced one, the model to register."""
    metrics: dict[str, float] = field(default_factory=dict)
    model: ModelArtifact | None = None


class FamilyConfig(BaseModel):
    """Base of every family's config: unknown keys are errors, never silently ignored, and no
    float may be NaN or infinite (bounds per field are the family's: ``Field(ge=..., le=...)``)."""
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @classmethod
    def expand(cls, data: dict[str, Any], dataset: DatasetRef | None = None) -> list[dict[str, Any]]:
        """The configs (plain data, not validated yet) that one launch of ``data`` creates, one run
        each; a family overrides this to read a launch-level key (anomaly: ``age_groups``).
        ``dataset`` (with its samples) is the dataset launched on, or None. Default: one run."""
        return [data]

    def run_label(self) -> str:
        """What tells this run apart from the others of its launch, used in its name ("anomaly
        3-6"); a family whose runs register models per scope returns that scope. Default: none."""
        return ""


@dataclass(frozen=True)
class Headline:
    """A metric that decides between models: its name as logged, whether higher or lower is
    better, and how pages label it. The first of a family's headlines is the one that ranks."""
    name: str
    direction: str = "max"  # "max" or "min"; "" for a number shown but never compared (a threshold)
    label: str = ""
    task: str | None = None  # only for this task (e.g. top1 for classify); None: every task

    def better(self, a: float, b: float) -> bool:
        """True when ``a`` is strictly better than ``b`` (never for an informational headline)."""
        if self.direction not in ("max", "min"):
            return False
        return a > b if self.direction == "max" else a < b


class Trainer(ABC):
    """One family's training. Subclasses supply ``fit``; the run lifecycle lives in ``jobs``."""
    family: ClassVar[str]

    def require_dataset(self, dataset: DatasetRef | None) -> DatasetRef:
        """The dataset, when it is an imported one of this family's kind; else a clear error."""
        kind = FAMILIES[self.family].dataset_kind
        if dataset is None or dataset.id is None:
            raise ValueError(f"a {self.family} run needs a dataset of kind {kind!r}")
        if dataset.kind != kind:
            raise ValueError(f"dataset {dataset.name!r} is of kind {dataset.kind!r}; {self.family} runs need {kind!r}")
        return dataset

    @abstractmethod
    def fit(self, config: Any, dataset: DatasetRef | None, ctx: RunContext) -> FitResult:
        """Train one model; return its summary. Stop early (raise ``RunCancelled``) when
        ``ctx.should_stop()`` turns true."""


def _import(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Conformance:
    """How the shared family tests (tests/engine/test_conformance.py) run a family at tiny
    sizes: the sample data to generate, a config that trains for a few seconds, and the metric
    it logs at known steps (so a cancelled and resumed run can be checked for duplicate or
    missing steps). Registering a family with one gives it the whole suite."""
    config: Mapping[str, Any]
    step_metric: str
    steps: tuple[int, ...]
    sample_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Family:
    """A registry entry. The config class is light (pages validate with it); the trainer
    module carries the heavy imports and is loaded only by workers and the CLI."""
    key: str
    title: str
    config_path: str
    trainer_path: str
    dataset_kind: str | None = None
    tasks: tuple[str, ...] = ()
    description: str = ""
    gate_path: str | None = None  # "module:fn(dataset: DatasetRef, config) -> list[str]": a pure function
    # of the dataset (summary and samples) and the config giving the reasons to block a launch
    headlines: tuple[Headline, ...] = ()  # the metrics that matter, first = the ranking one
    conformance: Conformance | None = None  # tiny settings for the shared family tests
    # evaluation of a saved model through the library's own evaluator (None: the family has none):
    # "module:fn(model: VerifiedFile, dataset: DatasetRef, split: str, ctx: EvalContext,
    # options: Mapping) -> EvalResult"; heavy imports allowed there (it runs on a worker)
    evaluator_path: str | None = None
    # "module:fn(dataset: DatasetRef, task: str | None) -> tuple[str, ...]": a light, pure function
    # giving the splits a model of ``task`` can be evaluated on in this dataset; it raises
    # ``EvaluationRefused`` naming the task when the dataset's task does not fit
    eval_splits_path: str | None = None

    predict_path: str | None = None  # module with predict (and load) for the scoring lane;
    # default engine.families.<key>.predict

    @property
    def predict_module(self) -> str:
        return self.predict_path or f"engine.families.{self.key}.predict"

    def headlines_for(self, task: str | None) -> tuple[Headline, ...]:
        """The headlines that apply to ``task`` (task-specific ones replace general ones)."""
        return tuple(h for h in self.headlines if h.task is None or h.task == task)

    def launch_blockers(self, dataset: DatasetRef | None, config: FamilyConfig) -> list[str]:
        """Why this config must not launch on this dataset (too few samples, ...); [] when fine.
        ``dataset`` carries its samples (``jobs.inputs.dataset_ref`` loads them)."""
        if not self.gate_path or dataset is None:
            return []
        return list(_import(self.gate_path)(dataset, config))

    def require_launchable(self, dataset: DatasetRef | None, config: FamilyConfig, *, override: bool = False) -> list[str]:
        """Raise ``LaunchBlocked`` when the gate refuses and ``override`` is false; return the
        reasons (empty when the gate is happy) so an overridden launch can report them."""
        reasons = self.launch_blockers(dataset, config)
        if reasons and not override:
            raise LaunchBlocked(self.key, reasons)
        return reasons

    def evaluation_splits(self, dataset: DatasetRef, task: str | None = None) -> tuple[str, ...]:
        """The splits of ``dataset`` a model of this family (and ``task``) can be evaluated on;
        ``EvaluationRefused`` when the family has no evaluator or the dataset does not fit."""
        if not self.evaluator_path:
            raise EvaluationRefused(f"the {self.key} family has no evaluator")
        if self.dataset_kind and dataset.kind != self.dataset_kind:
            raise EvaluationRefused(f"dataset {dataset.name!r} is of kind {dataset.kind!r}; {self.key} models "
                                    f"evaluate on {self.dataset_kind!r} datasets")
        if not self.eval_splits_path:
            return ("test",)
        return tuple(_import(self.eval_splits_path)(dataset, task))

    def evaluate(self, model: VerifiedFile, dataset: DatasetRef, split: str, ctx: EvalContext,
                 options: Mapping[str, Any] | None = None) -> EvalResult:
        """Evaluate a verified model file on ``split`` of ``dataset`` with the family's evaluator."""
        if not self.evaluator_path:
            raise EvaluationRefused(f"the {self.key} family has no evaluator")
        return _import(self.evaluator_path)(model, dataset, split, ctx, dict(options or {}))

    def ranking(self, task: str | None, split: str) -> Headline | None:
        """The headline that ranks evaluations on ``split``: the family's first comparable one
        for ``task``, its split prefix replaced by ``split`` (``val/mAP50-95`` → ``test/mAP50-95``)."""
        for h in self.headlines_for(task):
            if h.direction in ("max", "min"):
                name = f"{split}/{h.name.split('/', 1)[1]}" if "/" in h.name else h.name
                label = h.label
                for word in ("val ", "test "):  # "val reconstruction loss" → "test reconstruction loss"
                    if label.startswith(word):
                        label = f"{split} {label[len(word):]}"
                return Headline(name, h.direction, label, h.task)
        return None

    @property
    def config_model(self) -> type[FamilyConfig]:
        return _import(self.config_path)

    def trainer(self) -> Trainer:
        return _import(self.trainer_path)()


class UnknownKeyError(KeyError):
    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


UnknownFamilyError = UnknownKeyError


class Registry(Mapping[str, T]):
    """A small registry: ``REG["key"]``; an unknown key raises with the list of valid keys."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def register(self, item: T) -> T:
        self._items[item.key] = item
        return item

    def unregister(self, key: str) -> None:
        self._items.pop(key, None)

    def __getitem__(self, key: str) -> T:
        try:
            return self._items[key]
        except KeyError:
            valid = ", ".join(sorted(self._items)) or "(none registered)"
            raise UnknownKeyError(f"unknown {self.what} {key!r}; valid: {valid}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


FAMILIES: Registry[Family] = Registry("family")
