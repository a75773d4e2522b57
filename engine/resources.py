"""Resource sampling during a run: the machine's CPU and RAM and the run process's own (psutil),
every visible GPU's utilisation, memory, temperature and power and the run's own GPU memory
(NVML, when nvidia-ml-py and a driver are present), and the free disk space of the home and
artifact folders.

"Visible" GPUs are those ``CUDA_VISIBLE_DEVICES`` names (by index; a worker started with
``--gpus`` sets it, numbered as NVML numbers them), or every GPU when it is unset. NVML never
initialises CUDA.
"""
from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

__all__ = ["GpuReading", "ResourceReading", "ResourceSampler", "ResourceTotals", "read_resources", "visible_gpu_indices",
           "disk_free_gb", "default_disk_paths"]


@dataclass(frozen=True)
class GpuReading:
    index: int  # as the run sees it (0..n-1 among the visible ones)
    name: str = ""
    util_percent: float | None = None
    mem_used_mb: float | None = None
    mem_total_mb: float | None = None
    temp_c: float | None = None
    power_w: float | None = None
    proc_mem_mb: float | None = None  # what the run's processes hold on it

    @property
    def mem_percent(self) -> float | None:
        if self.mem_used_mb is None or not self.mem_total_mb:
            return None
        return 100.0 * self.mem_used_mb / self.mem_total_mb


@dataclass(frozen=True)
class ResourceReading:
    cpu_percent: float  # the machine
    ram_percent: float  # the machine
    ram_mb: float  # the run's process tree, resident
    gpu_percent: float | None = None  # the busiest visible GPU
    gpu_mem_percent: float | None = None  # the fullest visible GPU
    proc_cpu_percent: float | None = None  # the run's process tree (100 = one core)
    gpu_proc_mem_mb: float | None = None  # the run's processes, summed over the visible GPUs
    disk_home_free_gb: float | None = None
    disk_artifacts_free_gb: float | None = None
    gpus: tuple[dict[str, Any], ...] = field(default_factory=tuple)  # one GpuReading (as a dict) per GPU

    def as_row(self) -> dict[str, Any]:
        """The fields of a ``ResourceSample`` row (``gpus`` as a list of plain dicts)."""
        row = asdict(self)
        row["gpus"] = [dict(g) for g in self.gpus] or None
        return row


def visible_gpu_indices(count: int, env: dict[str, str] | None = None) -> list[int]:
    """NVML indices of the GPUs this process may use: those ``CUDA_VISIBLE_DEVICES`` lists by
    index (empty: none), all ``count`` when it is unset or names GPUs by UUID."""
    value = (os.environ if env is None else env).get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return list(range(count))
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts:
        return []
    if not all(p.isdigit() for p in parts):
        return list(range(count))
    return [int(p) for p in parts if int(p) < count]


class _Nvml:
    """NVML handles of the visible GPUs, or nothing when the library or a GPU is absent."""

    def __init__(self) -> None:
        self.handles: list[Any] = []
        self.names: list[str] = []
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
            for physical in visible_gpu_indices(int(pynvml.nvmlDeviceGetCount())):
                handle = pynvml.nvmlDeviceGetHandleByIndex(physical)
                name = pynvml.nvmlDeviceGetName(handle)
                self.handles.append(handle)
                self.names.append(name.decode() if isinstance(name, bytes) else str(name))
        except Exception:  # no driver, no GPU, or no nvidia-ml-py: CPU-only machine
            self.handles = []

    @property
    def handle(self) -> Any:  # the first visible GPU (older callers)
        return self.handles[0] if self.handles else None

    @staticmethod
    def _value(fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception:  # a reading this GPU does not support (power on some boards)
            return None

    def read_all(self, pids: set[int] | None = None) -> list[GpuReading]:
        nv, out = getattr(self, "_nvml", None), []
        for i, (handle, name) in enumerate(zip(self.handles, self.names)):
            util = self._value(lambda h: float(nv.nvmlDeviceGetUtilizationRates(h).gpu), handle)
            mem = self._value(nv.nvmlDeviceGetMemoryInfo, handle)
            temp = self._value(lambda h: float(nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU)), handle)
            power = self._value(lambda h: nv.nvmlDeviceGetPowerUsage(h) / 1000.0, handle)
            proc = None
            if pids:
                procs = self._value(nv.nvmlDeviceGetComputeRunningProcesses, handle) or []
                held = [p.usedGpuMemory for p in procs if p.pid in pids and p.usedGpuMemory is not None]
                proc = sum(held) / 2**20 if held else 0.0
            out.append(GpuReading(i, name, util, None if mem is None else mem.used / 2**20,
                                  None if mem is None else mem.total / 2**20, temp, power, proc))
        return out

    def read(self) -> tuple[float | None, float | None]:
        """Utilisation and memory % of the busiest / fullest visible GPU."""
        readings = self.read_all()
        utils = [g.util_percent for g in readings if g.util_percent is not None]
        mems = [g.mem_percent for g in readings if g.mem_percent is not None]
        return (max(utils) if utils else None), (max(mems) if mems else None)


def disk_free_gb(path: Path | str | None) -> float | None:
    """Free space where ``path`` lives (its nearest existing parent), GB; None if unreadable."""
    if path is None:
        return None
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free / 1e9
    except OSError:
        return None


