"""The arrows of the design, checked on the source: bot -> core -> db, training -> core, no cycles.

Every module's imports are read with `ast` (nothing is imported), resolved to the project's own modules,
and checked against the forbidden edges of the design:

* core never imports bot or training; db imports neither core nor bot (nor training);
* bot never imports training, except the CLI's train/eval/bench verbs (`moodtape.bot.commands.lab`), and
  only inside a function, so the import happens when such a verb is invoked and never at start-up;
* no import cycle between modules, counting imports inside functions too (a function-level import does
  not make a cycle acceptable, it only hides it); imports under `if TYPE_CHECKING:` are annotations only.

The checker is a plain function so the tests below can also plant a forbidden import and a cycle in a
throwaway tree and see it fail.  A last group runs the real CLI with `-X importtime` and checks that the
commands people run every day load no training code, no matplotlib and (but for `run`/`worker`) no
scheduler.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "moodtape"
LAYERS = ("bot", "core", "db", "training")
#: (importing layer, imported layer) pairs that must never occur
FORBIDDEN = {
    ("core", "bot"), ("core", "training"),
    ("db", "core"), ("db", "bot"), ("db", "training"),
    ("bot", "training"),
}
#: modules allowed to import training lazily (inside a function): the CLI verbs that run training code
LAZY_TRAINING_DOORS = {"moodtape.bot.commands.lab"}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    lazy: bool  # inside a function (runs when called, not at import time)


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([NAMESPACE, *parts])


def project_modules(root: Path) -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for layer in LAYERS:
        for path in sorted((root / layer).rglob("*.py")):
            if "__pycache__" not in path.parts:
                modules[module_name(root, path)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.Module) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Import statements with whether each is inside a function; TYPE_CHECKING blocks are skipped."""
    found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    visit(other, lazy)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append((child, lazy))
            visit(child, lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The most specific project module that `name` (a module or a name inside one) refers to."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_edges(root: Path) -> list[Edge]:
    modules = project_modules(root)
    edges: list[Edge] = []
    for source, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        package = source if path.name == "__init__.py" else source.rpartition(".")[0]
        for node, lazy in _imports(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base]) if base else ".".join(anchor)
                targets = [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                resolved = _resolve(target, modules)
                if resolved is not None and resolved != source:
                    edges.append(Edge(source, resolved, node.lineno, lazy))
    return edges


def layer_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 else ""


def forbidden_edges(edges: list[Edge]) -> list[str]:
    problems = []
    for edge in edges:
        pair = (layer_of(edge.source), layer_of(edge.target))
        if pair not in FORBIDDEN:
            continue
        if pair == ("bot", "training") and edge.lazy and edge.source in LAZY_TRAINING_DOORS:
            continue
        problems.append(f"{edge.source}:{edge.line} imports {edge.target} ({pair[0]} -> {pair[1]})")
    return problems


def import_cycles(edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
        graph.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


# ---------------------------------------------------------------------------------------------- the project
def test_no_forbidden_import_between_layers() -> None:
    problems = forbidden_edges(import_edges(ROOT))
    assert not problems, "forbidden imports:\n" + "\n".join(problems)


def test_no_import_cycles() -> None:
    cycles = import_cycles(import_edges(ROOT))
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_every_package_folder_is_installed() -> None:
    """A package missing from pyproject's list would be absent from the wheel (and only the wheel)."""
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {module_name(ROOT, init) for layer in LAYERS for init in (ROOT / layer).rglob("__init__.py")}
    assert declared == on_disk


# ---------------------------------------------------------------------------------------------- the checker
def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for layer in LAYERS:
        (tmp_path / layer).mkdir(exist_ok=True)
        (tmp_path / layer / "__init__.py").touch()
    return tmp_path


def test_a_planted_forbidden_import_is_reported(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "core/engine.py": "from moodtape.bot.render import chat_text\n",
        "bot/render.py": "def chat_text(): ...\n",
        "db/store.py": "def f():\n    from moodtape.core import engine\n",
        "bot/commands/lab.py": "def run():\n    from moodtape.training import commands\n",
        "bot/commands/chat.py": "import moodtape.training.commands\n",
        "training/commands.py": "from moodtape.core.engine import x\n",
    })
    problems = forbidden_edges(import_edges(root))
    assert any(p.startswith("moodtape.core.engine:1 imports moodtape.bot.render") for p in problems)
    assert any(p.startswith("moodtape.db.store:2 imports moodtape.core.engine") for p in problems)
    assert any(p.startswith("moodtape.bot.commands.chat:1") for p in problems)  # training at start-up
    assert not any("lab" in p or p.startswith("moodtape.training") for p in problems)  # the lazy verb door


def test_a_planted_cycle_is_reported_even_through_a_function_level_import(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "core/a.py": "from moodtape.core.b import x\n",
        "core/b.py": "def x():\n    from . import a\n",
        "core/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from moodtape.core.a import y\n",
    })
    assert import_cycles(import_edges(root)) == [["moodtape.core.a", "moodtape.core.b"]]


# ---------------------------------------------------------------------------------------------- start-up cost
def _loaded_modules(*args: str) -> set[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize("argv", [
    ["-c", "import moodtape.bot.cli"],
    ["-m", "moodtape.bot.cli", "run", "--help"],
    ["-m", "moodtape.bot.cli", "chat", "--help"],
    ["-m", "moodtape.bot.cli", "--help"],
])
def test_everyday_commands_load_no_training_code(argv: list[str]) -> None:
    loaded = _loaded_modules(*argv)
    assert not {m for m in loaded if m.startswith("moodtape.training")}
    assert not {m for m in loaded if m.split(".")[0] in ("matplotlib", "music21", "apscheduler")}
