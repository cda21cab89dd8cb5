"""The package's shape: imports only go down (no cycles, function-level imports included),
registries are the single source of truth, and modules stay readable."""

import ast
import pathlib

import pytest

import mnistbench
from mnistbench.estimators.models import MODELS, is_deep, make_model

PACKAGE = pathlib.Path(mnistbench.__file__).parent


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path) -> set:
    """Every mnistbench module ``path`` imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; the package uses absolute ones")
        names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module else
                 [a.name for a in node.names] if isinstance(node, ast.Import) else [])
        found |= {n for n in names if n == "mnistbench" or n.startswith("mnistbench.")}
    return found


def import_graph() -> dict:
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        # importing a submodule runs its packages' __init__ first: an edge to them too,
        # but the package root re-exports lazily and is not an edge for its own children
        graph[name] = {m for m in _imports(path) if m != name}
    return graph


def _cycle(graph):
    """One import cycle as a list of modules, or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "open":
                return stack[stack.index(dep):] + [dep]
            if dep not in state and (found := visit(dep, stack + [dep])):
                return found
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node, [node])):
            return found
    return None


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert {"mnistbench.harness.run", "mnistbench.cli", "mnistbench.estimators.cnn"} <= set(graph)
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("leaf", ["mnistbench.hostinfo", "mnistbench.errors",
                                  "mnistbench._version", "mnistbench.log", "mnistbench.evaluation.stats"])
def test_leaf_modules_import_nothing_of_the_package(leaf):
    assert import_graph()[leaf] == set()


#: The layers, lowest first: a module imports only from its own layer or the ones below.
LAYERS = (
    ("leaves", ("mnistbench.errors", "mnistbench.log", "mnistbench.hostinfo", "mnistbench._version")),
    ("data", ("mnistbench.data",)),
    ("estimators", ("mnistbench.estimators",)),
    ("evaluation", ("mnistbench.evaluation",)),
    ("reporting", ("mnistbench.reporting",)),
    ("harness", ("mnistbench.harness",)),
    ("entry", ("mnistbench.cli", "mnistbench.__main__", "mnistbench")),
)


def layer_of(module: str) -> int:
    for rank, (_, names) in enumerate(LAYERS):
        if any(module == n or (n != "mnistbench" and module.startswith(n + ".")) for n in names):
            return rank
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")


def test_imports_only_go_down_the_layers():
    upward = sorted(f"{m} ({LAYERS[layer_of(m)][0]}) imports {d} ({LAYERS[layer_of(d)][0]})"
                    for m, deps in import_graph().items() for d in deps
                    if layer_of(d) > layer_of(m))
    assert upward == [], upward


def test_the_layer_check_sees_an_upward_import():
    assert layer_of("mnistbench.data.datasets") < layer_of("mnistbench.reporting.tables")
    assert layer_of("mnistbench.harness.run") < layer_of("mnistbench.cli")
    assert layer_of("mnistbench") == len(LAYERS) - 1


def test_the_package_is_subpackages_and_a_few_top_level_modules():
    """The folders show the layers: at most 10 modules sit beside the subpackages."""
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 10, top
    assert {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()} == {
        "data", "estimators", "evaluation", "reporting", "harness"}


def test_old_module_paths_are_gone_but_old_model_files_load(tmp_path):
    """No import hook: ``mnistbench.models`` is no module any more; a model file saved when
    the classes lived there loads through persist's alias list."""
    import importlib
    import sys
    import zipfile

    from mnistbench.estimators.persist import OLD_MODULES, load_model, save_model

    for old in OLD_MODULES:
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(old)
    X, y = mnistbench.load_dataset("digits").train
    new = tmp_path / "new.skops"
    save_model(mnistbench.make_model("svc", random_state=0).fit(X[:300], y[:300]), new,
               {"model": "svc", "dataset": "digits", "image_shape": [8, 8], "pixel_max": 16})
    old = tmp_path / "old.skops"  # the same file as an earlier version wrote it
    with zipfile.ZipFile(new) as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "schema.json":
                text = data.decode()
                for old_path in ("mnistbench.models", "mnistbench.features"):
                    text = text.replace(f'"{OLD_MODULES[old_path]}"', f'"{old_path}"')
                assert '"mnistbench.models"' in text and '"mnistbench.features"' in text
                data = text.encode()
            dst.writestr(item, data)
    model, _ = load_model(old)
    assert type(model[-1]).__module__ == "mnistbench.estimators.classic"
    assert (model.predict(X[300:400]) == load_model(new)[0].predict(X[300:400])).all()
    assert not set(OLD_MODULES) & set(sys.modules)  # the aliases lived for the load only


def test_only_the_cli_and_harness_import_the_harness():
    users = {m for m, deps in import_graph().items()
             if any(d.startswith("mnistbench.harness") for d in deps)}
    assert {u for u in users if not u.startswith("mnistbench.harness")} == {"mnistbench.cli"}


#: The structure rules (docs/contributing.md): a package module holds one concept and is
#: split past MAX_MODULE_LINES; a test file past MAX_TEST_LINES is split by what it tests.
MAX_MODULE_LINES = 600
MAX_TEST_LINES = 1200
TESTS = pathlib.Path(__file__).resolve().parent


def test_no_module_is_a_monolith():
    long = {p.name: n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}, long


def test_tests_are_arranged_like_the_package():
    """tests/<layer>/ for each subpackage (and cli/ for the command line); at the top only
    the cross-cutting checks and the shared helpers; no test file past the rule."""
    layers = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()} | {"cli"}
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    assert folders - {"fixtures"} <= layers, folders - layers
    for folder in folders - {"fixtures"}:
        assert list((TESTS / folder).glob("test_*.py")), folder
    long = {p.name: n for p in TESTS.rglob("test_*.py")
            if (n := len(p.read_text().splitlines())) > MAX_TEST_LINES}
    assert long == {}, long


@pytest.mark.parametrize("name", list(MODELS))
def test_the_family_of_an_entry_is_the_family_of_its_estimator(name):
    assert is_deep(name) == is_deep(make_model(name)) == (MODELS[name].family == "deep")


def test_no_function_is_a_monolith():
    """About 80 lines at most per function (docstring included); the numeric HOG kernel,
    one vectorised computation, is the one exception."""
    long = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if (n := node.end_lineno - node.lineno + 1) > 85 and node.name != "hog_batch":
                    long[f"{path.name}:{node.name}"] = n
    assert long == {}, long


def test_no_module_file_name_is_used_twice():
    """One name per concept: a module's file name says which one, in the whole package."""
    from collections import Counter

    names = Counter(p.name for p in PACKAGE.rglob("*.py") if p.name != "__init__.py")
    assert [n for n, k in names.items() if k > 1] == []
