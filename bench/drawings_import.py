"""Drawings import, 10k images (2k quick; 10k and 50k with ``--full``): ``jobs.datasets.import_dataset``
against the same checks written in plain Python with ``sqlite3``.

Both read the metadata CSV, confine each path to the folder, read and fully decode each image
(``check_image``: the same function), hash it and store one row per drawing. Bar: ≤ 1.5×.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sqlite3
from pathlib import Path

from bench.harness import FULL, installation, interleaved, line


def _make(folder: Path, count: int) -> None:
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True)
    with open(folder / "metadata.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["filename", "age_years", "subject", "expert_label"])
        for i in range(count):
            img = Image.new("RGB", (48, 48), (255, 255, 255))
            ImageDraw.Draw(img).line((i % 48, 0, 47 - i % 48, 47), fill=(0, 0, 0), width=2)
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            (folder / f"d{i:05d}.png").write_bytes(buf.getvalue())
            out.writerow([f"d{i:05d}.png", 3 + i % 10, "house", "anomalous" if i % 50 == 0 else "normal"])


def _plain(db_path: str, root: Path, dataset_id: int) -> int:
    from engine.families.anomaly.data import check_image

    base = root.resolve()
    rows = []
    with open(root / "metadata.csv", newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            name = row["filename"].strip()
            path = (root / name).resolve()
            if base not in path.parents or not path.is_file():
                continue
            age = float(row["age_years"])
            blob = path.read_bytes()
            flags, reason = check_image(blob, name)
            if reason:
                continue
            meta = {"subject": row["subject"].strip().lower() or None, "sha1": hashlib.sha1(blob).hexdigest()}
            rows.append((dataset_id, name, "age", age, row["expert_label"].strip().lower() or None, None,
                         json.dumps(flags), json.dumps(meta)))
    con = sqlite3.connect(db_path)
    with con:
        con.executemany("INSERT INTO sample (dataset_id, path, group_key, group_value, label, split, flags, meta) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.close()
    return len(rows)


def measure(count: int) -> dict[str, float]:
    from db import queries
    from db.session import session_scope
    from jobs.datasets import import_dataset

    with installation() as url:
        from settings import get_settings

        root = get_settings().resolved_data_root / "drawings"
        _make(root, count)
        n = {"plain": 0, "ours": 0}

        def plain() -> None:
            n["plain"] += 1
            with session_scope() as s:
                ds = queries.create_dataset(session=s, name=f"plain-{n['plain']}", kind="drawings", root=str(root))
            _plain(url.split("///", 1)[1], root, ds.id)

        def ours() -> None:
            n["ours"] += 1
            import_dataset(name=f"ours-{n['ours']}", kind="drawings", root=root)

        return interleaved({"plain": plain, "ours": ours})


def report() -> list[bool]:
    oks = []
    for count in ((10_000, 50_000) if FULL else (int(os.environ.get("BENCH_DRAWINGS", "2000")),)):
        t = measure(count)
        oks.append(t["ours"] <= 1.5 * t["plain"])
        print(line(f"drawings import, {count:,} images", "plain Python + sqlite3, same checks", t["plain"], t["ours"],
                   "≤ 1.5×", oks[-1]))
    return oks


if __name__ == "__main__":
    report()
