"""The Launch page under AppTest, opened through Home: the YAML editor follows the form and
launches several age groups, a task mismatch is named as such, the override sits before the
launch buttons, anomaly runs are named by their age group; neither the page nor the CLI names a
family (expansions are the family's, through ``plan_launch``)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from db import queries
from db.session import session_scope
from jobs import api
from jobs.datasets import generate_sample_job
from tests.fixtures.yolo_data import TINY

ROOT = Path(__file__).resolve().parents[2]


def _launch_page(family: str, dataset_prefix: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/2_Launch_Training.py")
    at.run()
    at.selectbox[0].set_value(family)
    at.run()
    if dataset_prefix:
        datasets = at.selectbox[1]
        datasets.select_index(next(i for i, o in enumerate(datasets.options) if o.startswith(dataset_prefix)))
        at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _walk(node):
    """Elements of the page in the order they are drawn."""
    children = getattr(node, "children", None)
    if children:
        for child in children.values():
            yield from _walk(child)
    else:
        yield node


def _new_runs(before: set[int]) -> list:
    with session_scope() as s:
        return sorted((r for r in queries.list_runs(session=s) if r.id not in before), key=lambda r: r.id)


def _run_ids() -> set[int]:
    with session_scope() as s:
        return {r.id for r in queries.list_runs(session=s)}


def test_yaml_editor_follows_the_form_and_keeps_its_comments(stack):
    at = _launch_page("yolo")
    assert "epochs: 7" not in at.text_area(key="yaml-yolo").value
    at.number_input(key="yolo-form-epochs").set_value(7)
    at.run()
    text = at.text_area(key="yaml-yolo").value
    assert yaml.safe_load(text)["epochs"] == 7
    assert "# " in text  # the defaults file's comments stay
    at.text_area(key="yaml-yolo").set_value(text.replace("epochs: 7", "epochs: 9"))
    at.run()  # an edit in the editor survives a rerun while the form does not change
    assert yaml.safe_load(at.text_area(key="yaml-yolo").value)["epochs"] == 9
    at.number_input(key="yolo-form-batch").set_value(4)
    at.run()  # a form change rewrites the editor from the form
    data = yaml.safe_load(at.text_area(key="yaml-yolo").value)
    assert data["batch"] == 4 and data["epochs"] == 7


def test_override_sits_before_the_launch_buttons(stack):
    at = _launch_page("yolo")
    keys = [getattr(el, "key", None) for el in _walk(at.main)]
    assert keys.index("override") < keys.index("launch-form") < keys.index("launch-yaml")


def test_task_mismatch_is_not_called_not_enough_data(stack):
    generate_sample_job("yolo", "mismatch-detect", {"task": "detect", "count": 12, "size": 32})
    at = _launch_page("yolo", "mismatch-detect ")
    at.text_area(key="yaml-yolo").set_value(yaml.safe_dump({**TINY, "task": "classify"}))
    at.button(key="launch-yaml").click()
    at.run()
    errors = [e.value for e in at.error]
    assert any("task does not match this dataset" in e for e in errors), errors
    assert not any("Not enough data" in e for e in errors), errors
    assert "cannot train task 'classify'" in " ".join(m.value for m in at.markdown)
    assert not at.success


def test_anomaly_groups_launch_from_form_and_yaml_named_by_group(stack):
    generate_sample_job("drawings", "launch-groups", {"count": 8, "seed": 4})
    at = _launch_page("anomaly", "launch-groups ")
    at.checkbox(key="override").check()  # 8 drawings are below min_samples; the gate is not under test
    assert any("age_groups" in c.value for c in at.caption)  # the form module's hint under the editor
    at.text_input(key="anomaly-form-groups").set_value("6-9")
    at.run()
    data = yaml.safe_load(at.text_area(key="yaml-anomaly").value)
    assert data["age_group"] == "6-9" and "age_groups" not in data  # one group: the plain config
    at.text_input(key="anomaly-form-groups").set_value("3-6,6-9")
    at.run()
    data = yaml.safe_load(at.text_area(key="yaml-anomaly").value)
    assert data["age_groups"] == ["3-6", "6-9"] and "age_group" not in data

    before = _run_ids()
    at.button(key="launch-form").click()
    at.run()
    assert any("Queued 2 run(s)" in m.value for m in at.success), [e.value for e in at.error]
    runs = _new_runs(before)
    assert [(r.name, r.config["age_group"]) for r in runs] == [("anomaly 3-6", "3-6"), ("anomaly 6-9", "6-9")]

    before = _run_ids()
    text = at.text_area(key="yaml-anomaly").value.replace('["3-6", "6-9"]', '"9-12, 12-15, 15-18"')
    at.text_area(key="yaml-anomaly").set_value(text)
    at.button(key="launch-yaml").click()
    at.run()
    assert any("Queued 3 run(s)" in m.value for m in at.success), [e.value for e in at.error]
    assert [r.name for r in _new_runs(before)] == ["anomaly 9-12", "anomaly 12-15", "anomaly 15-18"]

    at.text_area(key="yaml-anomaly").set_value(text.replace('"9-12, 12-15, 15-18"', '"3-6,5-9"'))
    at.button(key="launch-yaml").click()
    at.run()
    assert any("age_groups" in m.value and "overlap" in m.value for m in at.markdown), [m.value for m in at.markdown]
    for run in runs + _new_runs(before):
        api.cancel_run(run.id)


@pytest.mark.parametrize("path", ["pages/2_Launch_Training.py", "cli/__init__.py", "cli/train.py", "cli/sweep.py",
                                  "cli/data.py", "jobs/launch.py"])
def test_the_launch_path_never_names_a_family(path):
    from engine.families import BUILTIN

    keys = {f.key for f in BUILTIN}
    tree = ast.parse((ROOT / path).read_text())
    named = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Compare)
             and any(isinstance(x, ast.Constant) and x.value in keys for x in [node.left, *node.comparators])]
    assert not named, f"{path} compares with a family key on line(s) {named}"


def test_review_shows_the_combined_datasets_splits_classes_and_config_and_queues_nothing(stack):
    generate_sample_job("yolo", "review-a", {"task": "detect", "count": 10, "size": 32})
    generate_sample_job("yolo", "review-b", {"task": "detect", "count": 10, "size": 32, "seed": 1})
    at = _launch_page("yolo", "review-a ")
    combine = at.multiselect(key="launch-combine")
    other = next(o for o in combine.options if o.startswith("review-b "))
    combine.select(other)
    at.run()
    assert yaml.safe_load(at.text_area(key="yaml-yolo").value)["extra_datasets"]  # the pick is in the config
    at.text_input(key="yolo-form-classes").set_value("square, circle")
    at.text_input(key="launch-description").set_value("squares and circles only")
    at.number_input(key="yolo-form-min_per_class").set_value(0)  # 10 images are below the gate; not under test
    at.run()
    before = _run_ids()
    at.button(key="launch-review").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    shown = " ".join(m.value for m in at.markdown)
    assert "review-a + review-b" in shown and "squares and circles only" in shown
    assert "classes: 2: square, circle" in shown and "image size: 640" in shown
    splits = at.dataframe[0].value
    assert dict(zip(splits["split"], splits["images"])) == {"train": 14, "val": 4, "test": 2}
    final = yaml.safe_load(at.code[0].value)  # the final config, as it would be stored
    assert final["classes"] == ["square", "circle"] and len(final["extra_datasets"]) == 1
    assert _run_ids() == before and not at.success
