"""The whole reid path through the real queue and worker on generated pedestrians: a run that is
cancelled, resumed without duplicate steps and then shown to have learned; transfer from its
model; ranking through the scoring lane; the offline CLI."""
from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from db import queries
from db.models import RunStatus
from db.session import session_scope
from engine.checkpoints import load_checkpoint
from jobs import api
from tests.conftest import wait_for_status

# tiny OSNet on 64x32 crops; lr raised so that 8 short epochs are enough to learn
TINY = {"model": "osnet_x0_25", "height": 64, "width": 32, "epochs": 8, "eval_freq": 4, "batch_size": 16,
        "lr": 0.003, "workers": 0, "cpu_threads": 1, "device": "cpu", "min_identities": 4}
# measured on this data (seed 0): untrained rank-1 0.02 / mAP 0.04; after 8 epochs rank-1 0.59 / mAP 0.51
MARGIN = 0.2


def _steps(run_id: int, name: str) -> list[int]:
    with session_scope() as s:
        return [m.step for m in queries.metric_rows(session=s, run_id=run_id, names=[name])]


@pytest.fixture(scope="module")
def market(stack, worker):
    info = api.generate_sample_dataset("market1501", name="reid-e2e", identities=64, images_per_identity=8,
                                       seed=0, timeout_s=120)
    assert info["samples"] > 0 and not info["problems"]
    return info["dataset_id"]


@pytest.fixture(scope="module")
def trained(market):
    """One run, cancelled after its first checkpoint and resumed to the end."""
    run = api.submit_run(family="reid", dataset_id=market, config=TINY)
    deadline = time.monotonic() + 240
    while True:
        with session_scope() as s:
            if queries.latest_checkpoint(session=s, run_id=run.id):
                break
            status = queries.get_run(session=s, run_id=run.id).status
        assert status.active, status
        assert time.monotonic() < deadline, "no checkpoint after epoch 0"
        time.sleep(0.1)
    api.cancel_run(run.id)
    done = wait_for_status(run.id, [RunStatus.cancelled, RunStatus.completed, RunStatus.failed], timeout=120)
    assert done.status == RunStatus.cancelled, done.error
    before = _steps(run.id, "train/loss")
    api.resume_run(run.id)
    done = wait_for_status(run.id, [RunStatus.completed, RunStatus.failed, RunStatus.cancelled], timeout=300)
    assert done.status == RunStatus.completed, done.error
    return done, before


def test_cancelled_run_resumes_at_the_next_epoch_without_duplicate_steps(trained):
    run, before = trained
    assert before in ([0], [0, 1])
    assert _steps(run.id, "train/loss") == list(range(8))
    assert _steps(run.id, "lr") == list(range(8))
    assert _steps(run.id, "val/rank1") == _steps(run.id, "val/mAP") == [3, 7]
    log = (Path(run.out_dir) / "train.log").read_text()
    assert f"resuming after epoch {len(before)} of 8" in log
    with session_scope() as s:
        ckpts = queries.list_checkpoints(session=s, run_id=run.id)
    state = load_checkpoint(Path(ckpts[-1].path))
    assert state["step"] == 7 and {"model", "optimizer", "scheduler", "rng", "config"} <= set(state)


def test_rank1_and_map_beat_the_untrained_model_by_a_margin(trained, market):
    from engine.families.reid.config import ReidConfig
    from engine.families.reid.loaders import build_data, seed_everything
    from engine.families.reid.trainer import ReidTrainer, build_model

    run, _ = trained
    with session_scope() as s:
        ds = queries.get_dataset(session=s, dataset_id=market)
        samples = queries.dataset_samples(session=s, dataset_id=market)
        model = queries.active_model(session=s, family="reid", scope="reid-e2e")
    config = ReidConfig(**TINY)
    seed_everything(config.seed)
    torch.set_num_threads(1)
    data = build_data(Path(ds.root), samples, config)
    untrained = ReidTrainer.evaluate(build_model(config, data.num_train_pids), data, config, "cpu")
    m = run.summary
    chance = 1 / m["data/gallery_identities"]
    print(f"untrained {untrained}; trained rank-1 {m['val/rank1']:.3f} mAP {m['val/mAP']:.3f}; chance {chance:.3f}")
    assert m["val/rank1"] >= max(3 * chance, untrained["rank1"] + MARGIN)
    assert m["val/mAP"] >= untrained["mAP"] + MARGIN
    assert m["val/rank5"] >= m["val/rank1"] and m["val/rank20"] >= m["val/rank10"] >= m["val/rank5"]
    assert model is not None and model.run_id == run.id and model.metrics["val/rank1"] == m["val/rank1"]


