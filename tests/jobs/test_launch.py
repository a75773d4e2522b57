"""One launch path (``jobs.api.plan_launch``): config data, YAML text and ``--set`` overrides are
read by the one safe loader, expanded by the family, validated, named and gated the same way;
``submit_plan``/``submit_run`` write nothing when the gate refuses; a retry plans again."""
from __future__ import annotations

import pytest

from db import queries
from db.session import session_scope
from engine.configs import ConfigError
from engine.core import LaunchBlocked
from jobs import api
from jobs.datasets import generate_sample_job


def _run_ids() -> set[int]:
    with session_scope() as s:
        return {r.id for r in queries.list_runs(session=s, limit=10_000)}


@pytest.fixture(scope="module")
def drawings(stack):
    return generate_sample_job("drawings", "plan-drawings", {"count": 12, "seed": 5})["dataset_id"]


def test_one_config_plans_one_run_named_as_given(stack):
    plan = api.plan_launch("toy", config={"epochs": 2}, name="mine")
    assert [(r.name, r.label, r.blockers) for r in plan.runs] == [("mine", "", ())]
    assert plan.runs[0].config.epochs == 2 and plan.blockers == [] and plan.dataset_id is None
    several = api.plan_launch("toy", config=[{"epochs": 1}, {"epochs": 2}], name="pair")
    assert [r.name for r in several.runs] == ["pair 1", "pair 2"]


def test_yaml_text_and_overrides_go_through_the_safe_loader(stack):
    plan = api.plan_launch("toy", config="epochs: 3\nlr: 0.5\n", overrides=["epochs=4"], source="YAML")
    assert (plan.runs[0].config.epochs, plan.runs[0].config.lr) == (4, 0.5)
    with pytest.raises(ConfigError) as exc:
        api.plan_launch("toy", config="epochs: &n 3\nbatches: *n\n", source="YAML")
    assert exc.value.source == "YAML" and "anchors" in str(exc.value)
    with pytest.raises(ConfigError, match="duplicate"):
        api.plan_launch("toy", config="epochs: 3\nepochs: 4\n", source="YAML")
    with pytest.raises(ConfigError) as exc:
        api.plan_launch("toy", overrides=["epochs=!!python/name:os.system 1"])
    assert "tag" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        api.plan_launch("toy", config={"epochz": 1}, source="form")
    assert exc.value.source == "form" and [e.field for e in exc.value.errors] == ["epochz"]


def test_the_family_expands_age_groups_and_names_each_run(drawings):
    plan = api.plan_launch("anomaly", dataset_id=drawings, config={"age_groups": ["3-6", "6-9"], "epochs": 2})
    assert [(r.name, r.label, r.config.age_group, r.config.epochs) for r in plan.runs] == \
        [("anomaly 3-6", "3-6", "3-6", 2), ("anomaly 6-9", "6-9", "6-9", 2)]
    text = "age_groups: 9-12, 12-15\nepochs: 2\n"
    assert [r.name for r in api.plan_launch("anomaly", config=text, name="mine", source="YAML").runs] == \
        ["mine 9-12", "mine 12-15"]
    assert [r.name for r in api.plan_launch("anomaly", config={"age_group": "3-6"}).runs] == ["anomaly 3-6"]
    auto = api.plan_launch("anomaly", dataset_id=drawings, overrides=["age_groups=auto"])
    assert auto.runs and auto.dataset.samples and all(r.label for r in auto.runs)
    with pytest.raises(ConfigError) as exc:
        api.plan_launch("anomaly", config="age_groups: 3-6,5-9\n", source="YAML")
    assert exc.value.source == "YAML" and [e.field for e in exc.value.errors] == ["age_groups"]


def test_the_gate_names_each_runs_reasons_and_submit_writes_nothing_when_it_refuses(drawings):
    plan = api.plan_launch("anomaly", dataset_id=drawings,
                           config={"age_groups": ["2-3", "15-18"], "min_samples": 10_000})
    assert all(r.blockers for r in plan.runs)
    assert plan.blockers == [b for r in plan.runs for b in r.blockers]  # each once, in order
    assert any("2-3" in b for b in plan.runs[0].blockers) and any("15-18" in b for b in plan.runs[1].blockers)
    before = _run_ids()
    with pytest.raises(LaunchBlocked) as exc:
        api.submit_plan(plan)
    assert exc.value.reasons == plan.blockers and _run_ids() == before
    with pytest.raises(LaunchBlocked):
        api.submit_run(family="anomaly", config={"age_group": "2-3", "min_samples": 10_000}, dataset_id=drawings)
    assert _run_ids() == before
    with pytest.raises(ConfigError, match="launches 2 runs"):
        api.submit_run(family="anomaly", config={"age_groups": ["3-6", "6-9"]}, dataset_id=drawings, override=True)
    assert _run_ids() == before


def test_an_overridden_launch_and_its_retry_are_queued_through_the_plan(drawings):
    plan = api.plan_launch("anomaly", dataset_id=drawings, config={"age_groups": "2-3,3-6", "min_samples": 10_000},
                           name="ovr")
    runs = api.submit_plan(plan, priority="low", override=True)
    try:
        assert [(r.name, r.config["age_group"], r.priority, r.dataset_id) for r in runs] == \
            [("ovr 2-3", "2-3", "low", drawings), ("ovr 3-6", "3-6", "low", drawings)]
        api.cancel_run(runs[0].id)
        retry = api.retry_run(runs[0].id)  # the gate still refuses; a retry launches what was launched
        runs.append(retry)
        assert (retry.name, retry.parent_id, retry.config, retry.priority) == \
            ("ovr 2-3 (retry)", runs[0].id, runs[0].config, "low")
    finally:
        for run in runs:
            api.cancel_run(run.id)


def test_extra_datasets_are_checked_before_anything_is_queued(stack):
    """A combined launch names a dataset that exists, of the family's kind, other than the chosen
    one; the gate counts the combination (reid: every dataset's train identities, kept apart)."""
    opts = {"identities": 6, "images_per_identity": 3, "height": 32, "width": 16}
    a = generate_sample_job("market1501", "plan-market-a", {**opts, "seed": 1})["dataset_id"]
    b = generate_sample_job("market1501", "plan-market-b", {**opts, "seed": 1})["dataset_id"]
    other_kind = generate_sample_job("yolo", "plan-yolo", {"task": "detect", "count": 6, "size": 32})["dataset_id"]
    tiny = {"min_identities": 0, "min_images_per_identity": 0}
    before = _run_ids()
    for ids, words in (([999_999], "no dataset with id 999999"), ([other_kind], "is a yolo dataset, not market1501"),
                       ([a], "is the chosen dataset")):
        with pytest.raises(ConfigError) as exc:
            api.submit_run(family="reid", dataset_id=a, config={**tiny, "extra_datasets": ids})
        assert [e.field for e in exc.value.errors] == ["extra_datasets"] and words in str(exc.value), str(exc.value)
    assert _run_ids() == before
    alone = api.plan_launch("reid", dataset_id=a, config=tiny).runs[0].review()
    both = api.plan_launch("reid", dataset_id=a, config={**tiny, "extra_datasets": [b]}).runs[0].review()
    assert both["train identities"] == 2 * alone["train identities"]  # the same numbers, two sets of people
    assert both["splits"]["query"] == alone["splits"]["query"]  # evaluated on the chosen dataset only
