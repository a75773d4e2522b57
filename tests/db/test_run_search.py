"""Server-side run search and paging (the Progress and Comparison run pickers) on SQLite and
PostgreSQL: every word must match an id, name, tag, family, status, dataset or creation date;
pages are disjoint, newest first, and the total counts every match."""
from __future__ import annotations

from datetime import datetime, timezone

from db import queries
from db.models import RunStatus
from db.session import session_scope
from tests.db.test_comparison_queries import db_url  # noqa: F401  (fixture: sqlite and postgresql)


def seed(url: str) -> dict[str, int]:
    with session_scope(url) as s:
        cats = queries.create_dataset(session=s, name="Cats_2024", kind="yolo", root="/cats")
        ids = {}
        for i in range(45):
            run = queries.create_run(session=s, family="yolo" if i % 3 else "anomaly", config={}, name=f"run-{i:02d}",
                                     dataset_id=cats.id if i % 5 == 0 else None)
            ids[f"run-{i:02d}"] = run.id
        queries.set_run_notes(session=s, run_id=ids["run-07"], description="the 50% lr_sweep one",
                              tags=["best", "night"])
        queries.set_run_notes(session=s, run_id=ids["run-08"], description="", tags=["night"])
        queries.set_run_status(session=s, run_id=ids["run-09"], status=RunStatus.failed)
        queries.update_run(session=s, run_id=ids["run-10"], created_at=datetime(2025, 3, 14, 12, tzinfo=timezone.utc))
    return ids


def names(url: str, **kwargs) -> tuple[list[str], int]:
    with session_scope(url) as s:
        runs, total = queries.search_runs(session=s, **kwargs)
        return [r.name for r in runs], total


def test_search_matches_id_name_tag_family_status_dataset_and_date(db_url):
    ids = seed(db_url)
    assert names(db_url, query=f"#{ids['run-07']}")[0][-1] == "run-07"  # the id (a name may hold the digits too)
    assert names(db_url, query=str(ids["run-07"]), limit=100)[0].count("run-07") == 1
    assert names(db_url, query="RUN-4", limit=100) == (["run-44", "run-43", "run-42", "run-41", "run-40"], 5)
    assert names(db_url, query="night", limit=100) == (["run-08", "run-07"], 2)
    assert names(db_url, query="night best") == (["run-07"], 1)  # every word must match
    assert names(db_url, query="50%")[0] == ["run-07"] and names(db_url, query="lr_sweep")[0] == ["run-07"]
    assert names(db_url, query="anomaly", limit=100)[1] == 15
    assert names(db_url, query="failed") == (["run-09"], 1)
    assert names(db_url, statuses=["failed"]) == (["run-09"], 1)
    assert names(db_url, query="cats_2024", limit=100)[1] == 9
    assert names(db_url, query="2025-03-14") == (["run-10"], 1) and names(db_url, query="2025-03") == (["run-10"], 1)
    assert names(db_url, query="nothing-like-this") == ([], 0)


def test_pages_are_disjoint_newest_first_and_count_every_match(db_url):
    seed(db_url)
    seen = []
    for page in range(3):
        got, total = names(db_url, query="yolo", offset=page * 12, limit=12)
        assert total == 30
        seen += got
    assert len(seen) == len(set(seen)) == 30
    assert seen == sorted(seen, reverse=True)  # newest (highest id) first: the names were created in order
    assert names(db_url, query="yolo", offset=30, limit=12) == ([], 30)


def test_run_tags_lists_each_tag_once_from_distinct_tag_lists(db_url):
    seed(db_url)
    with session_scope(db_url) as s:
        assert queries.run_tags(session=s) == ["best", "night"]


