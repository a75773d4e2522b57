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


def test_the_entry_point_answers_help_in_a_fresh_interpreter(tmp_path):
    """``python -m engine --help`` as a user types it (the other commands go through the same
    ``cli.main`` in-process below: a fresh interpreter each would cost ~0.5 s apiece)."""
    env = {**os.environ, "TRAINYARD_HOME": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    out = subprocess.run([sys.executable, "-m", "engine", "sweep", "--help"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: python -m engine sweep")
    assert not list(tmp_path.iterdir()), "--help touched the installation"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "(top)")
def test_help_works_without_other_arguments(command, tmp_path, monkeypatch, capsys):
    import cli
    from settings import get_settings

    monkeypatch.setenv("TRAINYARD_HOME", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exit_:
            cli.main([*command, "--help"])
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr()
    assert exit_.value.code == 0, out.err
    assert out.out.startswith(f"usage: python -m engine {' '.join(command)}".rstrip())
    assert not list(tmp_path.iterdir()), "--help touched the installation"
