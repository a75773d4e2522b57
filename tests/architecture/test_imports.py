"""The arrows point down (STYLE.md): pages → ui → jobs → engine → db → settings, and a family
sees only the engine. Walked with ``ast`` over every project module, imports inside functions
included, so a lazy import cannot hide a wrong arrow or a cycle."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "db", "jobs", "ui", "pages", "cli", "bench")
TOP_FILES = ("settings.py", "Home.py")

# layer → the top-level packages it must never import
FORBIDDEN = {
    "engine/families": ("db", "jobs", "ui", "pages", "cli"),
    "engine": ("jobs", "ui", "pages", "cli"),
    "db": ("jobs", "ui", "pages", "engine", "cli"),
    "jobs": ("ui", "pages", "cli"),
    "ui": ("pages", "cli"),
    "settings.py": ("engine", "db", "jobs", "ui", "pages", "cli"),
}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def project_files() -> list[Path]:
    files = [ROOT / f for f in TOP_FILES if (ROOT / f).exists()]
    for pkg in PACKAGES:
        if (ROOT / pkg).is_dir():
            files += sorted(p for p in (ROOT / pkg).rglob("*.py") if "__pycache__" not in p.parts)
    return files


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports (absolute names; relative ones resolved), with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1] if node.level > 1 else base
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
            # ``from pkg import submodule`` imports the submodule too
            out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
    return out


FILES = project_files()
MODULES = {module_name(p): p for p in FILES}


def layer_of(path: Path) -> str | None:
    rel = path.relative_to(ROOT).as_posix()
    for layer in sorted(FORBIDDEN, key=len, reverse=True):
        if rel == layer or rel.startswith(layer + "/"):
            return layer
    return None


def test_the_walk_sees_the_project() -> None:
    assert len(FILES) > 100 and "engine.core" in MODULES and "jobs.tasks" in MODULES
    # a planted wrong arrow is found (the check itself can fail)
    assert any(mod == "db.session" for _, mod in imports_of(ROOT / "jobs" / "tasks.py"))


def test_no_import_breaks_a_layer_rule() -> None:
    bad = []
    for path in FILES:
        layer = layer_of(path)
        if layer is None:
            continue
        for line, mod in imports_of(path):
            top = mod.split(".")[0]
            if top in FORBIDDEN[layer]:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {mod} ({layer} must not import {top})")
    assert not bad, "\n".join(sorted(set(bad)))


def project_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for name, path in MODULES.items():
        for _, mod in imports_of(path):
            if mod in MODULES and mod != name:
                graph[name].add(mod)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    import sys

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def is_package_init(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]


def test_no_import_cycle_between_modules() -> None:
    graph = project_graph()
    # a package's __init__ re-exporting its own modules is not a cycle of concepts
    for name in graph:
        graph[name] = {m for m in graph[name]
                       if not (is_package_init(m) and name.startswith(m + "."))}
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" ↔ ".join(c) for c in found)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_every_layer_has_files(layer: str) -> None:
    assert any(layer_of(p) == layer for p in FILES)
