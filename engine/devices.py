"""Devices: what a config may ask for, what a run needs, and where it trains.

A config's ``device`` is one of ``auto`` (CUDA, then Apple MPS, then the CPU), ``cpu``, ``mps``,
``cuda`` (the first GPU the worker sees), ``cuda:N`` (its GPU ``N``; a bare ``N`` means the same)
or a list of GPU indices such as ``0,1`` (one run on several GPUs, where the family's library
can). Indices count the GPUs *the worker sees*: a worker started with ``--gpus 2,3`` sees them
as 0 and 1 (``CUDA_VISIBLE_DEVICES``).

``gpus`` (0, 1 or N) is what a run needs from a worker; when a config leaves it out it is derived
from ``device`` (``needed_gpus``). The queue a run goes to is chosen by ``required_visible``: the
number of GPUs a worker must see to serve it (``cuda:3`` needs a worker with four).

This module imports torch only inside ``resolve_device`` / ``plan_devices`` (which run in the
training process), so configs and pages can use the parsing without it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

__all__ = ["DEVICES", "DEVICE_HELP", "GPUS_HELP", "AMP_HELP", "MAX_GPUS", "DeviceSpec", "DevicePlan",
           "DeviceUnavailable", "DeviceStr", "device_field", "gpus_field",
           "parse_device", "normalise_device", "needed_gpus", "required_visible",
           "check_device_fields", "run_needs", "resolve_device", "plan_devices", "wrap_data_parallel", "cuda_device_count"]

DEVICES = ("auto", "cpu", "cuda", "mps")  # the named choices; cuda:N and index lists come on top
MAX_GPUS = 64
DEVICE_HELP = ("where to train: auto (CUDA, then MPS, then CPU), cpu, mps, cuda (the worker's first GPU), "
               "cuda:N (its GPU N) or GPU indices such as 0,1 (one run on several GPUs)")
GPUS_HELP = ("GPUs the run needs from a worker (0: none; empty: from device: cuda or cuda:N is 1, "
             "a list of indices its length); the run waits for a worker with that many")
AMP_HELP = "mixed precision on CUDA (ignored on CPU and MPS)"

_CUDA_N = re.compile(r"^(?:cuda:)?(\d+)$")
_LIST = re.compile(r"^(?:cuda:)?\d+(?:\s*,\s*\d+)*\s*,?$")


class DeviceUnavailable(RuntimeError):
    """The device a run asks for is not on this worker (no CUDA, fewer GPUs, no MPS)."""


@dataclass(frozen=True)
class DeviceSpec:
    """A parsed ``device``: its kind and, for GPUs named by index, the indices (empty: the
    default ones)."""
    kind: str  # auto | cpu | mps | cuda
    indices: tuple[int, ...] = ()

    @property
    def text(self) -> str:
        """The canonical spelling: ``cuda:1`` for one index, ``0,1`` for several."""
        if self.kind != "cuda" or not self.indices:
            return self.kind
        if len(self.indices) == 1:
            return f"cuda:{self.indices[0]}"
        return ",".join(map(str, self.indices))


def parse_device(value: Any) -> DeviceSpec:
    """``"cuda:1"`` → ``DeviceSpec("cuda", (1,))``; ``"0,1"`` → ``DeviceSpec("cuda", (0, 1))``.
    Raises ``ValueError`` naming the value when it is none of the accepted forms."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"device must be a string such as auto, cpu, cuda:0 or 0,1 (got {value!r})")
    text = str(value).strip().lower()
    if text in DEVICES:
        return DeviceSpec(text)
    m = _CUDA_N.match(text)
    if m is None and _LIST.match(text):
        body = text.removeprefix("cuda:")
        indices = tuple(int(p) for p in body.split(",") if p.strip())
    elif m is not None:
        indices = (int(m.group(1)),)
    else:
        raise ValueError(f"device {value!r} is not one of auto, cpu, mps, cuda, cuda:N or a list of GPU indices "
                         f"such as 0,1")
    if any(i >= MAX_GPUS for i in indices):
        raise ValueError(f"device {value!r}: GPU indices go from 0 to {MAX_GPUS - 1}")
    if len(set(indices)) != len(indices):
        raise ValueError(f"device {value!r} names a GPU twice")
    return DeviceSpec("cuda", indices)


