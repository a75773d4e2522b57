"""The ``logos`` dataset kind: category folders of raster logos.

Folder names map to the four categories (``simple_geometric``→simple, ``text_based``→text,
``gradients``→gradient, ``complex`` and ``abstract``→complex); a ``categories.yaml`` in the
dataset folder, or the ``mapping`` scan option, adds or overrides entries. Every image is
analysed (sharpness, contrast, colours, complexity, size); unusable ones import flagged with the
reason so the Data Sufficiency page shows them, and train nowhere. Analyses are cached in
``Sample.meta`` with the file's sha1, so a rescan analyses only new or changed files. Usable
images are split train/val/test within each category, so every split holds every category.
"""
from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from engine.datasets import Problem, SampleRecord, ScanReport
from engine.families.ppo.analysis import ANALYSIS_VERSION, analyse, quality_flags, unusable_reason
from engine.families.ppo.config import CATEGORIES, DEFAULT_CATEGORY_MAP
from engine.safeio import UnsafeFile, inside, load_yaml, open_image

__all__ = ["scan", "category_map", "split_by_category", "split_fractions", "IMAGE_SUFFIXES", "MAPPING_FILE",
           "KIND_KEY"]

KIND_KEY = "logos"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif")
MAPPING_FILE = "categories.yaml"
MAX_FILE_BYTES = 32 << 20
SPLIT_FRACTIONS = (0.7, 0.15, 0.15)
MAX_HELD_OUT = 0.5  # val or test: more than half of a category held out leaves too little to train on


