"""The Models page's evaluations under AppTest: a version's finished evaluation shows its
metrics, the leaderboard ranks the scope's versions by the family's headline and links into
Comparison with their runs, and Evaluate queues a job (a pending row) through the real API."""
from __future__ import annotations

from datetime import timedelta

import pytest

from db import queries
from db.models import utcnow
from db.session import session_scope
from tests.pages.seed_runs import seed  # noqa: F401  (fixture)
from tests.pages.test_registry import models_page, pick_version


@pytest.fixture(scope="module")
def evaluated(seed):  # noqa: F811
    """Both anomaly versions of scope 11-13 evaluated on the seed's drawings dataset (test split)."""
    good, worse = seed.versions[seed.anomaly_good], seed.versions[seed.anomaly_worse]
    with session_scope() as s:
        ds = next(d for d in queries.list_datasets(session=s) if d.name.startswith("seed-drawings"))
        ids = {}
        for version, run_id, loss in ((worse, seed.anomaly_worse, 0.61), (good, seed.anomaly_good, 0.23)):
            ev = queries.create_evaluation(session=s, family="anomaly", dataset_id=ds.id, split="test",
                                           model_version_id=version, run_id=run_id)
            queries.update_evaluation(session=s, evaluation_id=ev.id, started_at=utcnow() - timedelta(seconds=3))
            queries.finish_evaluation(session=s, evaluation_id=ev.id, status="completed",
                                      metrics={"test/loss": loss, "threshold": 0.5, "test/auroc": 0.9 - loss / 2})
            ids[version] = ev.id
    return ds, good, worse, ids


def test_a_versions_evaluation_shows_its_metrics(evaluated):
    ds, good, _, ids = evaluated
    at = models_page("anomaly", None, "11-13")
    pick_version(at, good)
    assert not at.exception, [e.message for e in at.exception]
    listing = next(d.value for d in at.dataframe if "evaluation" in d.value.columns and "split" in d.value.columns)
    assert ids[good] in list(listing["evaluation"])
    assert listing.loc[listing["evaluation"] == ids[good], "test reconstruction loss"].item() == "0.23"
    metrics = next(d.value for d in at.dataframe if list(d.value.columns) == ["metric", "value"]
                   and "test/auroc" in list(d.value["metric"]))
    assert dict(zip(metrics["metric"], metrics["value"]))["test/auroc"] == "0.785"


def test_the_leaderboard_ranks_by_the_headline_and_links_into_comparison(evaluated, seed):  # noqa: F811
    ds, good, worse, _ = evaluated
    at = models_page("anomaly", None, "11-13")
    at.selectbox(key="lb-dataset").set_value(ds).run()
    board = next(d.value for d in at.dataframe if "rank" in d.value.columns)
    assert list(board["version"])[:2] == [good, worse]
    assert list(board["rank"])[:2] == [1, 2]
    assert any(f"Ranked by test reconstruction loss (lower is better) on {ds.name} / test" in c.value for c in at.caption)
    links = [p for p in at.get("page_link") if "Compare these runs" in p.proto.label]
    assert links, "no link into Comparison"
    assert links[0].proto.query_string in (f"runs={seed.anomaly_good}%2C{seed.anomaly_worse}",
                                           f"runs={seed.anomaly_good},{seed.anomaly_worse}")


def test_evaluate_queues_a_pending_evaluation(evaluated, seed, monkeypatch):  # noqa: F811
    ds, good, _, _ = evaluated
    at = models_page("anomaly", None, "11-13")
    pick_version(at, good)
    at.selectbox(key=f"eval-{good}-dataset").set_value(ds).run()
    with session_scope() as s:
        before = len(queries.evaluations_for_versions(session=s, model_version_ids=[good])[good])
    # a worker another test started may be listening: this evaluation goes to an eight-GPU lane no
    # CPU worker listens to, so it stays queued for this test to see and cancel
    from jobs import api, queues

    monkeypatch.setattr(api, "priority_queue", lambda priority: queues.queue(f"{priority}-gpu8"))
    at.button(key=f"eval-{good}-go").click().run()
    assert not at.exception, [e.message for e in at.exception]
    with session_scope() as s:
        evals = queries.evaluations_for_versions(session=s, model_version_ids=[good])[good]
    assert len(evals) == before + 1 and evals[0].status == "pending" and evals[0].job_id
    assert evals[0].split == "test" and evals[0].dataset_id is not None
    at.run()
    at.button(key=f"ev-cancel-{evals[0].id}").click().run()
    assert not at.exception, [e.message for e in at.exception]
    with session_scope() as s:
        assert queries.get_evaluation(session=s, evaluation_id=evals[0].id).status == "cancelled"
