"""Keep Ultralytics offline and quiet: no weight, font or asset downloads, no hub sync, no update checks.

Call ``prepare_ultralytics`` before the first ``import ultralytics`` of a process: Ultralytics
decides whether it is online and where its settings live at import time. Setting
``YOLO_OFFLINE=0`` in the worker's environment opts back in to downloads (hub weights).
"""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger("trainyard.yolo")

__all__ = ["prepare_ultralytics", "offline", "DownloadRefused"]


class DownloadRefused(RuntimeError):
    """Ultralytics tried to download something while offline."""


def offline() -> bool:
    return os.environ.get("YOLO_OFFLINE", "1").strip().lower() not in ("0", "false", "no", "off")


def _local_font(font: str = "Arial.ttf") -> Path | None:
    """Ultralytics' ``check_font`` without the download: a local font, else matplotlib's DejaVu Sans."""
    from ultralytics.utils import USER_CONFIG_DIR

    name = Path(font).name
    if (USER_CONFIG_DIR / name).exists():
        return USER_CONFIG_DIR / name
    try:
        from matplotlib import font_manager

        return Path(font_manager.findfont("DejaVu Sans", fallback_to_default=True))
    except Exception:
        return None


def _refuse_download(url, *args, **kwargs):
    raise DownloadRefused(f"offline: refused to download {url} (put the file on this machine, or set "
                          "YOLO_OFFLINE=0 on the worker to allow downloads)")


def _amp_without_download(model) -> bool:
    """AMP on CUDA without Ultralytics' check, which downloads a reference model to compare against."""
    return next(model.parameters()).device.type == "cuda"


def prepare_ultralytics(config_dir: Path | None = None) -> None:
    """Set the environment Ultralytics reads at import, then patch its few network paths."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    if "YOLO_CONFIG_DIR" not in os.environ:  # its settings file; ~/.config may not be writable on a worker
        config_dir = Path(config_dir or Path(tempfile.gettempdir()) / "trainyard-ultralytics")
        config_dir.mkdir(parents=True, exist_ok=True)
        os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    import ultralytics.data.utils as data_utils
    import ultralytics.engine.trainer as trainer_mod
    import ultralytics.utils.checks as checks
    import ultralytics.utils.downloads as downloads
    import ultralytics.utils.plotting as plotting
    from ultralytics.utils import LOGGER, SETTINGS

    if SETTINGS.get("sync"):
        SETTINGS.update(sync=False)
    LOGGER.propagate = False  # it has its own stdout handler; the job already sends stdout to train.log
    if not offline():
        return
    for module in (data_utils, checks, plotting):
        if hasattr(module, "check_font"):
            module.check_font = _local_font
    downloads.safe_download = _refuse_download
    trainer_mod.check_amp = _amp_without_download
    logging.getLogger("ultralytics").debug("offline mode: downloads refused")
