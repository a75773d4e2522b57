"""Metric ingest, 100k points: ``queries.add_metrics`` against the raw driver on the same table.

Baselines: plain ``sqlite3`` ``executemany`` (WAL, one transaction) on SQLite; psycopg ``COPY`` on
PostgreSQL (skipped when no local server answers). Bar: Trainyard ≥ 0.5× the raw throughput.
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
