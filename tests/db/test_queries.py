"""Repository functions and migrations on SQLite and, when the local server answers, PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from db import queries
from db.migrate import upgrade
from db.models import RunStatus
from db.session import get_engine, session_scope
from tests.conftest import create_postgres_database, postgres_admin_url

ADMIN = postgres_admin_url()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'q.db'}"
        yield url
        return
    if ADMIN is None:
        pytest.skip("no PostgreSQL server answers on 127.0.0.1:5432")
    url, drop = create_postgres_database(ADMIN)
    yield url
    drop()


def test_migrations_create_every_table(db_url):
    upgrade(db_url)
    tables = set(inspect(get_engine(db_url)).get_table_names())
    assert {"dataset", "sample", "embedding", "run", "metric", "checkpoint", "modelversion",
            "resourcesample", "sweep", "sharelink", "trainyard_alembic_version"} <= tables
    upgrade(db_url)  # a second upgrade is a no-op


def test_optuna_studies_share_the_database(db_url):
    """Optuna keeps its own Alembic revision in ``alembic_version``; Trainyard's lives apart."""
    import optuna

    from db.session import normalize_url

    upgrade(db_url)
    optuna.create_study(storage=normalize_url(db_url), study_name="coexist", load_if_exists=True)
    upgrade(db_url)  # still at head, Optuna's table untouched
    with get_engine(db_url).connect() as conn:
        ours = conn.execute(text("SELECT version_num FROM trainyard_alembic_version")).scalar()
    assert ours and ours[0].isdigit()
    optuna.load_study(storage=normalize_url(db_url), study_name="coexist")


def test_a_database_from_before_sweeps_moves_its_revision(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, revision="0002")
    with get_engine(url).begin() as conn:  # how a database made before this change looks
        conn.execute(text("ALTER TABLE trainyard_alembic_version RENAME TO alembic_version"))
    upgrade(url)
    tables = set(inspect(get_engine(url)).get_table_names())
    assert "alembic_version" not in tables and "trainyard_alembic_version" in tables
    assert "trial_number" in {c["name"] for c in inspect(get_engine(url)).get_columns("run")}