def test_sweep_search_matches_id_name_family_status_metric_dataset_and_date_and_pages(db_url):
    with session_scope(db_url) as s:
        cats = queries.create_dataset(session=s, name="Cats_2024", kind="yolo", root="/cats")
        made = {}
        for i in range(25):
            sweep = queries.create_sweep(session=s, name=f"sweep-{i:02d}", family="yolo" if i % 2 else "reid",
                                         space={}, method="random", metric="val/mAP50" if i % 2 else "rank1",
                                         direction="maximize", max_trials=4, parallel=1, pruner="none",
                                         dataset_id=cats.id if i % 5 == 0 else None, kind="curve" if i == 24 else "search")
            made[sweep.name] = sweep.id
        queries.update_sweep(session=s, sweep_id=made["sweep-03"], status="failed")
        queries.update_sweep(session=s, sweep_id=made["sweep-04"], created_at=datetime(2025, 3, 14, tzinfo=timezone.utc))

    def found(**kwargs):
        with session_scope(db_url) as s:
            rows, total = queries.search_sweeps(session=s, kind="search", **kwargs)
            return [w.name for w in rows], total

    assert found(query=f"#{made['sweep-07']}")[0] == ["sweep-07"]
    assert found(query="failed") == (["sweep-03"], 1)
    assert found(query="RANK1", limit=100)[1] == 12  # the reid ones, the curve study (24) not counted
    assert found(query="yolo val/map50", limit=100)[1] == 12
    assert found(query="cats_2024", limit=100) == (["sweep-20", "sweep-15", "sweep-10", "sweep-05", "sweep-00"], 5)
    assert found(query="2025-03-14") == (["sweep-04"], 1)
    assert found(query="sweep-1", limit=3) == (["sweep-19", "sweep-18", "sweep-17"], 10)
    pages = [found(offset=o, limit=10)[0] for o in (0, 10, 20)]
    assert [len(p) for p in pages] == [10, 10, 4] and len({n for p in pages for n in p}) == 24
    with session_scope(db_url) as s:
        assert [w.name for w in queries.search_sweeps(session=s, kind="curve")[0]] == ["sweep-24"]


def test_runs_filtered_by_the_sweeps_a_search_matches(db_url):
    ids = seed(db_url)
    with session_scope(db_url) as s:
        made = {}
        for i, name in enumerate(("lr-night", "lr-day", "batch-night")):
            sweep = queries.create_sweep(session=s, name=name, family="yolo", space={}, method="grid", metric="loss",
                                         direction="minimize", max_trials=2, parallel=1, pruner="none")
            made[name] = sweep.id
            for run in (f"run-{2 * i + 1:02d}", f"run-{2 * i + 2:02d}"):
                queries.update_run(session=s, run_id=ids[run], sweep_id=sweep.id)
    assert names(db_url, sweep_query="night") == (["run-06", "run-05", "run-02", "run-01"], 4)
    assert names(db_url, sweep_query="lr night") == (["run-02", "run-01"], 2)  # every word
    assert names(db_url, sweep_query=f"#{made['lr-day']}") == (["run-04", "run-03"], 2)
    assert names(db_url, sweep_query="night", query="run-05") == (["run-05"], 1)
    assert names(db_url, sweep_query="no-such-sweep") == ([], 0)
    assert names(db_url, sweep_query="  ", limit=100)[1] == 45  # blank: no sweep filter


def test_model_scopes_count_versions_and_a_scope_pages_active_first_then_newest(db_url):
    with session_scope(db_url) as s:
        runs = [queries.create_run(session=s, family="anomaly", config={}, name=f"ae-{i:02d}") for i in range(30)]
        for i, run in enumerate(runs):
            queries.register_model_version(session=s, run_id=run.id, family="anomaly", artifact_path="m.pt",
                                           scope="3-6" if i < 24 else "6-9", activate=i == 5)
        yolo = queries.create_run(session=s, family="yolo", config={}, name="det")
        queries.register_model_version(session=s, run_id=yolo.id, family="yolo", task="detect", artifact_path="b.pt",
                                       activate=False)
    with session_scope(db_url) as s:
        assert queries.model_scopes(session=s) == [("anomaly", None, "3-6", 24), ("anomaly", None, "6-9", 6),
                                                   ("yolo", "detect", "", 1)]
        first, total = queries.search_model_versions(session=s, family="anomaly", task=None, scope="3-6", limit=10)
        assert total == 24 and first[0].status == "active" and first[0].run_id == runs[5].id
        assert [v.id for v in first[1:]] == sorted((v.id for v in first[1:]), reverse=True)
        rest = [v.id for o in (10, 20) for v in queries.search_model_versions(
            session=s, family="anomaly", task=None, scope="3-6", offset=o, limit=10)[0]]
        assert len(set(rest) | {v.id for v in first}) == 24
        by_name, n = queries.search_model_versions(session=s, family="anomaly", task=None, scope="3-6", query="ae-07")
        assert n == 1 and by_name[0].run_id == runs[7].id
        assert queries.search_model_versions(session=s, family="anomaly", task=None, scope="3-6", query="active")[1] == 1
        assert queries.search_model_versions(session=s, family="yolo", task="detect", scope="")[1] == 1
