"""The floors of docs/architecture.md, held against the code's imports: no module imports a
floor above its own, and no import circle exists (function-local imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import entrobust

ROOT = Path(entrobust.__file__).parent

#: Top-level rooms of the package, lowest floor first (docs/architecture.md).
FLOORS: dict[str, int] = {
    **dict.fromkeys(
        ("tensors", "seeding", "errors", "modes", "progress", "environment", "paperdata"), 1
    ),
    **dict.fromkeys(("losses", "atomic", "checkpoint", "device", "registry"), 2),
    **dict.fromkeys(("attacks", "data", "models", "external", "statefiles"), 3),
    **dict.fromkeys(("evaluation", "defenses"), 4),
    **dict.fromkeys(("training", "audit", "worst_case"), 5),
    **dict.fromkeys(("analysis", "__init__"), 6),
    "bench": 7,
    **dict.fromkeys(("cli", "__main__"), 8),
}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports() -> dict[str, set[str]]:
    """``module -> the entrobust modules it imports``. ``from pkg import sub`` (a submodule)
    counts as importing ``sub`` only; ``from pkg import name`` as importing ``pkg``."""
    paths = {_module(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in paths.items():
        out = graph.setdefault(mod, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    out.add(sub if sub in paths else node.module)
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
    return {m: {t for t in ts if t in paths and t != m} for m, ts in graph.items()}


def test_every_room_has_a_floor():
    rooms = {_room(m) for m in _imports()}
    assert rooms <= set(FLOORS), sorted(rooms - set(FLOORS))


def test_no_import_runs_back_up():
    up = [
        f"{m} (floor {FLOORS[_room(m)]}) imports {t} (floor {FLOORS[_room(t)]})"
        for m, targets in _imports().items()
        for t in targets
        if t != "entrobust" and FLOORS[_room(t)] > FLOORS[_room(m)]
    ]
    assert not up, "\n".join(sorted(up))


def test_no_import_circle():
    graph = _imports()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for t in sorted(graph[m]):
            if t == "entrobust":
                continue  # the package's __init__ re-exports; nothing below imports it
            if state.get(t) == 1:
                return [*stack[stack.index(t) :], t]
            if t not in state and (found := visit(t)):
                return found
        state[m] = 2
        stack.pop()
        return None

    for m in sorted(graph):
        if m not in state:
            assert (circle := visit(m)) is None, " -> ".join(circle)
