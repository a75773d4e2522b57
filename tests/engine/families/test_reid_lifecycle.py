"""The reid trainer on the shared lifecycle, with a bare context (no database, no queue): a run
cancelled after its first epoch and resumed gives the numbers of an uninterrupted one, the
registered model is the best-validated epoch's unless ``select_model: last``, start weights come
only as a verified file, and checkpoints of the layout before ``engine.lifecycle`` still resume."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.checkpoints import load_checkpoint, save_checkpoint, sha256_file
from engine.core import DatasetRef, RunCancelled, SampleRow, VerifiedFile
from engine.families.reid.config import ReidConfig
from engine.families.reid.data import scan
from engine.families.reid.samples import generate
from engine.trust import UntrustedModelError

pytest.importorskip("torchreid")

from engine.families.reid.trainer import CHECKPOINT_KIND, ReidTrainer, upgrade_checkpoint  # noqa: E402

TINY = {"model": "osnet_x0_25", "height": 32, "width": 16, "epochs": 3, "eval_freq": 1, "batch_size": 8,
        "lr": 0.003, "workers": 0, "cpu_threads": 1, "device": "cpu", "min_identities": 0}


class BareContext:
    """A RunContext that keeps what it is told; ``stop_after``: ask to stop once that step's
    checkpoint is registered."""

    def __init__(self, out_dir: Path, *, resume_from: Path | None = None, stop_after: int | None = None) -> None:
        self.out_dir, self.device, self.resume_from = Path(out_dir), "cpu", resume_from
        self.stop_after = stop_after
        self.metrics: dict[int, dict[str, float]] = {}
        self.checkpoints: list[tuple[str, int, bool | None]] = []

    def log(self, metrics, *, step, epoch=None):
        self.metrics.setdefault(step, {}).update(metrics)

    def progress(self, done, total, phase="train"):
        pass

    def checkpoint(self, path, *, step, monitored=None, best=None):
        self.checkpoints.append((Path(path).name, step, best))

    def should_stop(self):
        return self.stop_after is not None and any(step >= self.stop_after for _, step, _ in self.checkpoints)


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> DatasetRef:
    root = generate(tmp_path_factory.mktemp("reid") / "m", identities=8, images_per_identity=4, height=32,
                    width=16, distractors=2, junk=1, seed=5)
    report = scan(root)
    assert not report.problems
    samples = tuple(SampleRow(id=i, path=r.path, group_key=r.group_key, group_value=r.group_value, label=r.label,
                              split=r.split, flags=tuple(r.flags), meta=dict(r.meta))
                    for i, r in enumerate(report.samples, start=1))
    return DatasetRef(name="tiny-market", kind="market1501", root=root, id=1, summary=report.summary, samples=samples)


@pytest.fixture(scope="module")
def straight(market, tmp_path_factory):
    ctx = BareContext(tmp_path_factory.mktemp("straight"))
    return ctx, ReidTrainer().fit(ReidConfig(**TINY), market, ctx)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model"]


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_cancelled_and_resumed_run_gives_the_numbers_of_an_uninterrupted_one(market, straight, tmp_path):
    ctx, result = straight
    first = BareContext(tmp_path, stop_after=0)
    with pytest.raises(RunCancelled):
        ReidTrainer().fit(ReidConfig(**TINY), market, first)
    assert sorted(first.metrics) == [0]
    again = BareContext(tmp_path, resume_from=tmp_path / "checkpoints" / "last.pt")
    resumed = ReidTrainer().fit(ReidConfig(**TINY), market, again)
    assert sorted(again.metrics) == [1, 2]
    assert {**first.metrics, **again.metrics} == ctx.metrics
    for key in ("val/rank1", "val/mAP", "best_epoch", "epochs"):
        assert resumed.metrics[key] == result.metrics[key], key
    assert _same(_weights(resumed.model.path), _weights(result.model.path))
    state = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert state["kind"] == CHECKPOINT_KIND and state["step"] == 2
    assert {"model", "optimizer", "scheduler", "rng", "config", "lifecycle", "train_pids"} <= set(state)


def test_the_registered_model_is_the_best_ranked_epoch_unless_last_is_selected(market, straight, tmp_path):
    ctx, result = straight
    ranks = {step: m["val/rank1"] for step, m in ctx.metrics.items()}
    improving, top = [], None
    for step in sorted(ranks):
        if top is None or ranks[step] > top:
            improving.append(step)
            top = ranks[step]
    assert [step for name, step, flag in ctx.checkpoints if flag] == improving
    assert all(name == "best.pt" for name, _, flag in ctx.checkpoints if flag)
    best = improving[-1]
    assert result.metrics["best_epoch"] == best and result.metrics["val/rank1"] == ranks[best]
    assert result.metrics["val/mAP"] == ctx.metrics[best]["val/mAP"]
    assert _same(_weights(result.model.path), _weights(Path(ctx.out_dir) / "checkpoints" / "best.pt"))

    last = BareContext(tmp_path)
    chosen = ReidTrainer().fit(ReidConfig(**TINY, select_model="last"), market, last)
    assert _same(_weights(chosen.model.path), _weights(tmp_path / "checkpoints" / "last.pt"))
    assert chosen.metrics["val/rank1"] == last.metrics[2]["val/rank1"] == ctx.metrics[2]["val/rank1"]
    assert best < 2 and not _same(_weights(chosen.model.path), _weights(result.model.path))  # this data: best is 1


def test_start_weights_come_only_as_a_verified_reid_artifact(market, straight, tmp_path):
    _, result = straight
    config = ReidConfig(**{**TINY, "epochs": 1}, init_version=7, fixbase_epoch=1)
    with pytest.raises(ValueError, match="no verified start weights"):
        ReidTrainer().fit(config, market, BareContext(tmp_path / "none"))
    artifact = Path(result.model.path)
    ctx = BareContext(tmp_path / "bad")
    ctx.init_weights = VerifiedFile(artifact, "0" * 64, what="model version 7", meta={"version_id": 7, "family": "reid"})
    with pytest.raises(UntrustedModelError):
        ReidTrainer().fit(config, market, ctx)
    ctx = BareContext(tmp_path / "good")
    ctx.init_weights = VerifiedFile(artifact, sha256_file(artifact), what="model version 7",
                                    meta={"version_id": 7, "family": "reid"})
    ReidTrainer().fit(config, market, ctx)
    old, new = _weights(artifact), _weights(tmp_path / "good" / "model.pt")
    backbone = [k for k in old if not k.startswith("classifier.")]
    assert backbone and all(torch.equal(old[k], new[k]) for k in backbone)


def test_a_checkpoint_of_the_layout_before_the_shared_lifecycle_still_resumes(market, straight, tmp_path):
    ctx, result = straight
    first = BareContext(tmp_path, stop_after=0)
    with pytest.raises(RunCancelled):
        ReidTrainer().fit(ReidConfig(**TINY), market, first)
    new = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    rng = new["rng"]
    old_rng = {"torch": rng["torch"], "python": (rng["python"]["version"], tuple(rng["python"]["internal"].tolist()),
                                                 rng["python"]["gauss"]),
               "numpy": {"keys": rng["numpy"]["keys"], "pos": rng["numpy"]["pos"],
                         "has_gauss": rng["numpy"]["has_gauss"], "gauss": rng["numpy"]["cached"]}}
    metrics = {k: v for k, v in new["metrics"].items()}
    old = {"model": new["model"], "optimizer": new["optimizer"], "scheduler": new["scheduler"], "epoch": 0,
           "rng": old_rng, "best_map": metrics["val/mAP"], "best_model": new["model"],
           "best_metrics": {**metrics, "best_epoch": 0.0}, "train_pids": new["train_pids"], "config": new["config"]}
    assert upgrade_checkpoint(old)["lifecycle"] == {"best": metrics["val/rank1"], "best_step": 0}
    save_checkpoint(tmp_path / "checkpoints" / "last.pt", old)
    again = BareContext(tmp_path, resume_from=tmp_path / "checkpoints" / "last.pt")
    resumed = ReidTrainer().fit(ReidConfig(**TINY), market, again)
    assert {**first.metrics, **again.metrics} == ctx.metrics
    assert _same(_weights(resumed.model.path), _weights(result.model.path))
