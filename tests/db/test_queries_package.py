"""``db.queries`` is a package of one module per entity, re-exported as one flat namespace."""
from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

from db import queries

MODULES = sorted(m.name for m in pkgutil.iter_modules(queries.__path__))


def test_every_module_is_re_exported_and_no_name_is_exported_twice():
    seen: dict[str, str] = {}
    for name in MODULES:
        module = importlib.import_module(f"db.queries.{name}")
        for exported in module.__all__:
            assert exported not in seen, f"{exported} is exported by both {seen[exported]} and {name}"
            seen[exported] = name
            assert getattr(queries, exported) is getattr(module, exported), f"queries.{exported} is not {name}'s"
    assert sorted(queries.__all__) == sorted(seen)


def test_no_function_is_defined_twice_in_the_package():
    """The old single file defined ``list_sweeps`` twice and the second silently won."""
    where: dict[str, str] = {}
    for path in sorted(Path(queries.__file__).parent.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef):
                assert node.name not in where, f"{node.name} is defined in {where[node.name]} and {path.name}"
                where[node.name] = path.name
    assert where["list_sweeps"] == "sweeps.py"