def test_sqlite_runs_in_wal_mode_with_busy_timeout(tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with get_engine(url).connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 10_000


def test_run_metrics_checkpoints_and_registry(db_url):
    upgrade(db_url)
    with session_scope(db_url) as s:
        run = queries.create_run(session=s, family="toy", config={"epochs": 2})
        assert run.name == f"toy-{run.id}" and run.status == RunStatus.pending
        queries.add_metrics(session=s, rows=[{"run_id": run.id, "step": st, "epoch": st, "name": n, "value": v}
                                             for st, n, v in [(0, "val/loss", 2.0), (1, "val/loss", 1.0),
                                                              (0, "train/loss", 3.0)]])
        queries.add_checkpoint(session=s, run_id=run.id, step=0, path="a.pt", sha256="a" * 64, monitored=2.0, best=True)
        queries.add_checkpoint(session=s, run_id=run.id, step=1, path="b.pt", sha256="b" * 64, monitored=1.0, best=True)
        queries.set_run_status(session=s, run_id=run.id, status=RunStatus.completed)
    with session_scope(db_url) as s:
        assert queries.latest_metrics(session=s, run_id=run.id) == {"train/loss": 3.0, "val/loss": 1.0}
        ckpts = queries.list_checkpoints(session=s, run_id=run.id)
        assert [c.best for c in ckpts] == [False, True]
        assert queries.latest_checkpoint(session=s, run_id=run.id).path == "b.pt"
        assert queries.best_monitored(session=s, run_id=run.id) == 1.0
        assert queries.delete_metrics_after(session=s, run_id=run.id, step=0) == 1
        done = queries.get_run(session=s, run_id=run.id)
        assert done.status == RunStatus.completed and done.finished_at is not None


def test_one_active_model_per_family_task_and_scope(db_url):
    upgrade(db_url)
    with session_scope(db_url) as s:
        run = queries.create_run(session=s, family="anomaly", config={})
        a = queries.register_model_version(session=s, run_id=run.id, family="anomaly", artifact_path="a", scope="3-6")
        b = queries.register_model_version(session=s, run_id=run.id, family="anomaly", artifact_path="b", scope="3-6")
        c = queries.register_model_version(session=s, run_id=run.id, family="anomaly", artifact_path="c", scope="6-9")
    with session_scope(db_url) as s:
        active = {m.artifact_path for m in queries.list_model_versions(session=s, active_only=True)}
        assert active == {"b", "c"}
        queries.activate_model_version(session=s, model_version_id=a.id)
    with session_scope(db_url) as s:
        assert queries.active_model(session=s, family="anomaly", scope="3-6").artifact_path == "a"
        assert queries.active_model(session=s, family="anomaly", scope="6-9").id == c.id
        assert b.id != a.id
        with pytest.raises(LookupError, match="no model version with id 999"):
            queries.activate_model_version(session=s, model_version_id=999)


def test_list_sweeps_newest_first_of_one_family_up_to_a_limit(db_url):
    upgrade(db_url)
    spec = dict(space={}, method="random", metric="val/loss", direction="minimize", max_trials=2, parallel=1,
                pruner="none")
    with session_scope(db_url) as s:
        ids = [queries.create_sweep(session=s, name="", family=family, **spec).id
               for family in ("toy", "anomaly", "toy", "toy")]
    with session_scope(db_url) as s:
        assert [w.id for w in queries.list_sweeps(session=s)] == ids[::-1]
        assert [w.id for w in queries.list_sweeps(session=s, family="toy")] == [ids[3], ids[2], ids[0]]
        assert [w.id for w in queries.list_sweeps(session=s, family="toy", limit=2)] == [ids[3], ids[2]]


def test_a_rescan_replaces_samples_by_path_keeping_unchanged_ids_and_embeddings(db_url):
    upgrade(db_url)

    def row(path, value=4.0, sha1="same", label="normal"):
        return {"path": path, "group_key": "age", "group_value": value, "label": label, "split": None,
                "flags": [], "meta": {"sha1": sha1}}

    with session_scope(db_url) as s:
        ds = queries.create_dataset(session=s, name="rescan", kind="drawings", root="/data/rescan")
        queries.add_samples(session=s, rows=[{**row(p), "dataset_id": ds.id} for p in "abcd"])
        ids = {x.path: x.id for x in queries.dataset_samples(session=s, dataset_id=ds.id)}
        queries.store_embeddings(session=s, backbone="b", rows=[(i, 1, b"\0\0\0\0") for i in ids.values()])
    with session_scope(db_url) as s:
        queries.update_dataset(session=s, dataset_id=ds.id, summary={"samples": 4})
        # a unchanged but relabelled, b new content, c moved age group, d gone, e new
        queries.replace_dataset_samples(session=s, dataset_id=ds.id,
                                        rows=[row("a", label="odd"), row("b", sha1="new"), row("c", value=7.0),
                                              row("e")])
    with session_scope(db_url) as s:
        after = {x.path: x for x in queries.dataset_samples(session=s, dataset_id=ds.id)}
        kept = queries.embeddings_for_samples(session=s, sample_ids=[x.id for x in after.values()], backbone="b")
        assert sorted(after) == ["a", "b", "c", "e"]
        assert all(after[p].id == ids[p] for p in "abc")
        assert after["a"].label == "odd" and after["c"].group_value == 7.0 and after["b"].meta == {"sha1": "new"}
        assert set(kept) == {ids["a"]}
        assert queries.count_embeddings(session=s, dataset_id=ds.id) == 1
        assert queries.get_dataset(session=s, dataset_id=ds.id).summary == {"samples": 4}
