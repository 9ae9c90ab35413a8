"""The import graph of jobs/ and dags/, read with ``ast`` (nothing is imported): steps are leaves and no
two modules import each other, directly or round a loop.

Every import counts, wherever it is written: at the top, inside a function, or under
``if TYPE_CHECKING:``. A lazy or typing-only import still makes two modules know each other, so a loop
of them is a loop in the design even when Python would load it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from tests.conftest import REPO

STEPS = "harmwatch.steps"
# The command line dispatches to the steps (through the step table of ``harmwatch.steps``).
MAY_IMPORT_STEPS = {"harmwatch.cli", STEPS}


def module_files(root: Path) -> dict[str, Path]:
    """``{dotted name: file}`` for every module under ``root`` (a folder on the import path)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            found[".".join(parts)] = path
    return found


def imported_names(name: str, path: Path) -> set[str]:
    """Every dotted name an import statement of module ``name`` mentions (``from a import b``: ``a`` and
    ``a.b``, since ``b`` may be a module), relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def import_graph(roots: Iterable[Path]) -> dict[str, set[str]]:
    """``{module: modules of the same roots it imports}``."""
    files = {name: path for root in roots for name, path in module_files(root).items()}
    return {
        name: {dep for dep in imported_names(name, path) if dep in files and dep != name}
        for name, path in files.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for dep in edges:
                if dep not in index:
                    index[dep] = low[dep] = len(index)
                    stack.append(dep)
                    on_stack.add(dep)
                    work.append((dep, iter(sorted(graph[dep]))))
                    break
                if dep in on_stack:
                    low[node] = min(low[node], index[dep])
            else:
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
                        found.append(sorted(component))
    return sorted(found)


def test_no_module_imports_a_step() -> None:
    """Steps are leaves: what two steps, two engines or the bench share lives below them."""
    graph = import_graph([REPO / "jobs"])
    offenders = sorted(
        f"{name} imports {dep}"
        for name, deps in graph.items()
        if name not in MAY_IMPORT_STEPS
        for dep in deps
        if dep.startswith(STEPS + ".")
    )
    assert offenders == []


def test_no_import_cycles_in_jobs_or_dags() -> None:
    # dags/ is on the import path itself (the DAG files import their helpers by module name).
    assert cycles(import_graph([REPO / "jobs"])) == []
    assert cycles(import_graph([REPO / "dags"])) == []


def test_the_product_never_imports_the_tests() -> None:
    """The pandas reference of the data decisions (``tests/reference/``) and every other test helper stay
    out of the product: each decision the product runs is its SQL."""
    offenders = sorted(
        f"{name} imports {dep}"
        for root in (REPO / "jobs", REPO / "dags")
        for name, path in module_files(root).items()
        for dep in imported_names(name, path)
        if dep == "tests" or dep.startswith("tests.")
    )
    assert offenders == []


def test_the_checks_see_lazy_typing_and_relative_imports(tmp_path: Path) -> None:
    """The graph is the one the checks above rely on: a loop made of a relative import, a lazy import
    and a typing-only import is found, and a step imported from beside the steps is named."""
    pkg = tmp_path / "pkg"
    (pkg / "steps").mkdir(parents=True)
    for name in ("__init__.py", "steps/__init__.py", "c.py"):
        (pkg / name).write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    import pkg.steps.one\n")
    (pkg / "steps" / "one.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import thing\n"
    )
    graph = import_graph([tmp_path])
    assert graph["pkg.a"] == {"pkg", "pkg.b"} and graph["pkg.b"] == {"pkg.steps.one"}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.steps.one"]]
    (pkg / "steps" / "one.py").write_text("from pkg import c\n")
    assert cycles(import_graph([tmp_path])) == []