def normalise_device(value: Any) -> str:
    """The canonical spelling of a valid ``device`` (a pydantic validator)."""
    return parse_device(value).text


def needed_gpus(device: Any, gpus: int | None = None) -> int:
    """GPUs a run needs from a worker: ``gpus`` when given (checked against ``device``), else
    derived from ``device`` (``cpu``/``mps``/``auto``: 0, ``cuda``/``cuda:N``: 1, a list: its
    length). ``ValueError`` names a contradiction (``device: cpu`` with ``gpus: 2``)."""
    spec = parse_device(device)
    if gpus is None:
        return len(spec.indices) if spec.indices else (1 if spec.kind == "cuda" else 0)
    if gpus < 0 or gpus > MAX_GPUS:
        raise ValueError(f"gpus {gpus} is outside 0-{MAX_GPUS}")
    if spec.kind in ("cpu", "mps") and gpus:
        raise ValueError(f"gpus: {gpus} contradicts device: {spec.kind} (use device: cuda or auto)")
    if spec.kind == "cuda" and gpus == 0:
        raise ValueError(f"gpus: 0 contradicts device: {spec.text} (a CUDA run needs a GPU)")
    if spec.indices and gpus != len(spec.indices):
        raise ValueError(f"gpus: {gpus} contradicts device: {spec.text} ({len(spec.indices)} GPU index(es))")
    return gpus


def required_visible(device: Any, gpus: int | None = None) -> int:
    """How many GPUs a worker must see to serve the run: its ``needed_gpus``, or more when the
    device names a higher index (``cuda:3`` needs four)."""
    spec = parse_device(device)
    return max(needed_gpus(device, gpus), max(spec.indices) + 1 if spec.indices else 0)


def check_device_fields(config: Any, *, max_gpus: int = MAX_GPUS) -> None:
    """A family config's ``device`` and ``gpus`` agree (``ValueError`` otherwise); ``max_gpus``
    is what the family's library can use in one run (1 where it has no multi-GPU training)."""
    need = needed_gpus(config.device, getattr(config, "gpus", None))
    if need > max_gpus:
        raise ValueError(f"this family trains on at most {max_gpus} GPU(s) per run "
                         f"(device: {config.device}, gpus: {need})")


def run_needs(config: Any) -> tuple[int, int]:
    """``(gpus the run uses, GPUs a worker must see)`` for any family config (0, 0 without a
    ``device`` field)."""
    device = getattr(config, "device", None)
    if device is None:
        return 0, 0
    gpus = getattr(config, "gpus", None)
    return needed_gpus(device, gpus), required_visible(device, gpus)


def _device_value(value: Any) -> str:
    try:
        return normalise_device(value)
    except ValueError as exc:  # pydantic reports it as the field's error, naming the value
        raise ValueError(str(exc)) from None


DeviceStr = Annotated[str, BeforeValidator(_device_value)]


def device_field(default: str = "auto", description: str = DEVICE_HELP) -> Any:
    """The ``device`` field of a family config (a ``DeviceStr``)."""
    return Field(default, max_length=256, description=description)


def gpus_field() -> Any:
    """The ``gpus`` field of a family config (``int | None``)."""
    return Field(None, ge=0, le=MAX_GPUS, description=GPUS_HELP)


# ---- in the training process ------------------------------------------------------------------


