"""Progress reads well: tiles grouped train / val / test with the family's headlines first and
every value rounded, one checkpoint row per file with its sha256 checked on demand, and a log
tail without escape codes or redrawn progress bars."""
from __future__ import annotations

import hashlib
import os

import pytest

from db import queries
from db.models import RunStatus
from db.session import session_scope
from engine.trust import UntrustedModelError
from jobs.checkpoint_files import verified_bytes
from tests.jobs.test_log_cleanup import ULTRALYTICS
from tests.pages.test_progress_curves import _open


def _seed(home):
    out = home / "polish-run"
    out.mkdir(exist_ok=True)
    (out / "train.log").write_text(ULTRALYTICS)
    with session_scope() as s:
        run = queries.create_run(session=s, family="anomaly", config={}, name="polish")
        queries.add_metrics(session=s, rows=[{"run_id": run.id, "step": step, "epoch": step, "name": name,
                                              "value": value / (step + 1)}
                                             for step in range(3) for name, value in
                                             (("train/loss", 0.123456789012345), ("val/loss", 0.2987654321),
                                              ("val/auroc", 2.7123456789), ("test/auroc", 2.6123456789))])
        # last.pt saved every epoch: three rows, one file; best.pt kept; epoch1.pt tampered with later
        for step in range(3):
            (out / "last.pt").write_bytes(f"weights {step}".encode())
            queries.add_checkpoint(session=s, run_id=run.id, step=step, path=str(out / "last.pt"),
                                   sha256=hashlib.sha256(f"weights {step}".encode()).hexdigest(), monitored=step)
        (out / "best.pt").write_bytes(b"best")
        queries.add_checkpoint(session=s, run_id=run.id, step=1, path=str(out / "best.pt"),
                               sha256=hashlib.sha256(b"best").hexdigest(), best=True)
        (out / "epoch1.pt").write_bytes(b"epoch 1")
        queries.add_checkpoint(session=s, run_id=run.id, step=1, path=str(out / "epoch1.pt"),
                               sha256=hashlib.sha256(b"epoch 1").hexdigest())
        queries.set_run_status(session=s, run_id=run.id, status=RunStatus.completed, out_dir=str(out),
                               summary={"threshold": 0.51234567891, "epochs_run": 3})
    (out / "epoch1.pt").write_bytes(b"tampered")
    os.utime(out / "epoch1.pt", (0, 4_000_000_000))  # and its mtime says so
    return run.id, out


def test_progress_page_is_readable(stack):
    run_id, out = _seed(stack)
    at = _open(run_id)

    tiles = [(m.label, m.value) for m in at.metric]
    assert tiles[:3] == [("val reconstruction loss", "0.09959"), ("AUROC", "0.9041"), ("threshold", "0.5123")]
    assert tiles[3:] == [("loss", "0.04115"), ("auroc", "0.8708"), ("epochs_run", "3")]  # train, test, other
    assert [c.value for c in at.caption if c.value in ("train", "val", "test", "other")] == ["train", "test", "other"]

    table = at.dataframe[0].value
    assert sorted(table["file"]) == ["best.pt", "epoch1.pt", "last.pt"]  # one row per file
    assert table.set_index("file").loc["last.pt", "step"] == 2  # the newest row of the overwritten file
    assert table.set_index("file").loc["epoch1.pt", "check"] == "modified since recorded?"
    assert set(table.set_index("file").loc[["best.pt", "last.pt"], "check"]) == {"not checked"}

    at.button(key=f"ckpt-{run_id}-verify").click().run()
    checks = at.dataframe[0].value.set_index("file")["check"]
    assert checks.to_dict() == {"last.pt": "sha256 ✓", "best.pt": "sha256 ✓", "epoch1.pt": "sha256 ✗ changed"}
    downloads = {b.proto.label: b.proto.disabled for b in at.get("download_button")}
    assert downloads == {"last.pt": False, "best.pt": False, "epoch1.pt": True, "Full log": False}
    assert verified_bytes(out / "last.pt", hashlib.sha256(b"weights 2").hexdigest()) == b"weights 2"
    with pytest.raises(UntrustedModelError):  # what the epoch1.pt button would hand out: nothing
        verified_bytes(out / "epoch1.pt", hashlib.sha256(b"epoch 1").hexdigest())

    log = at.code[0]
    assert log.proto.wrap_lines
    assert "\x1b" not in log.value and "\r" not in log.value
    assert "WARNING ⚠️ no labels found in val set  [×3]" in log.value
    assert log.value.count("1/3") == 1  # the epoch's bar once, in its last state
