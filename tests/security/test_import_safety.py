"""Importing hostile dataset folders: every bad file is one problem, nothing outside the root is read.

Each case builds a tiny dataset of a real kind (``drawings``, ``yolo`` detect, ``yolo`` classify)
under the data root, plants one bad file among good ones and imports it through
``jobs.datasets.import_dataset`` into the real database. Files outside the root hold a secret
string: it must never reach a problem, the summary or a row, and an audit hook on ``open`` /
``os.listdir`` / ``os.scandir`` proves no such file or folder was even opened.
"""
from __future__ import annotations

import csv
import io
import json
import os
import struct
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import yaml
from PIL import Image

from db import queries
from db.session import session_scope
from engine.datasets import printable
from jobs.datasets import DatasetExists, import_dataset
from settings import get_settings

SECRET = "S3CRET-d41d8cd98f"

# ---------- an audit of every file and folder the import opens ----------

_AUDIT: dict[str, list] = {"on": [], "seen": []}


def _audit(event: str, args: tuple) -> None:
    if _AUDIT["on"] and event in ("open", "os.listdir", "os.scandir") and args:
        path = args[0]
        if isinstance(path, (str, bytes, os.PathLike)):
            _AUDIT["seen"].append(os.fsdecode(path))


sys.addaudithook(_audit)  # cannot be removed; it records only while a case imports


def _opened_during(fn: Callable[[], object]) -> tuple[object, list[str]]:
    _AUDIT["seen"].clear()
    _AUDIT["on"].append(1)
    try:
        return fn(), list(_AUDIT["seen"])
    finally:
        _AUDIT["on"].clear()


# ---------- small files ----------

