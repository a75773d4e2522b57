"""Alembic, driven from code so every entry point (make run, tests, CLI) upgrades the same way."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from db.session import get_engine, normalize_url
from settings import get_settings

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url or get_settings().resolved_database_url))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Bring the database at ``url`` (default: settings) up to ``revision``."""
    cfg = alembic_config(url)
    with get_engine(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


if __name__ == "__main__":
    upgrade()
    print(f"database at {get_settings().resolved_database_url} is up to date")
