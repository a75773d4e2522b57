"""Fuzzed configs: validation raises nothing but ``ConfigError``, and every config it accepts
can really work (a cheap per-family preflight builds what the trainer builds from it).

Configs are generated from each family's JSON schema: mostly values inside the schema's own
bounds (their edges included, which is where "validates but cannot work" hides), plus a few
adversarial values per config (inf, nan, 1e308, 10**30, negatives, 0, wrong types, a huge list)
and now and then an unknown key. Every registered family is fuzzed; a family that adds a
preflight to ``PREFLIGHTS`` gets the stronger check.
"""
from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tests.fixtures.toy_family  # noqa: F401  (registers the toy family for collection)
from engine.configs import ConfigError, parse_config_yaml, validate_config
from engine.devices import run_needs
from engine.families import FAMILIES

EXAMPLES = 1000
ADVERSARIAL = [math.inf, -math.inf, math.nan, 1e308, -1e308, 10**30, -(10**30), 2**63, 2**64, -1, -1.0, 0, 0.0,
               -0.0, 5e-324, 1e-308, "", "1e400", True, None, {}, [1] * 100_000, [math.inf, 0.9], [0], [-1]]


def _bounded(schema: dict[str, Any], kind: type) -> tuple[Any, Any, bool, bool]:
    lo, hi = schema.get("minimum"), schema.get("maximum")
    ex_lo, ex_hi = "exclusiveMinimum" in schema, "exclusiveMaximum" in schema
    lo = schema.get("exclusiveMinimum", lo)
    hi = schema.get("exclusiveMaximum", hi)
    if kind is int:
        lo = None if lo is None else math.floor(lo) + (1 if ex_lo else 0)
        hi = None if hi is None else math.ceil(hi) - (1 if ex_hi else 0)
    return lo, hi, ex_lo, ex_hi


def valid_values(schema: dict[str, Any]) -> st.SearchStrategy:
    """Values within what the schema itself promises to accept (its bounds' edges included)."""
    if "anyOf" in schema:
        return st.one_of([valid_values(s) for s in schema["anyOf"]])
    if "enum" in schema or "const" in schema:
        return st.sampled_from(schema.get("enum") or [schema["const"]])
    kind = schema.get("type")
    if kind == "integer":
        lo, hi, _, _ = _bounded(schema, int)
        edges = [v for v in (lo, hi) if v is not None]
        return st.integers(min_value=lo, max_value=hi) | (st.sampled_from(edges) if edges else st.nothing())
    if kind == "number":
        lo, hi, ex_lo, ex_hi = _bounded(schema, float)
        edges = [v for v, ex in ((lo, ex_lo), (hi, ex_hi)) if v is not None and not ex]
        return (st.floats(min_value=lo, max_value=hi, exclude_min=ex_lo and lo is not None,
                          exclude_max=ex_hi and hi is not None, allow_nan=False, allow_infinity=False)
                | (st.sampled_from(edges) if edges else st.nothing()))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "string":
        default = schema.get("default")
        return (st.just(default) if isinstance(default, str) else st.nothing()) | st.text(
            min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 24), 24))
    if kind == "array":
        if "prefixItems" in schema:
            return st.tuples(*[valid_values(s) for s in schema["prefixItems"]]).map(list)
        return st.lists(valid_values(schema.get("items", {})), min_size=schema.get("minItems", 0),
                        max_size=min(schema.get("maxItems", 6), 6))
    return st.nothing()


def adversarial_values(schema: dict[str, Any]) -> st.SearchStrategy:
    numbers = st.floats() | st.integers(min_value=-(10**40), max_value=10**40)
    if schema.get("type") == "array" and "items" in schema:
        return st.sampled_from(ADVERSARIAL) | st.lists(numbers, max_size=12) | st.just([10**30] * 3)
    return st.sampled_from(ADVERSARIAL) | numbers


# device strings: every accepted form, and near misses; gpus: in and out of range
DEVICE_VALUES = ["auto", "cpu", "mps", "cuda", "cuda:0", "cuda:3", "1", "0,1", "0, 2", "cuda:0,1", "CPU",
                 "cuda:", "gpu", "0,0", "-1", "cuda:64", "1.5", "", "tpu", 3, True]
