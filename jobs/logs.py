"""A run's log file: Python logging plus everything the libraries print, at the fd level."""
from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOG_NAME = "train.log"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextmanager
def capture_run_output(path: Path) -> Iterator[None]:
    """Send stdout, stderr (file descriptors 1 and 2, so C libraries and handlers bound to
    the original streams too) and logging to ``path`` for the duration; restore afterwards."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    handler = logging.StreamHandler(open(path, "a", buffering=1))
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    old_level = root.level
    # handlers bound to the process's stdout/stderr would now write into the file too: every line
    # would be there twice (once from them, once from ``handler``); they rest while the run lasts
    echoes = [h for h in root.handlers if type(h) is logging.StreamHandler
              and getattr(h, "stream", None) in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)]
    try:
        for h in echoes:
            root.removeHandler(h)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        root.addHandler(handler)
        root.setLevel(min(old_level or logging.INFO, logging.INFO))
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        root.removeHandler(handler)
        for h in echoes:
            root.addHandler(h)
        root.setLevel(old_level)
        handler.close()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (*saved, fd):
            os.close(f)


# CSI (colours, cursor moves, erase-line), OSC (titles, hyperlinks) and lone two-byte escapes
ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def clean_log(text: str) -> str:
    """Terminal output made readable as plain text: ANSI escapes stripped, each carriage-return
    progress bar reduced to its last drawn state, runs of identical lines shown once with a count."""
    out: list[str] = []
    repeats = 0
    for raw in ANSI.sub("", text).replace("\r\n", "\n").split("\n"):
        # a bar redraws one line with \r; its last non-blank state is what a terminal ends up showing
        states = [part for part in raw.split("\r") if part.strip()]
        line = states[-1].rstrip() if states else ""
        if out and line == out[-1]:
            repeats += bool(line)  # blank runs shrink to one blank line, uncounted
            continue
        if repeats:
            out[-1] += f"  [×{repeats + 1}]"
        repeats = 0
        out.append(line)
    if repeats:
        out[-1] += f"  [×{repeats + 1}]"
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def tail(path: Path, lines: int = 200, max_bytes: int = 256_000) -> str:
    """The last ``lines`` lines of a log file, cleaned by :func:`clean_log` ('' when there is none yet)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
    if size > max_bytes:
        data = data.split("\n", 1)[-1]  # the first line was cut by the seek
    cleaned = clean_log(data).split("\n")
    return "\n".join(cleaned[-lines:])
