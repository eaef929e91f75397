"""Small pieces: every module of the product within a screenful's multiple, every function
within a short parameter list. An offender wants a module or a value object of its own."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "bot", "intake", "dealreg")
MAX_LINES = 300
MAX_PARAMETERS = 6  # not counting self or cls; *args and **kwargs count one each


def modules() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def parameters(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> int:
    """How many parameters a function takes, its `self` or `cls` aside."""
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    if names and names[0] in {"self", "cls"}:
        names = names[1:]
    return len(names) + (args.vararg is not None) + (args.kwarg is not None)


def long_modules() -> list[str]:
    """Each module over the line limit, with its length."""
    found = []
    for path in modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            found.append(f"{path.relative_to(ROOT)}: {lines} lines")
    return found


def long_parameter_lists() -> list[str]:
    """Each function over the parameter limit, with where it is and its count."""
    found = []
    for path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                count = parameters(node)
                if count > MAX_PARAMETERS:
                    name = getattr(node, "name", "lambda")
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    found.append(f"{where} {name}: {count} parameters")
    return found


def test_every_module_is_at_most_300_lines() -> None:
    offenders = long_modules()
    assert not offenders, "modules over the limit:\n" + "\n".join(offenders)


def test_every_function_takes_at_most_6_parameters() -> None:
    offenders = long_parameter_lists()
    assert not offenders, "functions over the limit:\n" + "\n".join(offenders)


def test_the_parameter_count_leaves_out_self_and_counts_star_arguments() -> None:
    tree = ast.parse(
        "class A:\n    def m(self, a, b, /, c, *args, d, **kw): ...\n"
        "def f(a, b, c, d, e, f, g): ...\n"
    )
    counts = {n.name: parameters(n) for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    assert counts == {"m": 6, "f": 7}