FIELD_VALUES = {"device": st.sampled_from(DEVICE_VALUES), "gpus": st.none() | st.integers(-2, 70)}


def configs(schema: dict[str, Any]) -> st.SearchStrategy:
    """Config mappings: up to 12 keys set inside their bounds; in half of them 1-3 keys get an
    adversarial value; one in twenty has an unknown key."""
    props = schema["properties"]
    names = sorted(props)
    valid = {name: _with_default(props[name], FIELD_VALUES[name] if name in FIELD_VALUES else valid_values(props[name]))
             for name in names}
    bad = {name: adversarial_values(props[name]) for name in names}
    unknown = adversarial_values({})

    @st.composite
    def build(draw) -> dict[str, Any]:
        chosen = draw(st.lists(st.sampled_from(names), max_size=min(12, len(names)), unique=True))
        data = {name: draw(valid[name]) for name in sorted(chosen)}
        n_bad = max(0, draw(st.integers(-2, 3)))
        for name in draw(st.lists(st.sampled_from(names), min_size=n_bad, max_size=n_bad, unique=True)):
            data[name] = draw(bad[name])
        if draw(st.integers(0, 19)) == 0:
            data["no_such_key"] = draw(unknown)
        return data

    return build()


def _with_default(schema: dict[str, Any], values: st.SearchStrategy) -> st.SearchStrategy:
    return st.just(schema["default"]) | values if "default" in schema else values


# ---- preflights: build what the trainer builds from the config, cheaply ------------------------


def _anomaly_preflight(cfg) -> None:
    import torch

    from engine.families.anomaly.splits import stratified_split, train_subset
    from engine.families.anomaly.trainer import _optimizer, _scheduler, build_model

    torch.set_num_threads(1)  # tiny tensors: intra-op threads only spin-wait
    input_dim = 16
    widths = [input_dim, *cfg.hidden_dims, cfg.latent_dim]
    params = sum(a * b for a, b in zip(widths, widths[1:]))
    # wide configs are built on the meta device: same shapes and the same checks, no memory
    device = torch.device("cpu") if params < 200_000 else torch.device("meta")
    torch.manual_seed(cfg.seed)
    torch.Generator().manual_seed(cfg.seed)
    with torch.device(device):
        model = build_model(cfg, input_dim)
        x = torch.randn(4, input_dim)
    opt = _optimizer(cfg, model.parameters())  # torch checks lr, betas, momentum, weight decay here
    sched = _scheduler(cfg, opt)  # and step size, gamma, factor, patience here
    if device.type == "cpu":  # one real step; on the meta device construction is the proof
        loss = torch.nn.functional.mse_loss(model(x), x)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        if sched is not None:
            sched.step(loss.item()) if cfg.scheduler == "plateau" else sched.step()
    ages = [3 + i % 3 for i in range(30)]
    train, val, _ = stratified_split(ages, (cfg.train_split, cfg.val_split, cfg.test_split), seed=cfg.seed,
                                     stratify=cfg.stratify_by_age)
    assert train and val
    kept = train_subset(train, ages, [f"d{i}.png" for i in range(len(ages))], cfg.data_fraction, cfg.seed)
    assert kept and set(kept) <= set(train)  # every fraction the model accepts trains on something
    import numpy as np

    assert math.isfinite(float(np.percentile(np.arange(10.0), cfg.threshold_percentile)))


def _yolo_preflight(cfg) -> None:
    from engine.families.yolo.offline import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics.cfg import get_cfg
    from ultralytics.utils.checks import check_imgsz

    args = {**cfg.train_args(), "model": cfg.model_source(), "data": "data.yaml", "device": "cpu", "plots": False,
            "val": True, "amp": bool(cfg.amp), "project": "runs", "name": "fuzz", "exist_ok": True}
    get_cfg(overrides=args)  # Ultralytics' own type and range checks (check_cfg, hard)
    assert check_imgsz(cfg.image_size(), stride=32) >= 32