def test_transfer_starts_from_the_earlier_models_backbone_with_a_new_classifier(trained):
    info = api.generate_sample_dataset("market1501", name="reid-transfer", identities=24, images_per_identity=4,
                                       seed=3, timeout_s=120)
    with session_scope() as s:
        source = queries.active_model(session=s, family="reid", scope="reid-e2e")
    run = api.submit_run(family="reid", dataset_id=info["dataset_id"],
                         config={**TINY, "epochs": 1, "eval_freq": 1, "init_version": source.id,
                                 "fixbase_epoch": 1, "open_layers": ["classifier"]})
    done = wait_for_status(run.id, [RunStatus.completed, RunStatus.failed, RunStatus.cancelled], timeout=180)
    assert done.status == RunStatus.completed, done.error
    with session_scope() as s:
        target = queries.active_model(session=s, family="reid", scope="reid-transfer")
    old, new = load_checkpoint(Path(source.artifact_path)), load_checkpoint(Path(target.artifact_path))
    # the backbone was frozen for the only epoch: it is the earlier model's, tensor for tensor
    backbone = [k for k in old["model"] if not k.startswith("classifier.")]
    assert len(backbone) > 100 and "conv1.conv.weight" in backbone
    assert all(torch.equal(old["model"][k], new["model"][k]) for k in backbone)
    assert old["model"]["classifier.weight"].shape[0] == 32 and new["model"]["classifier.weight"].shape[0] == 12
    assert "transfer from model version" in (Path(done.out_dir) / "train.log").read_text()


def test_ranking_through_the_scoring_lane(trained):
    with session_scope() as s:
        mv = queries.active_model(session=s, family="reid", scope="reid-e2e")
        ds = queries.get_dataset_by_name(session=s, name="reid-e2e")
        query = next(smp for smp in queries.dataset_samples(session=s, dataset_id=ds.id) if smp.split == "query")
    out = api.request_prediction(mv.id, {"query_path": query.path, "top_k": 5}, timeout_s=120)
    assert out["query"] == {"identity": query.label, "camera": query.meta["camera"]}
    ranks = out["matches"]
    assert [m["rank"] for m in ranks] == [1, 2, 3, 4, 5]
    assert [m["distance"] for m in ranks] == sorted(m["distance"] for m in ranks)
    assert all(m["match"] == (m["identity"] == query.label) for m in ranks)
    assert not any(m["identity"] == query.label and m["camera"] == query.meta["camera"] for m in ranks)
    picture = Image.open(io.BytesIO(out["image_png"]))
    assert picture.size == (6 * 72 + 12, 148)
    upload = (Path(ds.root) / query.path).read_bytes()
    out = api.request_prediction(mv.id, {"image": upload, "top_k": 3}, timeout_s=120)
    assert len(out["matches"]) == 3 and all(m["match"] is None for m in out["matches"])
    with pytest.raises(RuntimeError, match="not a readable image"):
        api.request_prediction(mv.id, {"image": b"nope"}, timeout_s=120)


def test_offline_cli_trains_and_prints_the_headlines(trained, capsys):
    from cli import main

    sets = [f"{k}={v}" for k, v in {**TINY, "epochs": 1, "eval_freq": 1}.items()]
    argv = ["train", "reid", "--dataset", "reid-transfer"]
    for item in sets:
        argv += ["--set", item]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert ": completed" in out and "val/rank1:" in out and "val/mAP:" in out


def test_try_model_view_shows_the_query_and_its_ranked_matches(trained):
    from streamlit.testing.v1 import AppTest

    script = ("from db import queries\nfrom db.session import session_scope\nfrom ui.tryout.reid import render_try\n"
              "with session_scope() as s:\n"
              "    models = queries.list_model_versions(session=s, family='reid', active_only=True)\n"
              "render_try(next(m for m in models if 'reid-e2e' in m.scope))\n")
    at = AppTest.from_string(script, default_timeout=120).run()
    at.number_input(key="try-reid-k").set_value(4).run()
    at.button(key="try-reid-run").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.dataframe[0].value.shape[0] == 4
    assert any(c.value.endswith("of the top 4 are the query's identity " + c.value.split()[-1]) for c in at.caption)
