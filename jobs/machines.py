"""Which machines serve training, and what they have: each training worker registers its host,
its GPUs (name, memory) and free memory in Redis and beats every few seconds; a registration
nobody renews expires (``TTL_S``), so a machine that disappears drops off by itself.

The queue a run goes to says what it needs (``run_queue``): ``default`` for a run that needs no
GPU, ``default-gpu2`` for one that needs a worker seeing two GPUs, and so on per priority. A
worker that sees ``G`` GPUs listens to the GPU queues it can serve (``gpuG`` down to ``gpu1``)
and then the CPU ones, highest priority first (``worker_queues``); a CPU worker listens to the
CPU queues only, so it never takes a GPU run, and a two-GPU run waits for a worker with two.

GPU facts come from NVML (nvidia-ml-py), which never initialises CUDA, so a worker can read them
before it forks its work horses.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from jobs.connection import QUEUE_NAMES, get_redis

log = logging.getLogger("trainyard.machines")

__all__ = ["GpuInfo", "Machine", "TTL_S", "BEAT_S", "KEY_PREFIX", "MAX_GPU_QUEUE", "run_queue", "worker_queues",
           "gpu_queue_names", "parse_gpus", "pin_gpus", "describe_gpus", "register", "unregister", "machines",
           "Heartbeat", "placement_problem", "queue_level"]

KEY_PREFIX = "trainyard:machine:"
TTL_S = 30  # a registration not renewed this long is gone
BEAT_S = 10
MAX_GPU_QUEUE = 16  # GPU queues exist for runs needing 1..16 visible GPUs


def run_queue(priority: str, visible: int) -> str:
    """The queue of a run of ``priority`` that needs a worker seeing ``visible`` GPUs."""
    if priority not in QUEUE_NAMES:
        raise ValueError(f"unknown priority {priority!r}; choose one of {', '.join(QUEUE_NAMES)}")
    if visible <= 0:
        return priority
    if visible > MAX_GPU_QUEUE:
        raise ValueError(f"a run needing {visible} GPUs on one worker: at most {MAX_GPU_QUEUE} are served")
    return f"{priority}-gpu{visible}"


def queue_level(name: str) -> int:
    """GPUs a worker must see for queue ``name`` (0 for a CPU queue); ``ValueError`` if unknown."""
    priority, _, gpu = name.partition("-gpu")
    if priority in QUEUE_NAMES and (not gpu or (gpu.isdigit() and 1 <= int(gpu) <= MAX_GPU_QUEUE)):
        return int(gpu or 0)
    raise ValueError(f"unknown queue {name!r}")


def gpu_queue_names() -> tuple[str, ...]:
    return tuple(run_queue(p, n) for p in QUEUE_NAMES for n in range(1, MAX_GPU_QUEUE + 1))


def worker_queues(gpus: int, *, cpu_runs: bool = True) -> list[str]:
    """The queues a worker seeing ``gpus`` GPUs listens to, in order: per priority, the runs
    needing the most GPUs it can serve first, then (``cpu_runs``) those needing none."""
    out: list[str] = []
    for priority in QUEUE_NAMES:
        out += [run_queue(priority, n) for n in range(min(gpus, MAX_GPU_QUEUE), 0, -1)]
        if cpu_runs or not gpus:
            out.append(priority)
    return out


# ---- GPUs of this machine ------------------------------------------------------------------------


def _nvml():
    try:
        import pynvml

        pynvml.nvmlInit()
        return pynvml
    except Exception:  # no nvidia-ml-py, no driver: no GPU we can see
        return None


def _physical_count() -> int:
    nv = _nvml()
    if nv is not None:
        try:
            return int(nv.nvmlDeviceGetCount())
        except Exception:
            return 0
    return 0


def parse_gpus(text: str | None, *, available: int | None = None) -> list[int]:
    """``--gpus``: ``None``/"" → [] (a CPU worker), ``all`` → every GPU NVML sees, ``0,1`` →
    those (checked against what the machine has when it is known). ``ValueError`` names a bad
    value."""
    if text is None or not str(text).strip() or str(text).strip().lower() in ("none", "cpu"):
        return []
    text = str(text).strip().lower()
    count = _physical_count() if available is None else available
    if text == "all":
        if count == 0:
            raise ValueError("--gpus all: this machine has no GPU that NVML can see (no driver or no nvidia-ml-py)")
        return list(range(count))
    try:
        indices = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise ValueError(f"--gpus {text!r}: give all, or GPU indices such as 0,1") from None
    if any(i < 0 for i in indices) or len(set(indices)) != len(indices) or not indices:
        raise ValueError(f"--gpus {text!r}: give distinct GPU indices such as 0,1")
    if count and any(i >= count for i in indices):
        raise ValueError(f"--gpus {text!r}: this machine has {count} GPU(s) (indices 0-{count - 1})")
    return indices


def pin_gpus(indices: list[int], env: dict[str, str] | None = None) -> dict[str, str]:
    """Pin a process (``env``, default this one's) to the physical GPUs ``indices`` through
    ``CUDA_VISIBLE_DEVICES`` (an empty value: no GPU at all), numbered as NVML numbers them
    (``CUDA_DEVICE_ORDER=PCI_BUS_ID``). Call before torch initialises CUDA."""
    env = os.environ if env is None else env
    env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
    env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, indices))
    return env


@dataclass(frozen=True)
class GpuInfo:
    index: int  # as the worker's runs see it (0..G-1)
    physical: int  # NVML's index on the machine
    name: str = ""
    memory_total_mb: float | None = None
    memory_free_mb: float | None = None


def describe_gpus(indices: list[int]) -> list[GpuInfo]:
    """Name and memory of each pinned GPU by NVML (no CUDA initialisation); bare entries when
    NVML cannot tell."""
    nv = _nvml()
    out = []
    for visible, physical in enumerate(indices):
        info = GpuInfo(visible, physical)
        if nv is not None:
            try:
                handle = nv.nvmlDeviceGetHandleByIndex(physical)
                name = nv.nvmlDeviceGetName(handle)
                mem = nv.nvmlDeviceGetMemoryInfo(handle)
                info = GpuInfo(visible, physical, name.decode() if isinstance(name, bytes) else str(name),
                               mem.total / 2**20, mem.free / 2**20)
            except Exception:
                pass
        out.append(info)
    return out


# ---- the registry in Redis ---------------------------------------------------------------------


@dataclass
class Machine:
    """One registered worker: where it runs, what it has, what it listens to."""
    worker: str
    host: str
    pid: int
    gpus: list[GpuInfo] = field(default_factory=list)
    ram_total_mb: float = 0.0
    ram_free_mb: float = 0.0
    queues: list[str] = field(default_factory=list)
    started_at: float = 0.0
    beat_at: float = 0.0

    @property
    def gpu_count(self) -> int:
        return len(self.gpus)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> "Machine":
        data = json.loads(text)
        data["gpus"] = [GpuInfo(**g) for g in data.get("gpus", [])]
        return cls(**data)


def _memory() -> tuple[float, float]:
    import psutil

    vm = psutil.virtual_memory()
    return vm.total / 2**20, vm.available / 2**20


def register(worker: str, *, gpus: list[int], queues: list[str], connection=None,
             started_at: float | None = None) -> Machine:
    """Write (or renew) this worker's registration with a ``TTL_S`` expiry; returns it."""
    total, free = _memory()
    now = time.time()
    machine = Machine(worker=worker, host=socket.gethostname(), pid=os.getpid(), gpus=describe_gpus(gpus),
                      ram_total_mb=total, ram_free_mb=free, queues=list(queues),
                      started_at=started_at or now, beat_at=now)
    (connection or get_redis()).set(KEY_PREFIX + worker, machine.to_json(), ex=TTL_S)
    return machine


def unregister(worker: str, *, connection=None) -> None:
    (connection or get_redis()).delete(KEY_PREFIX + worker)


def machines(*, connection=None) -> list[Machine]:
    """Every live registration (expired ones are gone by themselves), by host then worker."""
    conn = connection or get_redis()
    out = []
    for key in conn.scan_iter(match=KEY_PREFIX + "*", count=200):
        text = conn.get(key)
        if text:
            try:
                out.append(Machine.from_json(text))
            except (ValueError, TypeError):
                log.warning("unreadable machine registration %s", key)
    return sorted(out, key=lambda m: (m.host, m.worker))


class Heartbeat:
    """Renews a worker's registration every ``BEAT_S`` from a daemon thread; removes it on stop."""

    def __init__(self, worker: str, *, gpus: list[int], queues: list[str], beat_s: float = BEAT_S) -> None:
        self.worker, self.gpus, self.queues, self.beat_s = worker, gpus, queues, beat_s
        self.started_at = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="machine-heartbeat", daemon=True)

    def beat(self) -> Machine:
        return register(self.worker, gpus=self.gpus, queues=self.queues, started_at=self.started_at)

    def _loop(self) -> None:
        while not self._stop.wait(self.beat_s):
            try:
                self.beat()
            except Exception:  # Redis away for a moment: the next beat tries again
                log.warning("could not renew the registration of %s", self.worker, exc_info=True)

    def start(self) -> "Heartbeat":
        self.beat()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            unregister(self.worker)
        except Exception:
            pass


