"""The architecture as declared, checked against the code's imports (read with ast: nothing is
imported). Packages point one way (service -> ingest -> retriever); inside a package, its parts
(each subpackage, and the package's own top-level modules, named by the package's folder) import
only the parts the README's DAG lets them; and no module imports its way back into itself, not
even through a late import inside a function."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("service", "ingest", "retriever")  # each may import only those after it
DAG_LINE = re.compile(r"^ {4}((?:\w+/)+)\s+→(.*)$")


@dataclass(frozen=True)
class Import:
    source: str  # the importing module's file, relative to the repository
    target: str  # the imported module's file
    line: int
    typing_only: bool  # under `if TYPE_CHECKING:`: never imported at run time


def modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py"))


def module_file(name: str) -> str | None:
    """The file of a dotted module of ours: a module, or a package's __init__."""
    path = REPO.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate.relative_to(REPO).as_posix()
    return None


def part_of(file: str) -> str:
    """'retriever/store/' for retriever/store/layout.py: the folder a module sits in."""
    return file.rsplit("/", 1)[0] + "/"


def imports_of(path: Path) -> Iterator[Import]:
    source = path.relative_to(REPO).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_lines = {
        line
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for child in node.body
        for line in range(child.lineno, (child.end_lineno or child.lineno) + 1)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from pkg import module` imports the module; `from module import name` the module
            names = [f"{node.module}.{a.name}" for a in node.names]
            names = [n for n in names if module_file(n)] or [node.module]
        else:
            continue
        for name in names:
            target = module_file(name) if name.split(".")[0] in PACKAGES else None
            if target is not None:
                yield Import(source, target, node.lineno, node.lineno in typing_lines)


def all_imports() -> list[Import]:
    return [found for path in modules() for found in imports_of(path)]


def declared_dag() -> dict[str, set[str]]:
    """The parts and what each may import, from README.md's DAG (its one declaration)."""
    dag: dict[str, set[str]] = {}
    for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines():
        match = DAG_LINE.match(line)
        if match:
            dag[match.group(1)] = {d.strip() for d in match.group(2).split(",") if d.strip()}
    assert dag, "README.md must declare the parts' DAG (lines '    part/ → other/, ...')"
    return dag


def cycle_in(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path (first node repeated at the end), or None."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_packages_point_one_way() -> None:
    wrong = [
        f"{i.source}:{i.line} imports {i.target}"
        for i in all_imports()
        if PACKAGES.index(i.target.split("/")[0]) < PACKAGES.index(i.source.split("/")[0])
    ]
    assert wrong == []


def test_the_declared_dag_covers_every_part_and_has_no_cycle() -> None:
    dag = declared_dag()
    on_disk = {part_of(p.relative_to(REPO).as_posix()) for p in modules()}
    assert on_disk == set(dag), "every package folder has one line in README.md's DAG"
    assert all(deps <= set(dag) for deps in dag.values())
    assert all(
        dep.split("/")[0] == part.split("/")[0] for part, deps in dag.items() for dep in deps
    )
    assert cycle_in(dag) is None


def test_parts_import_only_what_the_dag_allows() -> None:
    dag = declared_dag()
    wrong = [
        f"{i.source}:{i.line} imports {i.target}"
        for i in all_imports()
        if (source := part_of(i.source)).split("/")[0] == i.target.split("/")[0]
        and (target := part_of(i.target)) != source
        and target not in dag[source]
    ]
    assert wrong == []


def test_no_module_imports_its_way_back_into_itself() -> None:
    graph: dict[str, set[str]] = {}
    for found in all_imports():
        if not found.typing_only and found.target != found.source:
            graph.setdefault(found.source, set()).add(found.target)
    assert cycle_in(graph) is None
