"""Alembic, driven from code so every entry point (make run, tests, CLI) upgrades the same way."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, inspect, text

from db.session import get_engine, normalize_url
from settings import get_settings

MIGRATIONS = Path(__file__).with_name("migrations")
# Not Alembic's default ``alembic_version``: Optuna keeps its own Alembic revision in that table
# when sweeps store their studies in this same database.
VERSION_TABLE = "trainyard_alembic_version"
LEGACY_VERSION_TABLE = "alembic_version"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url or get_settings().resolved_database_url))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Bring the database at ``url`` (default: settings) up to ``revision``."""
    cfg = alembic_config(url)
    with get_engine(url).begin() as conn:
        _adopt_legacy_version_table(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def _adopt_legacy_version_table(conn: Connection) -> None:
    """Databases made before sweeps kept Trainyard's revision in ``alembic_version``: move it."""
    tables = set(inspect(conn).get_table_names())
    if LEGACY_VERSION_TABLE not in tables or VERSION_TABLE in tables:
        return
    ours = {p.stem.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("*.py")}
    rows = [r[0] for r in conn.execute(text(f"SELECT version_num FROM {LEGACY_VERSION_TABLE}"))]
    if not rows or not all(r.split("_", 1)[0] in ours for r in rows):
        return  # someone else's (Optuna's) revision: leave it
    conn.execute(text(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
    for r in rows:
        conn.execute(text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:v)"), {"v": r})
    conn.execute(text(f"DROP TABLE {LEGACY_VERSION_TABLE}"))


if __name__ == "__main__":
    upgrade()
    print(f"database at {get_settings().resolved_database_url} is up to date")
