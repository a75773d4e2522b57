"""Reading untrusted dataset files safely: confined paths, capped images, plain YAML/JSON.

Every dataset kind reads its files through these functions, so a symlink cannot lead a scan
outside the dataset root, a decompression bomb cannot exhaust memory, and a YAML alias bomb or
a deeply nested JSON cannot hang or crash an import. Each raises ``UnsafeFile`` (a
``ValueError``) with a reason that fits in one problem line; callers turn it into a ``Problem``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["UnsafeFile", "MAX_PIXELS", "MAX_TEXT_BYTES", "MAX_NESTING", "is_within", "inside", "open_image",
           "check_image", "load_yaml", "load_json", "read_text"]

MAX_PIXELS = 40_000_000  # ~6300 x 6300: above any training image, far below a decompression bomb
MAX_TEXT_BYTES = 64 << 20  # label, metadata and YAML files
MAX_NESTING = 64


class UnsafeFile(ValueError):
    """A dataset file refused for safety; the message is the reason, without the path."""


def is_within(path: Path, folder: Path) -> bool:
    """True when ``path`` is ``folder`` or lies under it (both already resolved)."""
    return path == folder or folder in path.parents


def inside(root: Path, path: str | Path) -> Path:
    """Resolve ``path`` (relative to ``root`` unless absolute), symlinks followed, and refuse it
    unless it stays inside ``root``."""
    base = Path(root).resolve()
    p = Path(path)
    try:
        resolved = (p if p.is_absolute() else base / p).resolve()
    except (RuntimeError, OSError, ValueError):  # a symlink loop, a NUL byte
        raise UnsafeFile("cannot be resolved (a symlink loop or an invalid name); not read") from None
    if not is_within(resolved, base):
        raise UnsafeFile("resolves outside the dataset folder (symlink or '..'); not read")
    return resolved


def read_text(path: Path, *, limit: int = MAX_TEXT_BYTES) -> str:
    """A text file as UTF-8 (undecodable bytes replaced), refusing files over ``limit`` bytes."""
    size = Path(path).stat().st_size
    if size > limit:
        raise UnsafeFile(f"file is {size:,} bytes; over the {limit:,}-byte limit for text files")
    return Path(path).read_bytes().decode("utf-8", errors="replace")


def open_image(path: Path, *, max_pixels: int = MAX_PIXELS, mode: str | None = "RGB"):
    """Open and fully decode an image (truncated files are errors, not grey padding), refusing
    more than ``max_pixels`` before anything is decoded."""
    from PIL import Image

    try:
        with _pil_open()(path) as im:
            w, h = im.size
            if w * h > max_pixels:
                raise UnsafeFile(f"image is {w}x{h} = {w * h:,} pixels; over the {max_pixels:,}-pixel limit")
            im.load()
            return im.convert(mode) if mode else im.copy()
    except UnsafeFile:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise UnsafeFile(f"not a readable image ({type(exc).__name__}: {exc})") from None


def _pil_open():
    """PIL's own ``Image.open``: once Ultralytics is imported (a worker), its replacement answers an
    unidentified file by importing, or installing, a HEIF plugin, and that error is no image problem."""
    from PIL import Image

    return getattr(sys.modules.get("ultralytics.utils.patches"), "_image_open", Image.open)


def check_image(path: Path, *, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """Decode the image once to prove it is whole; return ``(width, height)``."""
    im = open_image(path, max_pixels=max_pixels, mode=None)
    return im.size


def _depth_ok(value: Any, limit: int) -> None:
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if d > limit:
            raise UnsafeFile(f"nested deeper than {limit} levels")
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)


def load_yaml(text_or_path: str | Path, *, max_nesting: int = MAX_NESTING) -> Any:
    """Plain YAML: no aliases/anchors (alias bombs), no tags, no duplicate keys, bounded nesting.

    Raises ``UnsafeFile`` with the line and column of the offending node."""
    import yaml

    text = read_text(text_or_path) if isinstance(text_or_path, Path) else text_or_path

    class _Loader(yaml.SafeLoader):
        pass

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise UnsafeFile(f"line {mark.line + 1}, column {mark.column + 1}: YAML aliases (*name) are not allowed")
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            mark = event.start_mark
            raise UnsafeFile(f"line {mark.line + 1}, column {mark.column + 1}: YAML anchors (&{anchor}) are not allowed")
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and not str(tag).startswith("tag:yaml.org,2002:"):
            mark = event.start_mark
            raise UnsafeFile(f"line {mark.line + 1}, column {mark.column + 1}: YAML tag {tag} is not allowed")
        return yaml.SafeLoader.compose_node(self, parent, index)

    def construct_mapping(self, node, deep=False):
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                dup = key in seen
            except TypeError:
                continue
            if dup:
                mark = key_node.start_mark
                raise UnsafeFile(f"line {mark.line + 1}, column {mark.column + 1}: duplicate key {key!r}")
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(self, node, deep=deep)

    _Loader.compose_node = compose_node
    _Loader.construct_mapping = construct_mapping
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except UnsafeFile:
        raise
    except yaml.YAMLError as exc:
        raise UnsafeFile(f"not valid YAML: {exc}".replace("\n", " ")) from None
    except RecursionError:
        raise UnsafeFile(f"nested deeper than {max_nesting} levels") from None
    _depth_ok(data, max_nesting)
    return data


def load_json(text_or_path: str | Path, *, max_nesting: int = MAX_NESTING) -> Any:
    """JSON with bounded nesting (a deeply nested file is a problem, not a RecursionError)."""
    text = read_text(text_or_path) if isinstance(text_or_path, Path) else text_or_path
    depth = 0
    in_str = esc = False
    for ch in text:  # reject excessive nesting before the recursive parser sees it
        if in_str:
            esc = (not esc) and ch == "\\"
            if ch == '"' and not esc:
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > max_nesting:
                raise UnsafeFile(f"nested deeper than {max_nesting} levels")
        elif ch in "]}":
            depth -= 1
    try:
        return json.loads(text, parse_constant=lambda c: float(c))
    except json.JSONDecodeError as exc:
        raise UnsafeFile(f"not valid JSON: {exc}") from None
