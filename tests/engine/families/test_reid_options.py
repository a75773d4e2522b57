"""The reid options of the seed's torchreid setup, on the real trainer with a bare context: early
stopping on a stalled rank-1, ranked-list images at each evaluation, several Market-1501 datasets
combined with identities kept apart, and adamw / cosine restarts / k_tfm / re-ranking / CUHK03
metric on one short run."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from PIL import Image

from engine.core import DatasetRef, SampleRow
from engine.families.reid.config import ReidConfig
from engine.families.reid.data import scan
from engine.families.reid.samples import generate

pytest.importorskip("torchreid")

from engine.families.reid.loaders import split_samples  # noqa: E402
from engine.families.reid.trainer import ReidTrainer  # noqa: E402
from tests.engine.families.test_reid_lifecycle import TINY, BareContext  # noqa: E402


def _market(root: Path, name: str, dataset_id: int, seed: int, identities: int = 8) -> DatasetRef:
    root = generate(root, identities=identities, images_per_identity=4, height=32, width=16, distractors=0, junk=0,
                    seed=seed)
    report = scan(root)
    assert not report.problems
    samples = tuple(SampleRow(id=i, path=r.path, group_key=r.group_key, group_value=r.group_value, label=r.label,
                              split=r.split, flags=tuple(r.flags), meta=dict(r.meta))
                    for i, r in enumerate(report.samples, start=1))
    return DatasetRef(name=name, kind="market1501", root=root, id=dataset_id, summary=report.summary, samples=samples)


@pytest.fixture(scope="module")
def markets(tmp_path_factory) -> tuple[DatasetRef, DatasetRef]:
    base = tmp_path_factory.mktemp("reid-options")
    return _market(base / "a", "market-a", 1, seed=5), _market(base / "b", "market-b", 2, seed=5)


def test_early_stopping_ends_the_run_before_epochs_when_rank1_stalls(markets, tmp_path, caplog):
    # only the classifier trains (the backbone is frozen, in eval mode): the features, and so
    # rank-1, are exactly the same at every evaluation
    config = ReidConfig(**{**TINY, "epochs": 8, "eval_freq": 1, "patience": 2, "fixbase_epoch": 8,
                           "open_layers": ["classifier"]})
    ctx = BareContext(tmp_path)
    with caplog.at_level("INFO", logger="trainyard.reid"):
        result = ReidTrainer().fit(config, markets[0], ctx)
    assert sorted(ctx.metrics) == [0, 1, 2]  # best at the 1st evaluation, 2 without a gain: stop
    assert result.metrics["epochs"] == 3 < config.epochs
    ranks = {ctx.metrics[s]["val/rank1"] for s in ctx.metrics}
    assert len(ranks) == 1
    assert "early stopping after epoch 3: val/rank1 has not improved" in caplog.text


def test_early_stopping_watches_map_and_stays_off_at_patience_zero(markets, tmp_path):
    config = ReidConfig(**{**TINY, "epochs": 3, "eval_freq": 1, "patience": 0, "early_stop_metric": "mAP",
                           "fixbase_epoch": 3, "open_layers": ["classifier"]})
    ctx = BareContext(tmp_path)
    ReidTrainer().fit(config, markets[0], ctx)
    assert sorted(ctx.metrics) == [0, 1, 2]


def test_ranked_list_images_are_saved_at_each_evaluation(markets, tmp_path):
    config = ReidConfig(**{**TINY, "epochs": 2, "eval_freq": 1, "visrank": True, "visrank_topk": 3,
                           "visrank_queries": 4})
    ReidTrainer().fit(config, markets[0], BareContext(tmp_path))
    folders = sorted(p.name for p in (tmp_path / "visrank").iterdir())
    assert folders == ["epoch_001", "epoch_002"]
    for folder in folders:
        images = sorted((tmp_path / "visrank" / folder).glob("*.jpg"))
        assert len(images) == 4
        with Image.open(images[0]) as im:
            # the query and its top-3, each resized to width x height, side by side
            assert im.height == config.height and im.width > 4 * config.width
    assert not list(Path("/tmp").glob("visrank-*/query"))  # the staging copies are gone


def test_combined_datasets_train_on_both_sets_of_identities_kept_apart(markets, tmp_path):
    a, b = markets
    splits = split_samples(a.samples, [(b.name, b.samples)])
    a_ids = {s.label for s in a.samples if s.split == "train" and not s.flags}
    b_ids = {s.label for s in b.samples if s.split == "train" and not s.flags}
    assert a_ids == b_ids  # the same identity numbers in both (same generator seed): still two people each
    assert len(splits.train_pids) == len(a_ids) + len(b_ids)
    assert {p for p in splits.train_pids if p.startswith("market-b/")} == {f"market-b/{p}" for p in b_ids}
    assert {item[3] for item in splits.train} == {0, 1}  # source index per image (torchreid's dsetid)
    assert len(splits.query) == sum(s.split == "query" for s in a.samples)  # evaluated on the chosen one

    config = ReidConfig(**{**TINY, "epochs": 1, "eval_freq": 1, "extra_datasets": [b.id]})
    review = config.review(config.combined_dataset(a, (b,)))  # what the launch gate and the Review step count
    assert review["datasets"] == "market-a + market-b" and review["train identities"] == len(a_ids) + len(b_ids)
    ctx = BareContext(tmp_path)
    ctx.extra_datasets = (b,)
    result = ReidTrainer().fit(config, a, ctx)
    assert result.metrics["data/train_identities"] == len(a_ids) + len(b_ids)

    with pytest.raises(ValueError, match="extra_datasets"):  # named but not handed over
        ReidTrainer().fit(config, a, BareContext(tmp_path / "again"))


def test_adamw_cosine_restarts_k_tfm_rerank_and_cuhk03_metric_train_and_score(markets, tmp_path):
    config = ReidConfig(**{**TINY, "epochs": 4, "eval_freq": 2, "optimizer": "adamw", "scheduler": "cosine",
                           "restart_epoch": 2, "eta_min": 1e-5, "k_tfm": 2, "rerank": True,
                           "use_metric_cuhk03": True, "amp": True})  # amp: CUDA only, float32 here
    ctx = BareContext(tmp_path)
    result = ReidTrainer().fit(config, markets[0], ctx)
    lrs = [ctx.metrics[s]["lr"] for s in range(4)]
    # warm restarts every 2 epochs: half-way down, back to lr, half-way down, back to lr
    middle = config.eta_min + (config.lr - config.eta_min) * (1 + math.cos(math.pi / 2)) / 2
    assert lrs == pytest.approx([middle, config.lr, middle, config.lr])
    assert 0 <= result.metrics["val/rank1"] <= 1 and 0 <= result.metrics["val/mAP"] <= 1


@pytest.mark.parametrize("loss", ["softmax", "triplet"])
def test_the_mixed_precision_step_runs_under_autocast_and_trains(markets, tmp_path, loss):
    """The step ``amp`` takes on CUDA, run here under CPU autocast (bfloat16, no scaler): the
    forward pass is in reduced precision, the losses are finite, the weights move. On a CPU run
    ``amp`` itself is ignored (the trainer passes no autocast device)."""
    import torch

    from engine.families.reid.loaders import build_data, seed_everything
    from engine.families.reid.trainer import _Bridge, _engine, _optimisation, build_model

    a = markets[0]
    config = ReidConfig(**{**TINY, "loss": loss, "amp": True, "epochs": 1})
    seed_everything(config.seed)
    data = build_data(a.root, a.samples, config)
    model = build_model(config, data.num_train_pids)
    optimizer, scheduler = _optimisation(model, config)
    bridge = _Bridge(BareContext(tmp_path), 1)
    bridge.start(0, len(data.train_loader))
    engine = _engine(config, data, model, optimizer, scheduler, bridge, cuda=False, amp_device="cpu")
    dtypes = []
    model.conv1.register_forward_hook(lambda _m, _i, out: dtypes.append(out.dtype))
    before = model.conv1.conv.weight.detach().clone()
    engine.train(print_freq=100, fixbase_epoch=0, open_layers=None)
    assert dtypes and set(dtypes) == {torch.bfloat16}
    assert not engine.scaler.is_enabled()  # bfloat16 needs no loss scaling
    means = bridge.means()
    assert means and all(math.isfinite(v) for v in means.values())
    assert ("loss_t" in means) == (loss == "triplet")
    assert not torch.equal(before, model.conv1.conv.weight)
