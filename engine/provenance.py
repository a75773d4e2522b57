"""What produced a run, as plain data: the code (git commit and whether the tree was dirty),
Python and the installed packages (with one digest over the set), the machine (host, CPU,
GPUs, CUDA and driver versions when present); and the differences between two such records.

Nothing here touches CUDA: GPUs are read through NVML, CUDA's version is the one torch was
built with (``torch.version.cuda``), read only when torch is already imported.
"""
from __future__ import annotations

import hashlib
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["ROOT", "code_version", "packages", "packages_digest", "environment", "machine", "flatten", "diff"]

ROOT = Path(__file__).resolve().parents[1]
GIT_TIMEOUT_S = 10


def _git(*args: str, root: Path) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=GIT_TIMEOUT_S,
                          check=True).stdout.strip()


def code_version(root: Path = ROOT) -> dict[str, Any]:
    """The commit checked out at ``root`` and whether tracked or untracked (not ignored) files
    differ from it; ``commit`` is None (with the reason) outside a git checkout."""
    try:
        commit = _git("rev-parse", "HEAD", root=root)
        changed = [line for line in _git("status", "--porcelain", root=root).splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError) as exc:
        reason = exc.stderr.strip() if isinstance(exc, subprocess.CalledProcessError) and exc.stderr else str(exc)
        return {"commit": None, "dirty": None, "error": reason.splitlines()[0] if reason else "git failed"}
    try:
        branch = _git("rev-parse", "--abbrev-ref", "HEAD", root=root)
    except (OSError, subprocess.SubprocessError):
        branch = None
    return {"commit": commit, "dirty": bool(changed), "changed_files": len(changed), "branch": branch}


@lru_cache(maxsize=1)
def packages() -> dict[str, str]:
    """Every installed distribution, lower-cased name → version (cached: the set of a running
    process does not change)."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = (dist.metadata.get("Name") or "").strip()
        if name:
            found.setdefault(name.lower().replace("_", "-"), dist.version)
    return dict(sorted(found.items()))


def packages_digest(pkgs: Mapping[str, str]) -> str:
    """sha256 of the sorted ``name==version`` lines: equal digests, equal installed sets."""
    text = "\n".join(f"{name}=={version}" for name, version in sorted(pkgs.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def environment() -> dict[str, Any]:
    pkgs = packages()
    return {"python": platform.python_version(), "implementation": platform.python_implementation(),
            "executable": sys.executable, "packages": pkgs, "packages_count": len(pkgs),
            "packages_sha256": packages_digest(pkgs)}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpus() -> tuple[list[dict[str, Any]], str | None]:
    """GPUs NVML sees (name, memory) and the driver version; nothing without NVML or a GPU."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return [], None
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(handle)
            gpus.append({"index": i, "name": name.decode() if isinstance(name, bytes) else str(name),
                         "memory_mb": round(pynvml.nvmlDeviceGetMemoryInfo(handle).total / 2**20)})
        return gpus, driver.decode() if isinstance(driver, bytes) else str(driver)
    except Exception:
        return [], None
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass


def machine() -> dict[str, Any]:
    """Host name, OS, CPU model and count, memory, GPUs, driver and CUDA versions."""
    try:
        import psutil

        memory_mb = round(psutil.virtual_memory().total / 2**20)
    except Exception:
        memory_mb = None
    gpus, driver = _gpus()
    torch = sys.modules.get("torch")
    cuda = getattr(getattr(torch, "version", None), "cuda", None) if torch is not None else None
    return {"host": socket.gethostname(), "os": platform.platform(), "cpu": _cpu_model(),
            "cpu_count": os.cpu_count(), "memory_mb": memory_mb, "gpus": gpus, "gpu_driver": driver,
            "cuda": cuda}


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys (``config.lr``, ``packages.torch``); lists stay values."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def diff(a: Mapping[str, Any], b: Mapping[str, Any], *, ignore: tuple[str, ...] = ()) -> list[tuple[str, Any, Any]]:
    """``(key, a's value, b's value)`` for every dotted key whose values differ (a missing key
    reads None), sorted by key; keys starting with one of ``ignore`` are left out."""
    fa, fb = flatten(a), flatten(b)
    rows = []
    for key in sorted(set(fa) | set(fb)):
        if ignore and key.startswith(ignore):
            continue
        if fa.get(key) != fb.get(key):
            rows.append((key, fa.get(key), fb.get(key)))
    return rows
