"""RQ's queues, jobs and workers as Trainyard uses them: every one speaks JSON (``jobs.wire``).

Nothing else in the project builds an RQ ``Queue``, fetches a ``Job`` or lists ``Worker``s, so
no part of it can write or read a pickled job by forgetting the serializer.
"""
from __future__ import annotations

from typing import Any

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job

from jobs.connection import QUEUE_NAMES, SCORING_QUEUE, QueueUnavailable, get_redis, printable_url, redis_url
from jobs.machines import queue_level
from jobs.wire import SERIALIZER, require_plain

__all__ = ["QUEUE_NAMES", "SCORING_QUEUE", "queue", "enqueue", "fetch_job", "all_workers", "find_worker"]


def queue(name: str, *, connection: Redis | None = None) -> Queue:
    """The queue ``name`` (a priority lane, its GPU lanes such as ``default-gpu1``, or the scoring
    lane), JSON-serialized."""
    if name != SCORING_QUEUE:
        try:
            queue_level(name)
        except ValueError:
            raise ValueError(f"unknown queue {name!r}; choose one of {', '.join((*QUEUE_NAMES, SCORING_QUEUE))} "
                             f"or a GPU lane such as default-gpu1") from None
    return Queue(name, connection=connection or get_redis(), serializer=SERIALIZER)


def enqueue(into: Queue, func: str, *args: Any, **options: Any) -> Job:
    """Enqueue ``func(*args)`` (a dotted name: the worker imports it) after checking that the
    arguments are plain data (``NotPlainData`` otherwise, and nothing is written). ``options``
    are RQ's (``job_id``, ``job_timeout``, callbacks, ...). Redis refusing the job raises
    ``QueueUnavailable``."""
    require_plain(list(args), where=f"the arguments of {func}")
    try:
        return into.enqueue(func, *args, **options)
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise QueueUnavailable(f"the queue (Redis at {printable_url(redis_url())}) is not reachable; "
                               f"nothing was queued ({exc})") from exc


def fetch_job(job_id: str, *, connection: Redis | None = None) -> Job | None:
    """The job ``job_id``, or None when Redis no longer has it."""
    try:
        return Job.fetch(job_id, connection=connection or get_redis(), serializer=SERIALIZER)
    except NoSuchJobError:
        return None


def all_workers(*, connection: Redis | None = None) -> list[Worker]:
    """Every worker registered with Redis (dead ones included until someone forgets them)."""
    return Worker.all(connection=connection or get_redis(), serializer=SERIALIZER)


def find_worker(name: str, *, connection: Redis | None = None) -> Worker | None:
    """The registered worker called ``name``, or None."""
    return Worker.find_by_key(Worker.redis_worker_namespace_prefix + name, connection=connection or get_redis(),
                              serializer=SERIALIZER)
