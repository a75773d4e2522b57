"""Resource sampling during a run: CPU and RAM by psutil, GPU by NVML when present."""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class ResourceReading:
    cpu_percent: float
    ram_percent: float
    ram_mb: float
    gpu_percent: float | None = None
    gpu_mem_percent: float | None = None


class _Nvml:
    """NVML handle for GPU 0, or nothing when the library or a GPU is absent."""

    def __init__(self) -> None:
        self.handle = None
        try:
            import pynvml

            pynvml.nvmlInit()
            if pynvml.nvmlDeviceGetCount() > 0:
                self._nvml = pynvml
                self.handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        except Exception:  # no driver, no GPU, or no nvidia-ml-py: CPU-only machine
            self.handle = None

    def read(self) -> tuple[float | None, float | None]:
        if self.handle is None:
            return None, None
        try:
            util = self._nvml.nvmlDeviceGetUtilizationRates(self.handle)
            mem = self._nvml.nvmlDeviceGetMemoryInfo(self.handle)
            return float(util.gpu), 100.0 * mem.used / max(mem.total, 1)
        except Exception:
            return None, None


def read_resources(process: psutil.Process | None = None, nvml: _Nvml | None = None) -> ResourceReading:
    """One reading: machine CPU and RAM use, this process tree's resident memory, GPU 0."""
    process = process or psutil.Process()
    rss = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            rss += proc.memory_info().rss
        except psutil.Error:
            pass
    gpu, gpu_mem = (nvml or _Nvml()).read()
    return ResourceReading(
        cpu_percent=psutil.cpu_percent(interval=None),
        ram_percent=psutil.virtual_memory().percent,
        ram_mb=rss / 2**20,
        gpu_percent=gpu,
        gpu_mem_percent=gpu_mem,
    )


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
        psutil.cpu_percent(interval=None)  # the first call only primes the counter
        while not self._stop.wait(self.interval):
            try:
                self.sink(read_resources(process, nvml))
            except Exception:  # a failed sample must never kill the run
                pass

    def __enter__(self) -> "ResourceSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)
