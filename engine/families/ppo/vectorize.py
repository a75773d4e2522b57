"""One raster → SVG → raster round trip and its quality, cached by (image hash, parameters).

VTracer converts, resvg rasterises the SVG back at the original size, and scikit-image scores
the render against the original (SSIM, MSE, PSNR). The agent revisits the same parameter sets
often (clipped at a range end, repeated episodes on one image), so results are kept in an LRU
in memory and optionally on disk (JSON per key, never unpickled): a repeated state costs nothing.
"""
from __future__ import annotations

import hashlib
import io
import json
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from engine.families.ppo.params import clamp

__all__ = ["Conversion", "Vectorizer", "image_key", "render_svg"]


@dataclass(frozen=True)
class Conversion:
    ssim: float
    mse: float
    psnr: float
    svg_bytes: int
    seconds: float  # of the first (uncached) conversion: the time penalty stays deterministic
    svg: str = ""


def image_key(rgb: np.ndarray) -> str:
    """A digest of the pixels and shape (the cache key's image half)."""
    h = hashlib.sha1(np.ascontiguousarray(rgb).tobytes())
    h.update(str(rgb.shape).encode())
    return h.hexdigest()


def render_svg(svg: str, width: int, height: int) -> np.ndarray:
    """Rasterise ``svg`` on white at ``width`` x ``height``; an ``HxWx3`` uint8 array."""
    import resvg_py
    from PIL import Image

    png = resvg_py.svg_to_bytes(svg_string=svg, width=width, height=height, background="white",
                                skip_system_fonts=True)
    with Image.open(io.BytesIO(bytes(png))) as im:
        return np.asarray(im.convert("RGB"))


def _convert(rgb: np.ndarray, params: Mapping[str, float]) -> tuple[str, float]:
    import vtracer

    h, w = rgb.shape[:2]
    rgba = np.concatenate([rgb, np.full((h, w, 1), 255, np.uint8)], axis=2).reshape(-1, 4)
    start = time.perf_counter()
    svg = vtracer.convert_pixels_to_svg([tuple(p) for p in rgba.tolist()], (w, h), colormode="color",
                                        hierarchical="stacked", mode="spline", **params)
    return svg, time.perf_counter() - start


def score(original: np.ndarray, rendered: np.ndarray) -> tuple[float, float, float]:
    """SSIM, MSE and PSNR of ``rendered`` against ``original`` (scikit-image)."""
    from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

    win = min(7, *original.shape[:2]) | 1
    s = structural_similarity(original, rendered, channel_axis=2, data_range=255, win_size=win)
    mse = mean_squared_error(original, rendered)
    psnr = peak_signal_noise_ratio(original, rendered, data_range=255) if mse > 0 else 100.0
    return float(s), float(mse), float(min(psnr, 100.0))


class Vectorizer:
    """Converts and scores with an LRU of ``size`` results (0: no memory cache) and, when
    ``disk`` names a folder, a JSON file per result there."""

    def __init__(self, size: int = 4096, disk: Path | None = None) -> None:
        self.size = size
        self.disk = Path(disk) if disk else None
        self._lru: OrderedDict[tuple[str, tuple], Conversion] = OrderedDict()
        self.hits = self.misses = 0

    def convert(self, rgb: np.ndarray, params: Mapping[str, float], *, key: str | None = None,
                keep_svg: bool = False) -> Conversion:
        """Score VTracer with ``params`` on ``rgb``; cached unless ``keep_svg`` asks for the text."""
        p = clamp(params)
        ck = (key or image_key(rgb), tuple(p.values()))
        if not keep_svg:
            hit = self._lru.get(ck) or self._from_disk(ck)
            if hit is not None:
                self.hits += 1
                self._remember(ck, hit)
                return hit
        self.misses += 1
        svg, seconds = _convert(rgb, p)
        s, mse, psnr = score(rgb, render_svg(svg, rgb.shape[1], rgb.shape[0]))
        result = Conversion(ssim=s, mse=mse, psnr=psnr, svg_bytes=len(svg.encode()), seconds=seconds)
        self._remember(ck, result)
        if self.disk is not None:
            self._to_disk(ck, result)
        return Conversion(**{**asdict(result), "svg": svg}) if keep_svg else result

    def _remember(self, ck: tuple, result: Conversion) -> None:
        if self.size <= 0:
            return
        self._lru[ck] = result
        self._lru.move_to_end(ck)
        while len(self._lru) > self.size:
            self._lru.popitem(last=False)

    def _file(self, ck: tuple) -> Path:
        digest = hashlib.sha1(json.dumps([ck[0], list(ck[1])]).encode()).hexdigest()
        return self.disk / digest[:2] / f"{digest}.json"

    def _from_disk(self, ck: tuple) -> Conversion | None:
        if self.disk is None:
            return None
        f = self._file(ck)
        try:
            data = json.loads(f.read_text())
            return Conversion(**{k: data[k] for k in ("ssim", "mse", "psnr", "svg_bytes", "seconds")})
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _to_disk(self, ck: tuple, result: Conversion) -> None:
        f = self._file(ck)
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(result)))
        tmp.replace(f)