def cuda_device_count() -> int:
    """GPUs this process sees (0 without CUDA). Call only in the training process."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _mps_available() -> bool:
    import torch

    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def resolve_device(requested: str = "auto", *, count: int | None = None) -> str:
    """Map a requested device to one that exists here: ``cpu``, ``mps``, ``cuda``, ``cuda:N`` or
    ``cuda:0,1``. Explicit requests that cannot be met raise ``DeviceUnavailable`` naming the
    value rather than silently falling back. ``count``: the GPUs seen (default: ask torch)."""
    spec = parse_device(requested or "auto")
    if spec.kind == "auto":
        n = cuda_device_count() if count is None else count
        if n:
            return "cuda"
        return "mps" if _mps_available() else "cpu"
    if spec.kind == "cpu":
        return "cpu"
    if spec.kind == "mps":
        if not _mps_available():
            raise DeviceUnavailable("device 'mps' was requested but Apple MPS is not available on this worker")
        return "mps"
    n = cuda_device_count() if count is None else count
    if n == 0:
        raise DeviceUnavailable(f"device {spec.text!r} was requested but CUDA is not available on this worker")
    missing = [i for i in spec.indices if i >= n]
    if missing:
        raise DeviceUnavailable(f"device {spec.text!r} was requested but this worker sees {n} GPU(s) "
                                f"(indices 0-{n - 1})")
    if not spec.indices:
        return "cuda"
    return "cuda:" + ",".join(map(str, spec.indices))


@dataclass(frozen=True)
class DevicePlan:
    """Where one run trains: the kind, the CUDA indices it uses (several: multi-GPU) and whether
    mixed precision is on (CUDA only)."""
    kind: str  # cpu | mps | cuda
    indices: tuple[int, ...] = ()
    amp: bool = False

    @property
    def primary(self) -> str:
        """The torch device of the run's main process: ``cuda:0``, ``cpu``, ``mps``."""
        return f"cuda:{self.indices[0]}" if self.kind == "cuda" else self.kind

    @property
    def multi(self) -> bool:
        return len(self.indices) > 1

    @property
    def cuda(self) -> bool:
        return self.kind == "cuda"

    @property
    def data_parallel_ids(self) -> list[int] | None:
        """The ``device_ids`` of ``torch.nn.DataParallel`` (None: one device, no wrapper)."""
        return list(self.indices) if self.multi else None


def wrap_data_parallel(model: Any, plan: DevicePlan) -> Any:
    """``model`` itself on one device; ``torch.nn.DataParallel`` over the plan's GPUs otherwise
    (its output gathers on the first, ``plan.primary``)."""
    if plan.data_parallel_ids is None:
        return model
    import torch

    return torch.nn.DataParallel(model, device_ids=plan.data_parallel_ids, output_device=plan.indices[0])


def plan_devices(device: str, *, gpus: int | None = None, amp: bool = False, count: int | None = None) -> DevicePlan:
    """The ``DevicePlan`` of a run whose device resolved to ``device`` (``resolve_device``) and
    that needs ``gpus``: ``cuda`` with ``gpus: 2`` trains on GPUs 0 and 1. ``DeviceUnavailable``
    names what is missing (``gpus: 2`` on a worker that sees one GPU, a GPU run on a CPU)."""
    spec = parse_device(device)
    if spec.kind == "auto":
        raise ValueError("plan_devices takes a resolved device (resolve_device first)")
    need = int(gpus or 0)
    if spec.kind != "cuda":
        if need:
            raise DeviceUnavailable(f"gpus: {need} was requested but this worker trains on {spec.kind} "
                                    "(it has no CUDA GPU)")
        return DevicePlan(spec.kind)
    n = cuda_device_count() if count is None else count
    if spec.indices and need and need != len(spec.indices):
        raise DeviceUnavailable(f"gpus: {need} contradicts device: {spec.text}")
    indices = spec.indices or tuple(range(max(need, 1)))  # auto on a GPU worker (gpus 0 or unset): one GPU
    if n < len(indices) or any(i >= n for i in indices):
        raise DeviceUnavailable(f"the run needs GPU(s) {','.join(map(str, indices))} (gpus: {len(indices)}) but "
                                f"this worker sees {n}")
    return DevicePlan("cuda", indices, amp=bool(amp))
