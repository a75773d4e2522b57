"""``make gpu-check``: on this machine (no CUDA) it says why it skips and trains nothing; the
cases it would run are valid configs of each family with AMP on."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import gpu_check

ROOT = Path(__file__).resolve().parents[2]


def test_without_cuda_it_skips_with_a_message_and_trains_nothing(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TRAINYARD_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "bench.gpu_check"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("gpu-check skipped: no CUDA device on this machine"), done.stdout
    assert "nothing was trained" in done.stdout
    assert not (tmp_path / "home" / "trainyard.db").exists()  # no database, no run, no data


def test_the_make_target_runs_it():
    text = (ROOT / "Makefile").read_text()
    assert "gpu-check:" in text and "-m bench.gpu_check" in text


def test_cases_one_gpu_then_two_where_the_library_can():
    assert gpu_check.cases(1) == [(f, "cuda:0") for f in gpu_check.FAMILIES]
    two = gpu_check.cases(2)
    assert ("ppo", "0,1") not in two and {f for f, d in two if d == "0,1"} == set(gpu_check.MULTI_GPU)


@pytest.mark.parametrize("family, device", gpu_check.cases(2))
def test_every_case_is_a_valid_short_amp_config(family, device):
    cfg = gpu_check.case_config(family, device)
    assert cfg["device"] == device
    assert cfg.get("amp", True) is True  # on wherever the family has the key (ppo has none)
    assert "amp" in cfg or family == "ppo"


def test_the_table():
    rows = [{"family": "yolo", "device": "0,1", "amp": True, "seconds": 12.34, "peak_gpu_mb": 2048.4,
             "status": "completed"},
            {"family": "ppo", "device": "cuda:0", "amp": False, "seconds": 3.0, "peak_gpu_mb": 10.0,
             "status": "failed", "error": "boom"}]
    lines = gpu_check.format_table(rows).splitlines()
    assert lines[0].split() == ["family", "device", "AMP", "seconds", "peak", "GPU", "MB", "result"]
    assert lines[2].split() == ["yolo", "0,1", "on", "12.3", "2048", "pass"]
    assert lines[3].endswith("FAIL (failed: boom)")
