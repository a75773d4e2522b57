"""``python -m tests.services PG_URL REDIS_URL``: exit 0 when both servers answer (the Makefile
then runs the suite against them too)."""
from __future__ import annotations

import sys


def answers(pg_url: str, redis_url: str) -> bool:
    try:
        import psycopg
        import redis

        with psycopg.connect(pg_url, connect_timeout=2):
            pass
        return bool(redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping())
    except Exception:
        return False


if __name__ == "__main__":
    raise SystemExit(0 if answers(sys.argv[1], sys.argv[2]) else 1)
