"""Nothing in a YOLO run reaches for the network: training runs under a socket guard that
refuses and records any non-loopback connection or name lookup."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from db import queries
from db.session import session_scope
from jobs.datasets import generate_sample_job

ROOT = Path(__file__).resolve().parents[3]
GUARD = ROOT / "tests" / "fixtures" / "netguard"


def _guarded_env(log: Path, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(GUARD), str(ROOT)]), TRAINYARD_NETGUARD_LOG=str(log),
               YOLO_CONFIG_DIR=str(tmp_path / "ultralytics-config"))
    env.pop("YOLO_OFFLINE", None)  # the trainer must go offline by itself
    return env


def test_guard_catches_ultralytics_reaching_out(tmp_path):
    """Control: unpatched, Ultralytics' font check does try the network, and the guard sees it."""
    log = tmp_path / "net.log"
    code = "from ultralytics.utils.checks import check_font; check_font('Arial.ttf')"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_guarded_env(log, tmp_path), timeout=120,
                   capture_output=True)
    assert log.exists() and log.read_text().strip(), "the guard saw no attempt; the control is broken"


def test_training_and_prediction_never_touch_the_network(stack, tmp_path):
    generate_sample_job("yolo", "yolo-offline", {"task": "segment", "count": 16, "size": 64})
    log = tmp_path / "net.log"
    cmd = [sys.executable, "-m", "engine", "train", "yolo", "--dataset", "yolo-offline", "--set", "task=segment",
           "--set", "epochs=1", "--set", "imgsz=64", "--set", "batch=8", "--set", "workers=0",
           "--set", "device=cpu", "--set", "min_per_class=0"]
    proc = subprocess.run(cmd, cwd=ROOT, env=_guarded_env(log, tmp_path), timeout=300, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert not log.exists() or not log.read_text().strip(), log.read_text()
    with session_scope() as s:
        run = queries.list_runs(session=s)[0]
        model = queries.active_model(session=s, family="yolo", scope="segment", task="segment")
    assert run.family == "yolo" and run.status.value == "completed"
    code = ("import sys; from pathlib import Path; from jobs.inference import predict_job; "
            "from jobs.wire import pack, unpack; "
            f"r = unpack(predict_job({model.id}, pack({{'image': Path(sys.argv[1]).read_bytes()}}))); "
            "assert r['task'] == 'segment' and r['image_png'][:4] == b'\\x89PNG'")
    image = next(Path(run.out_dir).glob("data/*.txt")).read_text().splitlines()[0]
    proc = subprocess.run([sys.executable, "-c", code, image], cwd=ROOT, env=_guarded_env(log, tmp_path),
                          timeout=120, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not log.exists() or not log.read_text().strip(), log.read_text()
