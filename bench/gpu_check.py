"""``make gpu-check`` (``python -m bench.gpu_check``): every built-in family trains one short epoch
on CUDA with mixed precision, on one GPU and, where the machine has two and the family's library
can, on two; then a table: family, device, AMP, seconds, peak GPU memory, pass/fail.

On a machine without CUDA it prints why it skips and exits 0. It uses a fresh Trainyard home in a
temporary folder (its own SQLite database; no Redis, no worker: each case trains through
``jobs.tasks.execute_run`` in a process of its own, ``--case``), with the families' own
sample data at their conformance sizes. Exit status 1 when any case fails.

Ranks other than 0 of a multi-GPU case (Lightning's ``ddp`` starts them by running this same
command again with ``LOCAL_RANK`` set) train with a context that writes nothing, so only rank 0
records the run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("anomaly", "yolo", "reid", "ppo", "transition")
MULTI_GPU = ("anomaly", "yolo", "reid", "transition")  # ppo: stable-baselines3 trains on one device
CASE_TIMEOUT_S = 900
RESULT = "GPU-CHECK-RESULT "

# one short epoch at the conformance sizes (engine/families/<f>/__init__.py), on the device
SHORT = {
    "anomaly": {"epochs": 1, "patience": 0},
    "yolo": {"epochs": 1, "batch": 8, "workers": 0},
    "reid": {"epochs": 1, "eval_freq": 1, "workers": 0, "cpu_threads": 0},
    "ppo": {"total_timesteps": 128, "eval_freq": 128, "checkpoint_freq": 128},
    "transition": {"max_epochs": 1},
}

__all__ = ["cuda_status", "cases", "case_config", "format_table", "main"]


def cuda_status() -> tuple[int, str]:
    """(GPUs torch sees, why there are none: "" when there are some)."""
    try:
        import torch
    except ImportError as exc:
        return 0, f"torch is not installed ({exc})"
    if not torch.cuda.is_available():
        built = torch.version.cuda or "no CUDA build"
        return 0, (f"no CUDA device on this machine (torch {torch.__version__}, {built}; "
                   f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')!r})")
    return torch.cuda.device_count(), ""


def cases(gpus: int) -> list[tuple[str, str]]:
    """(family, device) to run on a machine with ``gpus`` GPUs."""
    out = [(f, "cuda:0") for f in FAMILIES]
    if gpus >= 2:
        out += [(f, "0,1") for f in MULTI_GPU]
    return out


def case_config(family: str, device: str) -> dict[str, Any]:
    """The validated config (plain data) of one case: the conformance config, one short epoch,
    the device, AMP on where the family has it."""
    from engine.configs import validate_config
    from engine.families import FAMILIES as REGISTRY

    fam = REGISTRY[family]
    data = {**dict(fam.conformance.config), **SHORT[family], "device": device}
    if "amp" in fam.config_model.model_fields:
        data["amp"] = True
    return validate_config(fam, data).model_dump(mode="json")


class _GpuPeak:
    """The highest GPU memory in use on ``indices`` above what was in use at the start, by NVML
    every 0.2 s (it sees DDP ranks in other processes too)."""

    def __init__(self, indices: list[int]) -> None:
        self.indices, self.peak_mb, self._stop = indices, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._handles, self._base = [], []
        try:
            import pynvml

            pynvml.nvmlInit()
            from engine.resources import visible_gpu_indices

            physical = visible_gpu_indices(pynvml.nvmlDeviceGetCount())
            self._nv = pynvml
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(physical[i]) for i in indices if i < len(physical)]
            self._base = [pynvml.nvmlDeviceGetMemoryInfo(h).used for h in self._handles]
        except Exception:
            self._handles = []

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            try:
                used = sum(max(self._nv.nvmlDeviceGetMemoryInfo(h).used - b, 0) for h, b in zip(self._handles, self._base))
                self.peak_mb = max(self.peak_mb, used / 2**20)
            except Exception:
                pass

    def __enter__(self) -> "_GpuPeak":
        if self._handles:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._handles:
            self._thread.join(timeout=2)


class _RankContext:
    """The context of a DDP rank other than 0: trains, records nothing."""

    def __init__(self, out_dir: Path, device: str) -> None:
        self.out_dir, self.device, self.resume_from = out_dir, device, None
        self.resume = self.init_weights = None
        self.stores: dict[str, object] = {}

    def log(self, *a, **k) -> None: ...
    def progress(self, *a, **k) -> None: ...
    def checkpoint(self, *a, **k) -> None: ...

    def should_stop(self) -> bool:
        return False


def run_case(family: str, device: str, dataset_id: int | None) -> dict[str, Any]:
    """Train one case here; its row of the table."""
    import torch

    from db import queries
    from db.session import session_scope
    from engine.devices import parse_device

    config = case_config(family, device)
    rank = int(os.environ.get("LOCAL_RANK", "0") or 0)
    if rank > 0:  # a DDP rank Lightning started again: train alongside rank 0, record nothing
        from engine.configs import validate_config
        from engine.families import FAMILIES as REGISTRY
        from jobs.inputs import dataset_ref

        fam = REGISTRY[family]
        out = Path(tempfile.mkdtemp(prefix=f"gpu-check-rank{rank}-"))
        fam.trainer().fit(validate_config(fam, config), dataset_ref(dataset_id), _RankContext(out, f"cuda:{device}"))
        return {}
    from jobs.tasks import execute_run

    with session_scope() as s:
        run = queries.create_run(session=s, family=family, config=config, dataset_id=dataset_id,
                                 name=f"gpu-check {family} {device}", task=config.get("task"))
    indices = list(parse_device(device).indices)
    for i in indices:
        torch.cuda.reset_peak_memory_stats(i)
    started = time.monotonic()
    with _GpuPeak(indices) as peak:
        status = execute_run(run.id, capture=False)
    seconds = time.monotonic() - started
    in_process = max((torch.cuda.max_memory_allocated(i) for i in indices), default=0) / 2**20
    with session_scope() as s:
        done = queries.get_run(session=s, run_id=run.id)
    return {"family": family, "device": device, "amp": bool(config.get("amp", False)), "seconds": round(seconds, 1),
            "peak_gpu_mb": round(max(peak.peak_mb, in_process), 1), "status": status,
            "error": (done.error or "")[:300]}


def _generate_data(families: list[str]) -> dict[str, int | None]:
    from engine.families import FAMILIES as REGISTRY
    from jobs.datasets import generate_sample_job

    ids: dict[str, int | None] = {}
    for key in families:
        fam = REGISTRY[key]
        if not fam.dataset_kind:
            ids[key] = None
            continue
        info = generate_sample_job(fam.dataset_kind, f"gpu-check-{key}", dict(fam.conformance.sample_options))
        ids[key] = info["dataset_id"]
    return ids


def format_table(rows: list[dict[str, Any]]) -> str:
    head = f"{'family':<11} {'device':<7} {'AMP':<4} {'seconds':>8} {'peak GPU MB':>12}  result"
    lines = [head, "-" * len(head)]
    for r in rows:
        ok = r.get("status") == "completed"
        lines.append(f"{r['family']:<11} {r['device']:<7} {'on' if r.get('amp') else 'off':<4} "
                     f"{r.get('seconds', 0):>8.1f} {r.get('peak_gpu_mb', 0):>12.0f}  "
                     + ("pass" if ok else f"FAIL ({r.get('status')}: {r.get('error', '')})"))
    return "\n".join(lines)


def _case_subprocess(family: str, device: str, dataset_id: int | None, env: dict[str, str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.gpu_check", "--case", family, device,
           "--dataset-id", "" if dataset_id is None else str(dataset_id)]
    try:
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=CASE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"family": family, "device": device, "status": "timeout", "error": f"over {CASE_TIMEOUT_S} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT):])
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit {done.returncode}"]
    return {"family": family, "device": device, "status": "crashed", "error": tail[0][:300]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu_check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", nargs=2, metavar=("FAMILY", "DEVICE"), help=argparse.SUPPRESS)
    parser.add_argument("--dataset-id", default="", help=argparse.SUPPRESS)
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated (default: all five)")
    args = parser.parse_args(argv)
    if args.case:
        row = run_case(args.case[0], args.case[1], int(args.dataset_id) if args.dataset_id else None)
        if row:
            print(RESULT + json.dumps(row), flush=True)
        return 0
    gpus, why = cuda_status()
    if not gpus:
        print(f"gpu-check skipped: {why}. Run `make gpu-check` on a machine with an NVIDIA GPU and a CUDA build "
              "of torch; nothing was trained.")
        return 0
    families = [f for f in args.families.split(",") if f]
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        parser.error(f"unknown families {', '.join(unknown)}; choose from {', '.join(FAMILIES)}")
    home = Path(tempfile.mkdtemp(prefix="trainyard-gpu-check-"))
    env = {**os.environ, "TRAINYARD_HOME": str(home), "YOLO_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}
    env.pop("DATABASE_URL", None)
    os.environ.update({k: env[k] for k in ("TRAINYARD_HOME", "YOLO_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")})
    os.environ.pop("DATABASE_URL", None)
    from db.migrate import upgrade

    upgrade()
    print(f"gpu-check: {gpus} GPU(s); home {home}", flush=True)
    ids = _generate_data(families)
    rows = []
    for family, device in [c for c in cases(gpus) if c[0] in families]:
        print(f"  {family} on {device} …", flush=True)
        rows.append(_case_subprocess(family, device, ids.get(family), env))
    print()
    print(format_table(rows))
    return 0 if all(r.get("status") == "completed" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