def _reid_preflight(cfg) -> None:
    """The optimizer and schedule the trainer builds (torchreid's, or torch's AdamW / cosine with
    eta_min or warm restarts), one step of each; the sampler's batch arithmetic."""
    import torch

    from engine.families.reid.config import uses_identity_sampler
    from engine.families.reid.trainer import _optimisation

    torch.manual_seed(cfg.seed)
    model = torch.nn.Linear(3, 2)
    optimizer, scheduler = _optimisation(model, cfg)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    scheduler.step()
    assert all(math.isfinite(g["lr"]) for g in optimizer.param_groups)
    if uses_identity_sampler(cfg):
        assert cfg.batch_size // cfg.num_instances >= 1


def _toy_preflight(cfg) -> None:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(cfg.seed)
    model = torch.nn.Linear(3, 1)
    torch.optim.SGD(model.parameters(), lr=cfg.lr)


PREFLIGHTS: dict[str, Callable[[Any], None]] = {
    "anomaly": _anomaly_preflight, "yolo": _yolo_preflight, "reid": _reid_preflight, "toy": _toy_preflight,
}


def _stored_as_json(cfg) -> None:
    """What submit_run stores: strict JSON (PostgreSQL refuses NaN/inf) that validates again."""
    data = json.loads(json.dumps(cfg.model_dump(mode="json"), allow_nan=False))
    assert type(cfg).model_validate(data) == cfg


@pytest.mark.parametrize("key", sorted(FAMILIES))
def test_fuzzed_configs_raise_only_config_errors_and_accepted_ones_can_work(key):
    family = FAMILIES[key]
    schema = family.config_model.model_json_schema()
    preflight = PREFLIGHTS.get(key)
    seen = {"accepted": 0, "refused": 0}

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(configs(schema))
    def check(data: dict[str, Any]) -> None:
        try:
            cfg = validate_config(family, data)
        except ConfigError as exc:
            assert exc.errors and all(str(e) for e in exc.errors)
            seen["refused"] += 1
            return
        seen["accepted"] += 1
        _stored_as_json(cfg)
        run_needs(cfg)  # an accepted device/gpus pair always says what the run needs (no contradiction left)
        if preflight is not None:
            preflight(cfg)

    random.seed(0)
    check()
    assert seen["accepted"] + seen["refused"] >= EXAMPLES
    assert seen["accepted"] >= EXAMPLES // 20, seen  # the preflight really ran on many configs
    assert seen["refused"] >= EXAMPLES // 20, seen


@pytest.mark.parametrize("key, data", [
    ("anomaly", {"lr": math.inf}), ("anomaly", {"lr": 1e308}), ("anomaly", {"epochs": 10**30}),
    ("anomaly", {"seed": -1}), ("anomaly", {"hidden_dims": [0]}), ("anomaly", {"betas": [math.inf, 0.9]}),
    ("anomaly", {"hidden_dims": [64] * 100}), ("anomaly", {"gamma": 1.0, "scheduler": "plateau"}),
    ("yolo", {"lr0": 1e308}), ("yolo", {"seed": -1}), ("yolo", {"epochs": 10**30}), ("yolo", {"scale": 2.0}),
    ("yolo", {"weight_decay": 5.0}), ("yolo", {"imgsz": 10**6}), ("yolo", {"save_period": -5}),
    *[(key, {"data_fraction": bad}) for key in ("anomaly", "yolo", "reid", "ppo", "transition")
      for bad in (0, -0.5, 1.0001, math.nan, math.inf, "half")],
    *[(key, data) for key in ("anomaly", "yolo", "reid", "ppo", "transition") for data in (
        {"device": "3,3"}, {"device": "cuda:x"}, {"device": "cpu", "gpus": 2}, {"gpus": 99})],
    ("ppo", {"device": "0,1"}),
])
def test_configs_from_the_issue_are_refused(key, data):
    with pytest.raises(ConfigError):
        validate_config(FAMILIES[key], data)


@pytest.mark.parametrize("text, message", [
    ("lr: .inf\n", "lr"),
    ("lr: 0.001\nepochs: 3\nlr: 10\n", "duplicate key 'lr'"),
    ("hidden_dims: &w [8]\nlatent_dim: 4\n", "anchors"),
])
def test_yaml_editor_refuses_infinities_and_duplicate_keys(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_config_yaml(FAMILIES["anomaly"], text)
