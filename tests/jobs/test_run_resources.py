"""A real run on the session's worker records its own CPU and RAM, free disk, and its resource
summary on the run row; the pages show them, with alerts at the thresholds in the settings."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from db import queries
from db.models import ResourceSample, RunStatus
from db.session import session_scope
from jobs import api, machines
from settings import Settings
from tests.conftest import wait_for_status
from ui.resources import alerts

ROOT = Path(__file__).resolve().parents[2]


def test_a_run_records_its_own_resources_and_a_summary(stack, worker):
    run = api.submit_run(family="toy", config={"epochs": 2, "batches": 4, "sleep_s": 0.15})
    done = wait_for_status(run.id, [RunStatus.completed])
    with session_scope() as s:
        samples = queries.resource_samples(session=s, run_id=run.id)
    assert samples, "the sampler (every 0.3 s here) wrote nothing during a 1.2 s run"
    last = samples[-1]
    assert last.proc_cpu_percent is not None and last.ram_mb > 0
    assert last.disk_home_free_gb > 0 and last.disk_artifacts_free_gb > 0
    assert last.gpus is None  # a CPU worker sees no GPU
    r = done.resources
    assert r["samples"] == len(samples) and r["peak_ram_mb"] >= max(x.ram_mb for x in samples) - 0.1
    assert r["gpus"] == 0 and r["gpu_hours"] == 0 and r["peak_gpu_mem_mb"] is None and r["attempt"] == done.attempt


def _sample(**kw) -> ResourceSample:
    base = {"run_id": 1, "cpu_percent": 20.0, "ram_percent": 40.0, "ram_mb": 900.0}
    return ResourceSample(**{**base, **kw})


def test_alerts_follow_the_thresholds_in_the_settings():
    hot = _sample(ram_percent=85.0, gpus=[{"index": 0, "name": "H100", "mem_used_mb": 70_000.0,
                                          "mem_total_mb": 80_000.0, "temp_c": 84.0}], disk_artifacts_free_gb=3.0)
    assert alerts(hot, Settings()) == [
        "The artifact folder's disk has 3.0 GB free (alert below 5 GB) on the run's machine: checkpoints may fail "
        "to write."]
    strict = Settings(TRAINYARD_ALERT_RAM_PERCENT=80, TRAINYARD_ALERT_GPU_MEM_PERCENT=85,
                      TRAINYARD_ALERT_GPU_TEMP_C=80, TRAINYARD_ALERT_DISK_FREE_GB=0)
    got = alerts(hot, strict)
    assert len(got) == 3, got
    assert got[0].startswith("RAM use is 85% of the machine (alert at 80%)")
    assert got[1].startswith("GPU 0 memory is 88% full (alert at 85%)")
    assert got[2].startswith("GPU 0 is at 84 °C (alert at 80 °C)")
    assert alerts(None) == []


def test_progress_and_home_show_resources_alerts_and_machines(stack, monkeypatch):
    monkeypatch.setenv("TRAINYARD_ALERT_GPU_TEMP_C", "80")
    from settings import get_settings

    get_settings.cache_clear()
    with session_scope() as s:
        run = queries.create_run(session=s, family="toy", config={"epochs": 1}, name="hot-run")
        queries.set_run_status(session=s, run_id=run.id, status=RunStatus.training)
        queries.update_run(session=s, run_id=run.id, worker="gpu-box-page",
                           resources={"samples": 3, "peak_ram_mb": 2048.0, "peak_gpu_mem_mb": 3072.0,
                                      "gpu_hours": 0.5, "gpus": 1})
        queries.add_resource_sample(session=s, run_id=run.id, cpu_percent=30.0, ram_percent=50.0, ram_mb=1536.0,
                                    proc_cpu_percent=95.0, disk_home_free_gb=100.0, disk_artifacts_free_gb=90.0,
                                    gpus=[{"index": 0, "name": "H100", "util_percent": 97.0, "mem_used_mb": 4096.0,
                                           "mem_total_mb": 81920.0, "temp_c": 83.0, "power_w": 310.0,
                                           "proc_mem_mb": 3072.0}])
    machines.register("gpu-box-page", gpus=[0], queues=machines.worker_queues(1))
    try:
        at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60)
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        warnings = [w.value for w in at.warning]
        assert any(f"Run #{run.id} hot-run on gpu-box-page: GPU 0 is at 83 °C (alert at 80 °C)" in w
                   for w in warnings), warnings
        tables = [df.value for df in at.dataframe]
        box = [t for t in tables if "worker" in t.columns and "gpu-box-page" in set(t["worker"])]
        assert box and box[0].set_index("worker").loc["gpu-box-page", "running"] == f"#{run.id} toy"

        at.switch_page("pages/3_Progress.py")
        at.query_params["run"] = str(run.id)
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        metrics = {m.label: m.value for m in at.metric}
        assert metrics["run CPU"] == "95 %" and metrics["run RAM"] == "1.50 GiB"
        assert any("GPU 0 is at 83 °C" in w.value for w in at.warning)
        gpus = [df.value for df in at.dataframe if "GPU" in df.value.columns]
        assert gpus and gpus[0].iloc[0]["temperature"] == "83 °C" and gpus[0].iloc[0]["power"] == "310 W"
        captions = " ".join(c.value for c in at.caption)
        assert "peak RAM 2.00 GiB · peak GPU memory 3.00 GiB · 0.500 GPU-hours on 1 GPU(s)" in captions
    finally:
        machines.unregister("gpu-box-page")
        get_settings.cache_clear()
        with session_scope() as s:
            queries.set_run_status(session=s, run_id=run.id, status=RunStatus.cancelled)