def _png(seed: int = 0, size: int = 40) -> bytes:
    arr = (np.random.default_rng(seed).random((size, size, 3)) * 255).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def _jpeg_truncated() -> bytes:
    arr = (np.random.default_rng(1).random((64, 64, 3)) * 255).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG")
    return buf.getvalue()[: len(buf.getvalue()) // 2]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


_HUGE: list[bytes] = []


def _huge_png() -> bytes:
    """A valid 30000x30000 1-bit PNG of zeros: ~110 kB on disk, 900 M pixels decoded."""
    if not _HUGE:
        side = 30000
        row = b"\0" * (1 + side // 8)
        comp = zlib.compressobj(9)
        block = row * 1000
        idat = b"".join(comp.compress(block) for _ in range(side // 1000)) + comp.flush()
        _HUGE.append(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
                     + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))
    return _HUGE[0]


GOOD = _png()


@pytest.fixture(scope="module")
def outside(tmp_path_factory) -> Path:
    """A folder outside the data root whose every file holds the secret."""
    out = tmp_path_factory.mktemp("outside")
    (out / "secret.txt").write_text(f"{SECRET} 0.5 0.5 0.1 0.1\n")
    (out / "secret.png").write_bytes(GOOD)
    with open(out / "secret.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["filename", "age_years", "subject", "expert_label"],
                                  [f"{SECRET}.png", "5", SECRET, SECRET]])
    (out / "secret.json").write_text(json.dumps([{"filename": f"{SECRET}.png", "age_years": 5, "subject": SECRET}]))
    (out / "secret.yaml").write_text(yaml.safe_dump({"train": "images/train", "names": [SECRET]}))
    for folder in ("cls", "split/a"):
        (out / folder).mkdir(parents=True)
        (out / folder / f"{SECRET}.png").write_bytes(GOOD)
    (out / "list.txt").write_text(f"{SECRET}.png\n")
    assert get_settings().resolved_data_root not in out.resolve().parents
    return out


# ---------- the three base datasets ----------

def drawings(root: Path, n: int = 3, *, json_rows: bool = False, extra: list[dict] | None = None) -> None:
    """``n`` good drawings under images/ with metadata.csv (or .json), plus ``extra`` rows."""
    (root / "images").mkdir(parents=True)
    rows = []
    for i in range(n):
        (root / "images" / f"d{i}.png").write_bytes(_png(i, 48))
        rows.append({"filename": f"images/d{i}.png", "age_years": 5 + i, "subject": "house", "expert_label": "normal"})
    rows += extra or []
    if json_rows:
        (root / "metadata.json").write_text(json.dumps(rows))
        return
    with open(root / "metadata.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["filename", "age_years", "subject", "expert_label"])
        writer.writeheader()
        writer.writerows(rows)


def detect(root: Path, n: int = 3, *, yaml_text: str | None = None) -> None:
    """``n`` good images with one box each under images/train, labels/train and data.yaml."""
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    for i in range(n):
        (root / "images" / "train" / f"i{i}.png").write_bytes(GOOD)
        (root / "labels" / "train" / f"i{i}.txt").write_text(f"{i % 2} 0.5 0.5 0.2 0.3\n")
    (root / "data.yaml").write_text(yaml_text if yaml_text is not None else
                                    "path: .\ntrain: images/train\nnames: [cat, dog]\n")


def classify(root: Path) -> None:
    """train/a (2 images), train/b (1 image)."""
    for cls, n in (("a", 2), ("b", 1)):
        (root / "train" / cls).mkdir(parents=True)
        for i in range(n):
            (root / "train" / cls / f"{cls}{i}.png").write_bytes(GOOD)


def label(root: Path, stem: str, text: str) -> None:
    (root / "images" / "train" / f"{stem}.png").write_bytes(GOOD)
    (root / "labels" / "train" / f"{stem}.txt").write_text(text)


def link(at: Path, target: Path) -> None:
    at.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, at)


# ---------- the cases ----------

@dataclass
class Case:
    kind: str
    build: Callable[[Path, Path], None]  # (dataset root, outside folder)
    bad: str | None  # the path its one problem names (None: no problem expected)
    words: str  # in that problem's reason
    samples: int  # the good ones that still import
    also: set[str] = field(default_factory=set)  # other problem paths this layout implies


def _bad_row(name: str, age: object = 5) -> list[dict]:
    return [{"filename": name, "age_years": age, "subject": "house", "expert_label": ""}]


def _draw_with_file(rel: str, data: bytes | None = None, age: object = 5) -> Callable[[Path, Path], None]:
    def build(root: Path, out: Path) -> None:
        drawings(root, extra=_bad_row(rel, age))
        if data is not None:
            (root / rel).write_bytes(data)
    return build


def _nested_json(root: Path, out: Path) -> None:
    drawings(root, json_rows=True)
    (root / "metadata.json").write_text("[" * 100_000 + "]" * 100_000)


def _bomb(root: Path, out: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
              f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]" for i in range(8)]
    detect(root, yaml_text="\n".join(lines) + "\ntrain: images/train\nnames: [cat, dog]\n")


def _python_tag(root: Path, out: Path) -> None:
    marker = out / "tag-ran"
    detect(root, yaml_text=f"train: images/train\nnames: !!python/object/apply:os.system ['touch {marker}']\n")


def _deep_yaml(root: Path, out: Path) -> None:
    detect(root, yaml_text="train: images/train\nnames: [cat, dog]\nextra: " + "[" * 200 + "]" * 200 + "\n")


def _non_utf8(parent: Path, stem: bytes, suffix: bytes, data: bytes = GOOD) -> None:
    with open(os.fsencode(parent) + b"/" + stem + suffix, "wb") as fh:
        fh.write(data)


BAD_NAME = printable(os.fsdecode(b"bad\xff\xfe.png"))
BAD_DIR = printable(os.fsdecode(b"cl\xffss"))

CASES: dict[str, Case] = {
    # drawings: links and paths out of the root
    "drawings-linked-image": Case("drawings", lambda r, o: (drawings(r, extra=_bad_row("images/evil.png")),
                                                            link(r / "images/evil.png", o / "secret.png")),
                                  "images/evil.png", "outside the dataset folder", 3),
    "drawings-linked-image-unlisted": Case("drawings", lambda r, o: (drawings(r), link(r / "images/evil.png", o / "secret.png")),
                                           "images/evil.png", "outside the dataset folder", 3),
    "drawings-linked-metadata-csv": Case("drawings", lambda r, o: (drawings(r, json_rows=True),
                                                                   link(r / "metadata.csv", o / "secret.csv")),
                                         "metadata.csv", "outside the dataset folder", 3),
    "drawings-linked-metadata-json-only": Case("drawings", lambda r, o: (drawings(r, json_rows=True),
                                                                         (r / "metadata.json").unlink(),
                                                                         link(r / "metadata.json", o / "secret.json")),
                                               "metadata.json", "outside the dataset folder", 0),
    "drawings-absolute-path-out": Case("drawings", lambda r, o: drawings(r, extra=_bad_row(str(o / "secret.png"))),
                                       None, "outside the dataset folder", 3),
    "drawings-dotdot-path-out": Case("drawings", lambda r, o: drawings(r, extra=_bad_row("../../../secret.png")),
                                     "../../../secret.png", "outside the dataset folder", 3),
    "drawings-linked-folder": Case("drawings", lambda r, o: (drawings(r, extra=_bad_row("more/secret.png")),
                                                             link(r / "more", o)),
                                   "more/secret.png", "outside the dataset folder", 3, {"more"}),
    "drawings-symlink-loop": Case("drawings", lambda r, o: (drawings(r, extra=_bad_row("images/loop.png")),
                                                            link(r / "images/loop.png", Path("loop.png"))),
                                  "images/loop.png", "cannot be resolved", 3),
    # drawings: images that must not decode or blow up
    "drawings-30000px-png": Case("drawings", lambda r, o: _draw_with_file("images/huge.png", _huge_png())(r, o),
                                 "images/huge.png", "pixel", 3),
    "drawings-truncated-jpeg": Case("drawings", lambda r, o: _draw_with_file("images/cut.jpg", _jpeg_truncated())(r, o),
                                    "images/cut.jpg", "truncated", 3),
    "drawings-zero-byte-image": Case("drawings", _draw_with_file("images/empty.png", b""), "images/empty.png", "empty", 3),
    "drawings-folder-named-png-listed": Case("drawings", lambda r, o: (drawings(r, extra=_bad_row("images/dir.png")),
                                                                       (r / "images/dir.png").mkdir()),
                                             "images/dir.png", "not a file", 3),
    "drawings-folder-named-png": Case("drawings", lambda r, o: (drawings(r), (r / "images/dir.png").mkdir()),
                                      "images/dir.png", "folder named like an image", 3),
    "drawings-gif-listed": Case("drawings", _draw_with_file("images/x.gif", b"GIF89a"), "images/x.gif", "not a PNG", 3),
    # drawings: metadata values
    "drawings-nan-age": Case("drawings", _draw_with_file("images/n.png", _png(9, 48), "nan"), "images/n.png",
                             "outside the accepted", 3),
    "drawings-inf-age": Case("drawings", _draw_with_file("images/n.png", _png(9, 48), "inf"), "images/n.png",
                             "outside the accepted", 3),
    "drawings-huge-int-age-json": Case("drawings", lambda r, o: (drawings(r, json_rows=True),
                                                                 (r / "metadata.json").write_text(
                                                                     (r / "metadata.json").read_text()[:-1]
                                                                     + ', {"filename": "images/d0b.png", "age_years": 1'
                                                                     + "0" * 400 + "}]")),
                                       "images/d0b.png", "not a number", 3),
    "drawings-deeply-nested-json": Case("drawings", _nested_json, "metadata.json", "nested deeper", 0),
    "drawings-row-not-object": Case("drawings", lambda r, o: (drawings(r, json_rows=True),
                                                              (r / "metadata.json").write_text(
                                                                  (r / "metadata.json").read_text()[:-1] + ", 7]")),
                                    "metadata.json", "not an object", 3),
    "drawings-lone-surrogate-name": Case("drawings", lambda r, o: (drawings(r, json_rows=True),
                                                                   (r / "metadata.json").write_text(
                                                                       (r / "metadata.json").read_text()[:-1]
                                                                       + ', {"filename": "\\ud800.png", "age_years": 5,'
                                                                       + ' "subject": "\\udc80"}]')),
                                         "?.png", "file not found", 3),
    "drawings-nul-in-name": Case("drawings", lambda r, o: (drawings(r, json_rows=True),
                                                           (r / "metadata.json").write_text(
                                                               (r / "metadata.json").read_text()[:-1]
                                                               + ', {"filename": "a\\u0000.png", "age_years": 5}]')),
                                 "a\\x00.png", "file not found", 3),
    "drawings-non-utf8-file-name": Case("drawings", lambda r, o: (drawings(r), _non_utf8(r / "images", b"bad\xff\xfe", b".png")),
                                        "images/" + BAD_NAME, "not valid UTF-8", 3),
    "drawings-non-utf8-metadata-bytes": Case("drawings", lambda r, o: (drawings(r), open(r / "metadata.csv", "ab").write(
                                                 b"images/x\xff.png,5,house,\n")),
                                             "images/x\ufffd.png", "file not found", 3),
    # yolo detect: links out of the root
    "yolo-linked-label": Case("yolo", lambda r, o: (detect(r), (r / "labels/train/i1.txt").unlink(),
                                                    link(r / "labels/train/i1.txt", o / "secret.txt")),
                              "labels/train/i1.txt", "outside the dataset folder", 2),
    "yolo-linked-image": Case("yolo", lambda r, o: (detect(r), link(r / "images/train/evil.png", o / "secret.png")),
                              "images/train/evil.png", "outside the dataset folder", 3),
    "yolo-linked-image-with-label": Case("yolo", lambda r, o: (detect(r), link(r / "images/train/evil.png", o / "secret.png"),
                                                               (r / "labels/train/evil.txt").write_text("0 .5 .5 .1 .1\n")),
                                         "images/train/evil.png", "outside the dataset folder", 3),
    "yolo-linked-data-yaml": Case("yolo", lambda r, o: (detect(r), (r / "data.yaml").unlink(),
                                                        link(r / "data.yaml", o / "secret.yaml")),
                                  "data.yaml", "outside the dataset folder", 3),
    "yolo-linked-list-file": Case("yolo", lambda r, o: (detect(r, yaml_text="train: [images/train, evil.txt]\nnames: [a, b]\n"),
                                                        link(r / "evil.txt", o / "list.txt")),
                                  "data.yaml", "evil.txt is outside", 3),
    "yolo-list-file-line-out": Case("yolo", lambda r, o: (detect(r, yaml_text="train: [images/train, more.txt]\nnames: [a, b]\n"),
                                                          (r / "more.txt").write_text(f"{o}/secret.png\n")),
                                    "more.txt", "outside the dataset folder", 3),
    "yolo-train-absolute-out": Case("yolo", lambda r, o: detect(r, yaml_text=f"train: [images/train, {o}]\nnames: [a, b]\n"),
                                    "data.yaml", "outside the dataset folder", 3),
    "yolo-linked-split-folder": Case("yolo", lambda r, o: (detect(r, yaml_text="train: images/train\nval: images/val\nnames: [a, b]\n"),
                                                           link(r / "images/val", o / "cls")),
                                     "data.yaml", "outside the dataset folder", 3),
    "yolo-symlink-loop-image": Case("yolo", lambda r, o: (detect(r), link(r / "images/train/loop.png", Path("loop.png"))),
                                    "images/train/loop.png", "cannot be resolved", 3),
    # yolo detect: data.yaml that must load as plain data or not at all
    "yolo-yaml-alias-bomb": Case("yolo", _bomb, "data.yaml", "not allowed", 3),
    "yolo-yaml-python-tag": Case("yolo", _python_tag, "data.yaml", "tag", 3),
    "yolo-yaml-duplicate-key": Case("yolo", lambda r, o: detect(r, yaml_text="train: images/train\nnames: [a]\nnames: [a, b]\n"),
                                    "data.yaml", "duplicate key", 3),
    "yolo-yaml-deeply-nested": Case("yolo", _deep_yaml, "data.yaml", "nested deeper", 3),
    "yolo-yaml-syntax-error": Case("yolo", lambda r, o: detect(r, yaml_text="train: [images/train\nnames: {a\n"),
                                   "data.yaml", "not valid YAML", 3),
    "yolo-yaml-empty": Case("yolo", lambda r, o: detect(r, yaml_text=""), "data.yaml", "mapping", 3),
    "yolo-yaml-huge-class-ids": Case("yolo", lambda r, o: detect(r, yaml_text="train: images/train\n"
                                                                             "names: {0: a, 99999999999: b}\n"),
                                     "data.yaml", "class ids must run", 3),
    # yolo detect: label values
    "yolo-nan-class": Case("yolo", lambda r, o: (detect(r), label(r, "x", "nan 0.5 0.5 0.1 0.1\n")),
                           "labels/train/x.txt", "not an integer", 3),
    "yolo-inf-class": Case("yolo", lambda r, o: (detect(r), label(r, "x", "inf 0.5 0.5 0.1 0.1\n")),
                           "labels/train/x.txt", "not an integer", 3),
    "yolo-huge-class": Case("yolo", lambda r, o: (detect(r), label(r, "x", "1e300 0.5 0.5 0.1 0.1\n")),
                            "labels/train/x.txt", "out of range", 3),
    "yolo-huge-class-no-yaml": Case("yolo", lambda r, o: (detect(r), (r / "data.yaml").unlink(),
                                                          label(r, "x", "1e12 0.5 0.5 0.1 0.1\n")),
                                    "labels/train/x.txt", "out of range", 3, {"data.yaml"}),
    "yolo-nan-coordinate": Case("yolo", lambda r, o: (detect(r), label(r, "x", "0 nan 0.5 0.1 0.1\n")),
                                "labels/train/x.txt", "outside 0-1", 3),
    "yolo-inf-coordinate": Case("yolo", lambda r, o: (detect(r), label(r, "x", "0 0.5 inf 0.1 0.1\n")),
                                "labels/train/x.txt", "outside 0-1", 3),
    "yolo-minus-inf-width": Case("yolo", lambda r, o: (detect(r), label(r, "x", "0 0.5 0.5 -inf 0.1\n")),
                                 "labels/train/x.txt", "outside 0-1", 3),
    "yolo-overflow-coordinate": Case("yolo", lambda r, o: (detect(r), label(r, "x", "0 0.5 0.5 1e400 0.1\n")),
                                     "labels/train/x.txt", "outside 0-1", 3),
    "yolo-binary-label": Case("yolo", lambda r, o: (detect(r), (r / "images/train/x.png").write_bytes(GOOD),
                                                    (r / "labels/train/x.txt").write_bytes(b"\xff\xfe\x00garbage\n")),
                              "labels/train/x.txt", "non-numeric", 3),
    "yolo-huge-label-line": Case("yolo", lambda r, o: (detect(r), label(r, "x", "0 " + "z" * 200_000 + "\n")),
                                 "labels/train/x.txt", "non-numeric", 3),
    "yolo-label-is-folder": Case("yolo", lambda r, o: (detect(r), (r / "images/train/x.png").write_bytes(GOOD),
                                                       (r / "labels/train/x.txt").mkdir()),
                                 "labels/train/x.txt", "cannot read label file", 3),
    "yolo-empty-label": Case("yolo", lambda r, o: (detect(r), label(r, "bg", "")), "labels/train/bg.txt",
                             "background", 4),
    # yolo detect: images
    "yolo-30000px-png": Case("yolo", lambda r, o: (detect(r), label(r, "x", "0 .5 .5 .1 .1\n"),
                                                   (r / "images/train/x.png").write_bytes(_huge_png())),
                             "images/train/x.png", "pixel", 3),
    "yolo-truncated-jpeg": Case("yolo", lambda r, o: (detect(r), (r / "images/train/x.jpg").write_bytes(_jpeg_truncated()),
                                                      (r / "labels/train/x.txt").write_text("0 .5 .5 .1 .1\n")),
                                "images/train/x.jpg", "truncated", 3),
    "yolo-zero-byte-image": Case("yolo", lambda r, o: (detect(r), label(r, "x", "0 .5 .5 .1 .1\n"),
                                                       (r / "images/train/x.png").write_bytes(b"")),
                                 "images/train/x.png", "unreadable image", 3),
    "yolo-folder-named-png": Case("yolo", lambda r, o: (detect(r), (r / "images/train/dir.png").mkdir()),
                                  "images/train/dir.png", "folder named like an image", 3),
    "yolo-non-utf8-image-name": Case("yolo", lambda r, o: (detect(r), _non_utf8(r / "images/train", b"bad\xff\xfe", b".png")),
                                     "images/train/" + BAD_NAME, "not valid UTF-8", 3),
    "yolo-non-utf8-orphan-label": Case("yolo", lambda r, o: (detect(r), _non_utf8(r / "labels/train", b"bad\xff\xfe", b".txt",
                                                                                  b"0 .5 .5 .1 .1\n")),
                                       "labels/train/" + printable(os.fsdecode(b"bad\xff\xfe.txt")), "without an image", 3),
    # yolo classify
    "classify-linked-class-folder": Case("yolo", lambda r, o: (classify(r), link(r / "train/evil", o / "cls")),
                                         "train/evil", "outside the dataset folder", 3),
    "classify-linked-split-folder": Case("yolo", lambda r, o: (classify(r), link(r / "val", o / "split")),
                                         "val", "outside the dataset folder", 3),
    "classify-linked-image": Case("yolo", lambda r, o: (classify(r), link(r / "train/a/evil.png", o / "secret.png")),
                                  "train/a/evil.png", "outside the dataset folder", 3),
    "classify-non-utf8-class-folder": Case("yolo", lambda r, o: (classify(r), os.mkdir(os.fsencode(r / "train") + b"/cl\xffss")),
                                           "train/" + BAD_DIR, "not valid UTF-8", 3),
    "classify-truncated-jpeg": Case("yolo", lambda r, o: (classify(r), (r / "train/b/x.jpg").write_bytes(_jpeg_truncated())),
                                    "train/b/x.jpg", "truncated", 3),
    "classify-30000px-png": Case("yolo", lambda r, o: (classify(r), (r / "train/b/x.png").write_bytes(_huge_png())),
                                 "train/b/x.png", "pixel", 3),
    "classify-zero-byte-image": Case("yolo", lambda r, o: (classify(r), (r / "train/a/z.png").write_bytes(b"")),
                                     "train/a/z.png", "unreadable image", 3),
}


def _stored_text(dataset_id: int) -> str:
    with session_scope() as s:
        ds = queries.get_dataset(session=s, dataset_id=dataset_id)
        rows = [(x.path, x.label, x.group_key, x.split, x.flags, x.meta)
                for x in queries.dataset_samples(session=s, dataset_id=dataset_id)]
        return json.dumps([ds.name, ds.root, ds.summary, rows], default=str)


def test_there_are_at_least_40_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_one_bad_file_is_one_problem_and_nothing_outside_is_read(stack, outside, case_id):
    case = CASES[case_id]
    root = get_settings().resolved_data_root / f"bad-{case_id}"
    root.mkdir(parents=True)
    case.build(root, outside)
    if case.bad is None:  # an absolute path: its spelling depends on where the outside folder is
        case.bad = str(outside / "secret.png")

    (dataset, report), opened = _opened_during(
        lambda: import_dataset(name=f"bad-{case_id}", kind=case.kind, root=root))

    problems = [str(p) for p in report.problems]
    naming = [p for p in report.problems if p.path == case.bad]
    assert len(naming) == 1, problems
    assert case.words in naming[0].reason, problems
    assert {p.path for p in report.problems} <= {case.bad} | case.also, problems
    assert len(report.samples) == case.samples, problems
    stored = _stored_text(dataset.id)
    assert SECRET not in "\n".join(problems) and SECRET not in stored
    outside_real = os.path.realpath(outside)
    read_outside = [p for p in opened if os.path.realpath(p) == outside_real
                    or os.path.realpath(p).startswith(outside_real + os.sep)]
    assert not read_outside, read_outside
    assert not (outside / "tag-ran").exists()


def test_bare_names_resolve_under_images_and_relative_to_the_metadata_folder(stack):
    """The common layout: images/ holds the files, metadata.csv lists bare names (and a few paths)."""
    root = get_settings().resolved_data_root / "bare-names"
    (root / "images" / "deep").mkdir(parents=True)
    rows = []
    for i in range(12):
        sub = "images/deep" if i % 4 == 0 else "images"
        (root / sub / f"b{i}.png").write_bytes(_png(i, 48))
        name = f"b{i}.png" if i % 3 else f"./{sub}/b{i}.png"
        rows.append({"filename": name, "age_years": 4 + i % 8, "subject": "tree", "expert_label": "normal"})
    link(root / "images" / "alias.png", Path("b1.png"))  # a link that stays inside is fine
    rows.append({"filename": "alias.png", "age_years": 6, "subject": "tree", "expert_label": ""})
    with open(root / "metadata.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    dataset, report = import_dataset(name="bare-names", kind="drawings", root=root)
    assert report.problems == []
    paths = sorted(s.path for s in report.samples)
    assert len(paths) == 13
    assert "images/deep/b4.png" in paths and "images/b1.png" in paths and "images/deep/b0.png" in paths
    assert "images/alias.png" in paths


def test_an_ambiguous_bare_name_is_one_problem_naming_the_candidates(stack):
    root = get_settings().resolved_data_root / "ambiguous"
    for sub in ("a", "b"):
        (root / sub).mkdir(parents=True)
        (root / sub / "same.png").write_bytes(_png(3, 48))
    (root / "one.png").write_bytes(_png(4, 48))
    (root / "metadata.csv").write_text("filename,age_years\nsame.png,5\none.png,6\n")
    _, report = import_dataset(name="ambiguous", kind="drawings", root=root)
    hits = [p for p in report.problems if p.path == "same.png"]
    assert len(hits) == 1 and "a/same.png" in hits[0].reason and "b/same.png" in hits[0].reason, report.problems
    assert [s.path for s in report.samples] == ["one.png"]


@pytest.mark.parametrize("kind", ["yolo", "drawings"])
def test_sample_data_refuses_a_name_that_leaves_the_data_root_before_touching_anything(stack, capsys, kind):
    from cli import main

    data_root = get_settings().resolved_data_root
    victim = (data_root / ".." / ".." / f"victim-{kind}").resolve()
    victim.mkdir(parents=True, exist_ok=True)
    (victim / "keep.txt").write_text("precious")
    before = sorted(p.name for p in victim.iterdir())

    assert main(["sample-data", kind, "--name", f"../../victim-{kind}", "--count", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "not a plain folder name" in err and "\n" not in err
    assert sorted(p.name for p in victim.iterdir()) == before
    assert (victim / "keep.txt").read_text() == "precious"

    link(data_root / f"lnk-{kind}", victim)  # a plain name that is a link out of the data root
    assert main(["sample-data", kind, "--name", f"lnk-{kind}", "--count", "4"]) == 2
    assert "outside the data root" in capsys.readouterr().err
    assert sorted(p.name for p in victim.iterdir()) == before


def test_importing_a_taken_name_is_a_one_line_error_and_replace_rescans(stack, capsys):
    from cli import main

    root = get_settings().resolved_data_root / "taken"
    drawings(root)
    assert main(["import", "drawings", str(root), "--name", "taken"]) == 0
    capsys.readouterr()
    assert main(["import", "drawings", str(root), "--name", "taken"]) == 2
    captured = capsys.readouterr()
    assert "error: dataset 'taken' exists; choose another name or use --replace" in captured.err.splitlines()
    assert "Traceback" not in captured.out + captured.err
    with pytest.raises(DatasetExists):
        import_dataset(name="taken", kind="drawings", root=root)
    (root / "images" / "d9.png").write_bytes(_png(9, 48))
    with open(root / "metadata.csv", "a") as fh:
        fh.write("images/d9.png,7,sun,normal\n")
    assert main(["import", "drawings", str(root), "--name", "taken", "--replace"]) == 0
    assert "4 samples" in capsys.readouterr().out


def test_the_page_says_a_taken_name_in_one_line(stack):
    from streamlit.testing.v1 import AppTest

    root = get_settings().resolved_data_root / "taken-page"
    drawings(root)
    import_dataset(name="taken-page", kind="drawings", root=root)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "Home.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/1_Data_Sufficiency.py")
    at.run()
    at.selectbox[0].set_value("drawings")
    at.text_input[0].set_value(str(root))
    at.text_input(key="import-name").set_value("taken-page")
    at.run()
    next(b for b in at.button if b.label == "Import").click()
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Dataset 'taken-page' exists; choose another name or tick *Replace*."]
    at.checkbox(key="import-replace").check()
    next(b for b in at.button if b.label == "Import").click()
    at.run()
    assert not at.error and any("Imported 3 samples" in s.value for s in at.success)


def test_ultralytics_label_cache_is_looked_for_in_the_training_view_never_in_the_dataset(stack, tmp_path):
    """Ultralytics unpickles ``labels/<split>.cache``: one planted in a dataset folder must never be found."""
    from ultralytics.data.utils import img2label_paths

    from engine.families.yolo.data import scan
    from engine.families.yolo.prepare import build_training_view

    root = get_settings().resolved_data_root / "planted-cache"
    detect(root)
    (root / "labels" / "train.cache").write_bytes(b"crafted pickle")
    view, sizes = build_training_view(scan(root), tmp_path / "view", train_ratio=0.5, seed=0)
    for split in ("train", "val"):
        images = (tmp_path / "view" / f"{split}.txt").read_text().split()
        assert len(images) == sizes[split] > 0
        labels = img2label_paths(images)
        cache = Path(labels[0]).parent.with_suffix(".cache")
        assert cache.parent == tmp_path / "view" / "labels", cache
        assert all(Path(lbl).read_text().startswith(("0 ", "1 ")) for lbl in labels)  # each label reachable


def test_a_junk_image_is_one_problem_even_after_ultralytics_patched_pil(stack, tmp_path):
    """Ultralytics replaces ``Image.open`` (a worker imports it); a junk file must not make it import or install a plugin."""
    import ultralytics.utils.patches  # noqa: F401

    from engine.safeio import UnsafeFile, check_image

    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    with pytest.raises(UnsafeFile, match="not a readable image"):
        check_image(tmp_path / "junk.png")
