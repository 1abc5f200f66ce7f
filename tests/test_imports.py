"""The package's import graph: no cycle, and no arrow up to the command line or to the report.

Read from the source (every `import` and `from ... import` of every module, those inside
functions too, but not those under `if TYPE_CHECKING:`), so a cycle that a deferred import
hides at run time is still found."""

import ast
import os

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ecgnet")


def _modules() -> dict[str, str]:
    """{dotted module name: file path} of every module of the package."""
    found = {}
    for folder, _, names in os.walk(PACKAGE):
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                parts = os.path.relpath(path, os.path.dirname(PACKAGE))[:-3].split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                found[".".join(parts)] = path
    return found


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(module: str, path: str, modules: dict[str, str]) -> set[str]:
    """The package's modules that `module` imports (a name imported from a package counts as
    its submodule where one of that name exists)."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    skip = _type_checking_lines(tree)
    is_package = path.endswith("__init__.py")
    targets = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:
                submodule = f"{origin}.{alias.name}"
                targets.add(submodule if submodule in modules else origin)
    return {t for t in targets if t in modules and t != module}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {module: _imports(module, path, modules) for module, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_graph_is_read_from_the_source(graph):
    assert "ecgnet.config" in graph["ecgnet.preprocess"]
    assert "ecgnet.measure.criteria" in graph["ecgnet.decisions"]  # `from .measure import criteria`
    assert "ecgnet.cli.models" in graph["ecgnet.cli"]


def test_the_import_graph_has_no_cycle(graph):
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_a_planted_cycle_is_found(graph):
    planted = {**graph, "ecgnet.config": graph["ecgnet.config"] | {"ecgnet.decisions"}}
    cycle = _cycle(planted)
    assert cycle is not None and cycle[0] == cycle[-1] and "ecgnet.config" in cycle


def test_only_the_command_line_imports_the_command_line(graph):
    upward = [
        m
        for m, targets in graph.items()
        if not m.startswith("ecgnet.cli")
        and m != "ecgnet.__main__"
        and any(t.startswith("ecgnet.cli") for t in targets)
    ]
    assert upward == []


def test_training_and_inference_never_import_the_report(graph):
    core = ["ecgnet.training", "ecgnet.loop", "ecgnet.crossval", "ecgnet.inference"]
    assert [m for m in core if any(t.startswith("ecgnet.report") for t in graph[m])] == []
