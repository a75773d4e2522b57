"""Home's first render with 1,000 runs (and 200 model versions) against a trivial page.

Both are rendered with Streamlit's AppTest in the same process, interleaved, after one warm-up
render each (module imports are not what is measured). Bar: Home < 0.5 s.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench.harness import installation, interleaved, line, size

ROOT = Path(__file__).resolve().parents[1]
RUNS = size(1000, 1000)


def _seed() -> None:
    from db import queries
    from db.models import RunStatus
    from db.session import session_scope

    statuses = [RunStatus.completed, RunStatus.failed, RunStatus.cancelled, RunStatus.completed]
    with session_scope() as s:
        for i in range(RUNS):
            run = queries.create_run(session=s, family="anomaly", config={"epochs": 10, "hidden_dims": [256, 128]},
                                     name=f"run {i}")
            queries.set_run_status(session=s, run_id=run.id, status=statuses[i % 4], progress_done=10,
                                   progress_total=10)
            if i % 5 == 0:
                queries.register_model_version(session=s, run_id=run.id, family="anomaly", artifact_path="x.pt",
                                               scope=f"{i % 7}-{i % 7 + 3}",
                                               metrics={"val/loss": 0.1, "val/auroc": 0.9})


def measure() -> dict[str, float]:
    from streamlit.testing.v1 import AppTest

    from jobs.connection import ensure_embedded_redis, stop_embedded_redis

    with installation(), tempfile.TemporaryDirectory() as scratch:
        os.environ["REDIS_URL"] = ensure_embedded_redis()
        _seed()
        trivial = Path(scratch) / "trivial.py"
        trivial.write_text("import streamlit as st\nst.set_page_config(page_title='t', layout='wide')\n"
                           "st.title('Trivial')\nst.write('nothing here')\n")

        def render(path: Path) -> None:
            at = AppTest.from_file(str(path), default_timeout=60)
            at.run()
            assert not at.exception, at.exception

        try:
            t = interleaved({"trivial": lambda: render(trivial), "home": lambda: render(ROOT / "Home.py")},
                            before=None, repeats=1)  # warm-up: imports
            t = interleaved({"trivial": lambda: render(trivial), "home": lambda: render(ROOT / "Home.py")})
        finally:
            stop_embedded_redis()
    return t


def report() -> list[bool]:
    t = measure()
    ok = t["home"] < 0.5
    print(line(f"Home first render, {RUNS} runs", "trivial page", t["trivial"], t["home"], "< 0.5 s", ok))
    return [ok]


if __name__ == "__main__":
    report()