def default_disk_paths() -> tuple[Path | None, Path | None]:
    """The home and artifact folders of the settings (None, None if they cannot be read)."""
    try:
        from settings import get_settings

        s = get_settings()
        return s.resolved_home, s.resolved_artifacts_dir
    except Exception:
        return None, None


def _tree(process: psutil.Process) -> list[psutil.Process]:
    try:
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return [process]


_CPU_PROCS: dict[tuple[int, float], psutil.Process] = {}  # cpu_percent counts from the previous call of *that* object


def _cpu_percent(proc: psutil.Process) -> float:
    key = (proc.pid, proc.create_time())
    return _CPU_PROCS.setdefault(key, proc).cpu_percent(interval=None)


def read_resources(process: psutil.Process | None = None, nvml: _Nvml | None = None, *,
                   disks: Sequence[Path | None] | None = None,
                   cpu_of: Callable[[psutil.Process], float] | None = None) -> ResourceReading:
    """One reading: machine CPU and RAM, this process tree's resident memory and CPU, every
    visible GPU, and free disk in ``disks`` (home, artifacts; default from the settings)."""
    process = process or psutil.Process()
    procs = _tree(process)
    rss, cpu, alive = 0, 0.0, set()
    for proc in procs:
        try:
            rss += proc.memory_info().rss
            cpu += (cpu_of or _cpu_percent)(proc)
            alive.add((proc.pid, proc.create_time()))
        except psutil.Error:
            pass
    if cpu_of is None:
        for key in [k for k in _CPU_PROCS if k not in alive]:
            del _CPU_PROCS[key]
    nvml = nvml or _Nvml()
    gpus = nvml.read_all({p.pid for p in procs})
    utils = [g.util_percent for g in gpus if g.util_percent is not None]
    mems = [g.mem_percent for g in gpus if g.mem_percent is not None]
    held = [g.proc_mem_mb for g in gpus if g.proc_mem_mb is not None]
    home, artifacts = disks if disks is not None else default_disk_paths()
    return ResourceReading(
        cpu_percent=psutil.cpu_percent(interval=None),
        ram_percent=psutil.virtual_memory().percent,
        ram_mb=rss / 2**20,
        gpu_percent=max(utils) if utils else None,
        gpu_mem_percent=max(mems) if mems else None,
        proc_cpu_percent=cpu,
        gpu_proc_mem_mb=sum(held) if held else None,
        disk_home_free_gb=disk_free_gb(home),
        disk_artifacts_free_gb=disk_free_gb(artifacts),
        gpus=tuple(asdict(g) for g in gpus),
    )


@dataclass
class ResourceTotals:
    """A run's resource summary, folded from its readings: peak RAM of its processes, peak GPU
    memory (its own where NVML tells, else the fullest visible GPU's use), and GPU-hours (time
    × the GPUs it trains on)."""
    gpus_used: int = 0
    peak_ram_mb: float = 0.0
    peak_gpu_mem_mb: float | None = None
    gpu_hours: float = 0.0
    samples: int = 0
    _last: float | None = None

    def add(self, reading: ResourceReading, *, at: float | None = None) -> None:
        now = time.monotonic() if at is None else at
        if self._last is not None and self.gpus_used:
            self.gpu_hours += (now - self._last) * self.gpus_used / 3600.0
        self._last = now
        self.samples += 1
        self.peak_ram_mb = max(self.peak_ram_mb, float(reading.ram_mb))
        gpu_mem = reading.gpu_proc_mem_mb
        if gpu_mem is None and reading.gpus:
            used = [g.get("mem_used_mb") for g in reading.gpus if g.get("mem_used_mb") is not None]
            gpu_mem = max(used) if used else None
        if gpu_mem is not None:
            self.peak_gpu_mem_mb = max(self.peak_gpu_mem_mb or 0.0, float(gpu_mem))

    def summary(self) -> dict[str, Any]:
        return {"peak_ram_mb": round(self.peak_ram_mb, 1),
                "peak_gpu_mem_mb": None if self.peak_gpu_mem_mb is None else round(self.peak_gpu_mem_mb, 1),
                "gpu_hours": round(self.gpu_hours, 6), "gpus": self.gpus_used, "samples": self.samples}


class ResourceSampler:
    """Calls ``sink(reading)`` every ``interval`` seconds from a daemon thread until stopped.

    Use as a context manager around training. The sink also serves as the run's heartbeat.
    """

    def __init__(self, sink: Callable[[ResourceReading], None], interval: float = 5.0) -> None:
        self.sink = sink
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="resource-sampler", daemon=True)

    def _loop(self) -> None:
        process, nvml = psutil.Process(), _Nvml()
        disks = default_disk_paths()
        psutil.cpu_percent(interval=None)  # the first call only primes the counters
        for proc in _tree(process):
            try:
                _cpu_percent(proc)
            except psutil.Error:
                pass
        while not self._stop.wait(self.interval):
            try:
                self.sink(read_resources(process, nvml, disks=disks))
            except Exception:  # a failed sample must never kill the run
                pass

    def __enter__(self) -> "ResourceSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)