def split_fractions(val_ratio: float = SPLIT_FRACTIONS[1], test_ratio: float = SPLIT_FRACTIONS[2]) -> tuple[float, float, float]:
    """The import's split settings (the seed's ``validation_split_ratio``), checked: each share in
    [0, 0.5] and some left to train on; ``ValueError`` names the setting and the value."""
    out = []
    for name, value in (("val_ratio", val_ratio), ("test_ratio", test_ratio)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number between 0 and {MAX_HELD_OUT}, not {value!r}") from None
        if not 0 <= value <= MAX_HELD_OUT:  # also refuses nan
            raise ValueError(f"{name} must be between 0 and {MAX_HELD_OUT}, not {value!r}")
        out.append(value)
    return 1.0 - out[0] - out[1], out[0], out[1]


def category_map(root: Path, problems: list[Problem], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Folder name → category: the defaults, then ``categories.yaml``, then ``extra``."""
    mapping = dict(DEFAULT_CATEGORY_MAP)
    file = root / MAPPING_FILE
    if file.is_file():
        try:
            data = load_yaml(inside(root, MAPPING_FILE))
            if not isinstance(data, dict):
                raise UnsafeFile("expected a mapping of folder: category")
            for folder, cat in data.items():
                if str(cat) not in CATEGORIES:
                    problems.append(Problem(MAPPING_FILE, f"category {cat!r} is not one of {', '.join(CATEGORIES)}",
                                            field=str(folder)))
                    continue
                mapping[str(folder)] = str(cat)
        except UnsafeFile as exc:
            problems.append(Problem(MAPPING_FILE, str(exc)))
    for folder, cat in (extra or {}).items():
        if cat not in CATEGORIES:
            raise ValueError(f"mapping {folder}={cat}: category must be one of {', '.join(CATEGORIES)}")
        mapping[folder] = cat
    return mapping


def split_by_category(records: list[SampleRecord], fractions: tuple[float, float, float] = SPLIT_FRACTIONS,
                      seed: int = 0) -> None:
    """Assign ``split`` to usable records, per category: a category of 3+ images has at least one
    in val and one in test. The order is a hash of seed and path, so a rescan keeps the split."""
    by_cat: dict[str, list[SampleRecord]] = defaultdict(list)
    for r in records:
        if r.meta.get("usable"):
            by_cat[r.label or ""].append(r)
    _, f_val, f_test = fractions
    for items in by_cat.values():
        items.sort(key=lambda r: hashlib.sha1(f"{seed}:{r.path}".encode()).hexdigest())
        n = len(items)
        n_test = max(1, round(n * f_test)) if n >= 3 and f_test > 0 else 0
        n_val = max(1, round(n * f_val)) if n >= 2 and f_val > 0 else 0
        for i, r in enumerate(items):
            r.split = "test" if i < n_test else "val" if i < n_test + n_val else "train"


Cache = Mapping[str, Mapping[str, Any]]


def scan(root: Path, *, mapping: Mapping[str, str] | None = None, seed: int = 0,
         cache: Cache | Callable[[], Cache] | None = None, val_ratio: float = SPLIT_FRACTIONS[1],
         test_ratio: float = SPLIT_FRACTIONS[2], **_: Any) -> ScanReport:
    """Scan category folders; analyse each image, or reuse its analysis from ``cache`` (path →
    meta stored at an earlier import of this folder, or a callable giving it: the import job
    reads it from the database) when the file's sha1 and the analysis version are unchanged.
    ``val_ratio``/``test_ratio``: the share of each category held out (the rest trains)."""
    fractions = split_fractions(val_ratio, test_ratio)
    root = Path(root)
    report = ScanReport(kind=KIND_KEY, root=root)
    folders = category_map(root, report.problems, mapping)
    cache = dict((cache() if callable(cache) else cache) or {})
    analysed = cached = 0
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or entry.name == MAPPING_FILE:
            continue
        if not entry.is_dir():
            report.problems.append(Problem(entry.name, "not inside a category folder; skipped"))
            continue
        category = folders.get(entry.name)
        if category is None:
            report.problems.append(Problem(entry.name + "/", f"folder is not a known category; map it in {MAPPING_FILE} "
                                           f"(folder: {' | '.join(CATEGORIES)})"))
            continue
        for file in sorted(entry.rglob("*")):
            rel = file.relative_to(root).as_posix()
            if file.is_dir() or file.name.startswith("."):
                continue
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                report.problems.append(Problem(rel, f"not an image file ({file.suffix or 'no extension'}); skipped"))
                continue
            try:
                path = inside(root, rel)
                if path.stat().st_size > MAX_FILE_BYTES:
                    raise UnsafeFile(f"file is over {MAX_FILE_BYTES >> 20} MB")
                sha1 = hashlib.sha1(path.read_bytes()).hexdigest()
                old = cache.get(rel, {})
                if old.get("sha1") == sha1 and old.get("analysis_version") == ANALYSIS_VERSION:
                    info = {k: old[k] for k in ("width", "height", "sharpness", "contrast", "colours", "complexity",
                                                "analysis_version")}
                    cached += 1
                else:
                    import numpy as np

                    info = analyse(np.asarray(open_image(path, mode="RGB")))
                    analysed += 1
            except (UnsafeFile, OSError) as exc:
                report.problems.append(Problem(rel, str(exc)))
                continue
            reason = unusable_reason(info)
            flags = ["unusable"] if reason else quality_flags(info)
            report.samples.append(SampleRecord(
                path=rel, group_key="category", label=category, flags=flags,
                meta={**info, "sha1": sha1, "folder": entry.name, "usable": reason is None, "reason": reason}))
    split_by_category(report.samples, fractions, seed=seed)
    usable = [s for s in report.samples if s.meta["usable"]]
    report.summary = {
        "categories": dict(Counter(s.label for s in usable)),
        "splits": {sp: dict(Counter(s.label for s in usable if s.split == sp)) for sp in ("train", "val", "test")},
        "unusable": len(report.samples) - len(usable), "analysed": analysed, "cached": cached,
        "mapping": {k: v for k, v in folders.items() if (root / k).is_dir()},
        "split_ratios": {"train": round(fractions[0], 6), "val": fractions[1], "test": fractions[2]},
    }
    return report