# ---- can anyone take it? -------------------------------------------------------------------------


def placement_problem(device: str, gpus: int | None, *, connection=None) -> str | None:
    """Why no connected worker can take a run asking for ``device`` / ``gpus`` (None when one
    can, or when the run needs no GPU), worded to follow the field's name (``gpus`` when given,
    else ``device``). Reads the live registrations."""
    from engine.devices import needed_gpus, parse_device, required_visible

    need, visible = needed_gpus(device, gpus), required_visible(device, gpus)
    if visible == 0:
        return None
    spec = parse_device(device)
    registered = machines(connection=connection)
    if any(m.gpu_count >= visible for m in registered):
        return None
    have = ", ".join(f"{m.worker} on {m.host}: {m.gpu_count} GPU(s)" for m in registered) or "none"
    if spec.indices and max(spec.indices) + 1 > need:
        want = f"{spec.text!r} needs a worker that sees at least {visible} GPUs (it names GPU {max(spec.indices)})"
    elif gpus is not None:
        want = f"{need} needs a worker with at least {visible} GPU(s) (device: {spec.text})"
    else:
        want = f"{spec.text!r} needs a worker with at least {visible} GPU(s)"
    return (f"{want}; no connected worker has that many (connected: {have}). Start one with "
            f"`python -m jobs.worker --gpus all` on a machine that has them, or change device/gpus")


def summary(machine: Machine) -> dict[str, Any]:
    """A plain row for a table: host, worker, GPUs and memory."""
    gpus = "; ".join(f"{g.index}: {g.name or 'GPU'}" + (f" ({g.memory_free_mb / 1024:.1f}/"
                                                          f"{g.memory_total_mb / 1024:.1f} GiB free)"
                                                          if g.memory_total_mb else "")
                     for g in machine.gpus) or "none (CPU worker)"
    return {"host": machine.host, "worker": machine.worker, "GPUs": gpus,
            "RAM free (GiB)": round(machine.ram_free_mb / 1024, 1),
            "RAM total (GiB)": round(machine.ram_total_mb / 1024, 1)}
