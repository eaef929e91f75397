"""No module of the product imports itself back, counting imports inside functions.

The graph is grimp's (the one import-linter checks the layers on): every import statement
in a module, at its top, inside a function or under `if TYPE_CHECKING`, is an edge. So is
`from package import name`: it runs the package's `__init__` and reads the name from it,
which closes a loop when that `__init__` imports the importer (grimp alone records only the
edge to `package.name`).
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import grimp
import pytest

PACKAGES = ("core", "bot", "intake", "dealreg")


def cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """Each loop of imports once, as the modules along it from its first import back."""
    found: dict[frozenset[str], tuple[str, ...]] = {}
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if imported == importer:
                continue
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                loop = (importer, *back)
                found.setdefault(frozenset(loop), loop)
    return sorted(found.values())


def with_package_imports(graph: grimp.ImportGraph) -> grimp.ImportGraph:
    """Add an edge to the package itself for each `from package import name`."""
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            for detail in graph.get_import_details(importer=importer, imported=imported):
                words = detail["line_contents"].split()
                if len(words) >= 4 and words[0] == "from" and words[2] == "import":
                    package = words[1]
                    if package in graph.modules and package != importer:
                        graph.add_import(
                            importer=importer,
                            imported=package,
                            line_number=detail["line_number"],
                            line_contents=detail["line_contents"],
                        )
    return graph


def describe(graph: grimp.ImportGraph, loop: tuple[str, ...]) -> str:
    """A loop as its imports, each with the line that makes it."""
    steps = []
    for importer, imported in pairwise(loop):
        details = graph.get_import_details(importer=importer, imported=imported)
        where = ", ".join(f"l.{d['line_number']}: {d['line_contents']}" for d in details)
        steps.append(f"  {importer} -> {imported} ({where})")
    return "\n".join(steps)


def test_no_import_cycle_in_core_bot_intake_or_dealreg() -> None:
    graph = with_package_imports(grimp.build_graph(*PACKAGES, cache_dir=None))
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n\n".join(describe(graph, c) for c in found)


def test_an_import_inside_a_function_closes_a_cycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "loop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def late():\n    from loop import b\n\n    return b\n")
    (package / "b.py").write_text("import loop.a\n")
    (package / "c.py").write_text("import loop.b\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("loop", cache_dir=None)
    assert cycles(graph) == [("loop.a", "loop.b", "loop.a")]


def test_a_package_that_imports_its_modules_closes_a_cycle_when_they_import_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from pkg.a import run\n")
    (package / "a.py").write_text("from pkg import b\n\nrun = b.run\n")
    (package / "b.py").write_text("def run() -> None: ...\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("pkg", cache_dir=None)
    assert cycles(graph) == []  # grimp sees only pkg -> pkg.a -> pkg.b
    assert cycles(with_package_imports(graph)) == [("pkg", "pkg.a", "pkg")]
