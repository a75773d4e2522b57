"""The ppo agent against VTracer's default parameters, per category, on generated logos.

Imports a generated ``logos`` dataset into a fresh SQLite home, trains the real ``PpoTrainer``
in this process (a context that only prints), and prints mean SSIM per category for the agent
and for the defaults on the validation and test images. ``python -m bench.ppo_vs_defaults
[TIMESTEPS] [COUNT] [SIZE]``.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

CATEGORIES = ("simple", "text", "gradient", "complex")


class PrintContext:
    """A RunContext that keeps nothing: enough for the trainer outside the queue."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir, self.device, self.resume_from = out_dir, "cpu", None

    def log(self, metrics, *, step, epoch=None) -> None:
        pass

    def progress(self, done, total, phase="train") -> None:
        pass

    def checkpoint(self, path, *, step, monitored=None, best=None) -> None:
        pass

    def should_stop(self) -> bool:
        return False


def main(timesteps: int = 2048, count: int = 8, size: int = 64) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home:
        os.environ["TRAINYARD_HOME"] = home
        os.environ.pop("DATABASE_URL", None)
        from settings import get_settings

        get_settings.cache_clear()
        from db.migrate import upgrade
        from engine.core import DatasetRef
        from engine.families.ppo.config import PpoConfig
        from engine.families.ppo.samples import generate
        from engine.families.ppo.trainer import PpoTrainer
        from jobs.datasets import import_dataset

        upgrade()
        root = generate(get_settings().resolved_data_root / "bench-logos", count=count, size=size, seed=3)
        ds, _ = import_dataset(name="bench-logos", kind="logos", root=root)
        ref = DatasetRef(name=ds.name, kind=ds.kind, root=Path(ds.root), id=ds.id)
        config = PpoConfig(total_timesteps=timesteps, eval_freq=timesteps, checkpoint_freq=timesteps)
        start = time.perf_counter()
        result = PpoTrainer().fit(config, ref, PrintContext(Path(home) / "run"))
        seconds = time.perf_counter() - start
    m = result.metrics
    print(f"ppo vs VTracer defaults: {timesteps} timesteps, {count} logos per category at {size} px, {seconds:.0f} s")
    for split in ("val", "test"):
        print(f"  {split:<5} {'category':<9} {'agent':>7} {'default':>8} {'gain':>7}")
        for cat in CATEGORIES:
            if f"{split}/{cat}/ssim" in m:
                a, d = m[f"{split}/{cat}/ssim"], m[f"{split}/{cat}/default_ssim"]
                print(f"  {'':<5} {cat:<9} {a:7.3f} {d:8.3f} {a - d:+7.3f}")
        print(f"  {split}: agent matches or beats the defaults in "
              f"{int(m[f'{split}/categories_matching_defaults'])} of {int(m[f'{split}/categories'])} categories")
    return m


def report() -> None:
    main()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
