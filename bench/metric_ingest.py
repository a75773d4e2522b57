"""Metric ingest, 100k points: ``queries.add_metrics`` against the raw driver on the same table.

Baselines: plain ``sqlite3`` ``executemany`` (WAL, one transaction) on SQLite; psycopg ``COPY`` on
PostgreSQL (skipped when no local server answers). Bar: Trainyard ≥ 0.5× the raw throughput.

Since #22 ``add_metrics`` also keeps the summaries and the curve pyramid; the ingest before it
(the raw rows only, ``metrics._insert_raw``) is timed in the same run, in batches of 1,000 steps
as a live run flushes them and as one 100k batch. Bar: ≥ 0.8× that ingest's throughput.
"""
from __future__ import annotations

import sqlite3

from bench.harness import installation, interleaved, line, postgres, size

POINTS = size(100_000, 100_000)
NAMES = ("train/loss", "val/loss", "lr", "val/acc")


def _rows(run_id: int) -> list[dict]:
    from db.models import utcnow

    now = utcnow()
    return [{"run_id": run_id, "step": i // len(NAMES), "epoch": None, "name": NAMES[i % len(NAMES)],
             "value": float(i), "time": now} for i in range(POINTS)]


def _new_run() -> int:
    from db import queries
    from db.session import session_scope

    with session_scope() as s:
        return queries.create_run(session=s, family="bench", config={}).id


PREPARED: dict[str, list] = {}


def _prepare() -> None:
    """Rows for a fresh run, built outside the timed part (both sides get the same rows)."""
    rows = _rows(_new_run())
    PREPARED["rows"] = rows
    PREPARED["tuples"] = [(r["run_id"], r["step"], r["epoch"], r["name"], r["value"], r["time"]) for r in rows]


def _ours() -> None:
    from db import queries
    from db.session import session_scope

    with session_scope() as s:
        queries.add_metrics(session=s, rows=PREPARED["rows"])


def _today() -> None:
    """The ingest before #22: the raw rows only."""
    from db.models import utcnow
    from db.queries import metrics
    from db.session import session_scope

    with session_scope() as s:
        now = utcnow()
        metrics._insert_raw(s, [metrics._encoded(r, now) for r in PREPARED["rows"]])


def _batched(fn_rows) -> None:
    rows = PREPARED["rows"]
    per = 1000 * len(NAMES)
    for i in range(0, len(rows), per):
        fn_rows(rows[i:i + per])


def _ours_batched() -> None:
    from db import queries
    from db.session import session_scope

    def one(rows):
        with session_scope() as s:
            queries.add_metrics(session=s, rows=rows)
    _batched(one)


def _today_batched() -> None:
    from db.models import utcnow
    from db.queries import metrics
    from db.session import session_scope

    def one(rows):
        with session_scope() as s:
            metrics._insert_raw(s, [metrics._encoded(r, utcnow()) for r in rows])
    _batched(one)


def measure_pyramid(database_url: str | None = None) -> dict[str, float]:
    """Ingest with summaries and pyramid against the ingest before them, one batch and live batches."""
    with installation(database_url):
        return interleaved({"today": _today, "ours": _ours, "today_batched": _today_batched,
                            "ours_batched": _ours_batched}, before=_prepare)


def measure_sqlite() -> tuple[float, float]:
    with installation() as url:
        path = url.split("///", 1)[1]

        def raw() -> None:
            stamp = PREPARED["tuples"][0][-1].strftime("%Y-%m-%d %H:%M:%S.%f")
            data = [(*t[:5], stamp) for t in PREPARED["tuples"]]
            con = sqlite3.connect(path)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            with con:
                con.executemany("INSERT INTO metric (run_id, step, epoch, name, value, time) "
                                "VALUES (?, ?, ?, ?, ?, ?)", data)
            con.close()

        t = interleaved({"raw": raw, "ours": _ours}, before=_prepare)
    return t["raw"], t["ours"]


def measure_postgres() -> tuple[float, float] | None:
    with postgres() as pg:
        if pg is None:
            return None
        with installation(pg):
            import psycopg

            def raw() -> None:
                with psycopg.connect(pg) as con, con.cursor() as cur:
                    with cur.copy("COPY metric (run_id, step, epoch, name, value, time) FROM STDIN") as copy:
                        for t in PREPARED["tuples"]:
                            copy.write_row(t)

            t = interleaved({"raw": raw, "ours": _ours}, before=_prepare)
    return t["raw"], t["ours"]


def report() -> list[bool]:
    raw, ours = measure_sqlite()
    ok = raw / ours >= 0.5
    print(line(f"metric ingest {POINTS // 1000}k points, SQLite", "sqlite3 executemany", raw, ours,
               "≥ 0.5× raw throughput (ratio ≤ 2)", ok))
    oks = [ok]
    from db.queries import metrics

    if hasattr(metrics, "_insert_raw"):
        with postgres() as pg_url:
            for label, url in (("SQLite", None), ("PostgreSQL", pg_url)):
                if label == "PostgreSQL" and url is None:
                    continue
                t = measure_pyramid(url)
                for kind, suffix in (("", "one batch"), ("_batched", "batches of 1,000 steps")):
                    oks.append(t["today" + kind] / t["ours" + kind] >= 0.8)
                    print(line(f"metric ingest with summaries + pyramid, {POINTS // 1000}k points, {suffix}, {label}",
                               "ingest before #22 (raw rows only)", t["today" + kind], t["ours" + kind],
                               "≥ 0.8× its throughput (ratio ≤ 1.25)", oks[-1]))
    pg = measure_postgres()
    if pg is None:
        print("metric ingest, PostgreSQL: no local server answers; skipped")
    else:
        raw, ours = pg
        oks.append(raw / ours >= 0.5)
        print(line(f"metric ingest {POINTS // 1000}k points, PostgreSQL", "psycopg COPY", raw, ours,
                   "≥ 0.5× raw throughput (ratio ≤ 2)", oks[-1]))
    return oks


if __name__ == "__main__":
    report()
