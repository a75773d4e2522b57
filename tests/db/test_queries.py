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
