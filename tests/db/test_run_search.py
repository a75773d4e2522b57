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
