"""The learning-rate warmup: the first ``warmup_epochs`` epochs' optimizer steps use the scheduled
rate scaled linearly up to it, and the schedule's own value is restored after every step."""
from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from engine.families.transition.trainer import quiet_lightning

pytestmark = pytest.mark.filterwarnings("ignore:You defined a `validation_step` but have no `val_dataloader`")

TINY = {"d_model": 8, "num_heads": 2, "num_layers": 1, "cnn_channels": 4, "image_size": 16, "batch_size": 2,
        "optimizer": "sgd", "momentum": 0.0, "lr": 0.1, "scheduler": "none", "gradient_clip_val": 0.0}


def _used_rates(accumulate: int = 1, **config) -> tuple[list[float], float]:
    quiet_lightning()
    import lightning as L
    from lightning.pytorch.callbacks import Callback

    from engine.families.transition.module import TransitionModule

    torch.set_num_threads(1)
    torch.manual_seed(0)
    n = 8
    data = TensorDataset(torch.randint(0, 256, (n, 16, 16), dtype=torch.uint8),
                         torch.randint(0, 256, (n, 16, 16), dtype=torch.uint8), torch.randn(n, 6), torch.randn(n, 6))
    norm = {"change_mean": [0.0] * 6, "change_std": [1.0] * 6, "at2_mean": [0.0] * 6, "at2_std": [1.0] * 6}
    module = TransitionModule({**TINY, **config}, norm)
    used: list[float] = []

    class Record(Callback):
        def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
            used.append(optimizer.param_groups[0]["lr"])

    trainer = L.Trainer(accelerator="cpu", devices=1, max_epochs=config.get("max_epochs", 2), logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[Record()], accumulate_grad_batches=accumulate, num_sanity_val_steps=0)
    trainer.fit(module, DataLoader(data, batch_size=2))
    return used, trainer.optimizers[0].param_groups[0]["lr"]


def test_one_warmup_epoch_ramps_its_four_steps_then_runs_at_the_scheduled_rate():
    used, after = _used_rates(warmup_epochs=1)
    assert [round(v, 6) for v in used] == [0.025, 0.05, 0.075, 0.1, 0.1, 0.1, 0.1, 0.1]
    assert after == 0.1


def test_warmup_counts_optimizer_steps_under_accumulation_and_zero_turns_it_off():
    used, _ = _used_rates(accumulate=2, warmup_epochs=1)
    assert [round(v, 6) for v in used] == [0.05, 0.1, 0.1, 0.1]
    used, _ = _used_rates(warmup_epochs=0)
    assert used == [0.1] * 8
