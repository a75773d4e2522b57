"""Every command of ``python -m engine`` answers ``--help`` on its own: no other argument, no
database, exit 0 (``sweep --help`` used to exit 2 asking for a family)."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of the parser tree: (), ("train",), ("train", "anomaly"), ..."""
    out = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += _commands(sub, (*path, name))
    return out


COMMANDS = _commands(build_parser())


def test_the_tree_has_every_command_and_family():
    from engine.families import BUILTIN

    names = {c[0] for c in COMMANDS if c}
    assert {"sample-data", "import", "train", "sweep"} <= names
    for cmd in ("train", "sweep"):
        assert {f.key for f in BUILTIN} <= {c[1] for c in COMMANDS if len(c) == 2 and c[0] == cmd}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "(top)")
def test_help_works_without_other_arguments(command, tmp_path):
    env = {**os.environ, "TRAINYARD_HOME": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    out = subprocess.run([sys.executable, "-m", "engine", *command, "--help"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"usage: python -m engine {' '.join(command)}".rstrip())
    assert not list(tmp_path.iterdir()), "--help touched the installation"
