"""The shape of the package: no import cycle, small modules, package faces that only re-export,
and every reference function taking exactly its engine function's arguments."""
import ast
import inspect
from pathlib import Path

import pytest

import reluscope as rs
from reluscope import hessian, hypercube, reference, regions, slt

PACKAGE = Path(rs.__file__).parent
MAX_LINES = 300


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every Python module of the package."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules `name` imports, anywhere in the file (lazy imports included). A
    module implies its parent packages (their __init__ runs first), except those that are
    already running because they contain `name`."""
    is_package = path.name == "__init__.py"
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets |= {a.name for a in node.names if a.name.split(".")[0] == "reluscope"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != "reluscope":
                continue
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                targets.add(sub if sub in known else module)
    own = name.split(".")
    ancestors = {".".join(own[:i]) for i in range(1, len(own) + (1 if is_package else 0))}
    implied = set()
    for t in targets:
        parts = t.split(".")
        implied |= {".".join(parts[:i]) for i in range(1, len(parts))}
    return {t for t in targets | (implied - ancestors) if t in known and t != name}


def test_no_import_cycle():
    mods = modules()
    known = set(mods) | {"reluscope._core"}  # the extension: a leaf
    graph = {name: imports_of(name, path, known) for name, path in mods.items()}
    graph["reluscope._core"] = set()
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert "reluscope.hypercube._sweeps" in graph["reluscope.hypercube.sums"]


def test_no_module_over_300_lines():
    long = {name: n for name, path in modules().items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_package_faces_only_re_export():
    """__init__ files hold a docstring, imports, __all__ (and the root's __version__)."""
    for path in PACKAGE.rglob("__init__.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue
            if isinstance(node, ast.Assign) and all(
                    isinstance(t, ast.Name) and t.id in ("__all__", "__version__")
                    for t in node.targets):
                continue
            pytest.fail(f"{path.relative_to(PACKAGE)} line {node.lineno}: not a re-export")


def test_only_the_driver_modules_call_the_extension():
    """The extension is reached through one module per engine (and the model, forward and info
    layers); everything else goes through them."""
    def uses_core(path):
        return any(isinstance(node, ast.Name) and node.id == "_core"
                   for node in ast.walk(ast.parse(path.read_text())))

    callers = {name for name, path in modules().items()
               if uses_core(path) and name != "reluscope._ext"}
    assert callers == {
        "reluscope.models.base", "reluscope.models.mlp", "reluscope.models.spec", "reluscope.forward",
        "reluscope.info",
        "reluscope.layer_stats",
        "reluscope._ops", "reluscope.data", "reluscope.hessian._autograd",
        "reluscope._fused", "reluscope.hessian.tangent_kernel", "reluscope.hessian.spectrum",
        "reluscope.certify._kernel", "reluscope.hypercube._sweeps",
        "reluscope.regions.segments",
        "reluscope.regions.slices", "reluscope.regions.patterns", "reluscope.benchmarks.forward",
        "reluscope.benchmarks.roofline",
    }


PAIRS = [(rs.forward, reference.forward), (rs.layer_moments, reference.layer_moments)] + \
    [(getattr(hessian, n), getattr(reference.hessian, n)) for n in reference.hessian.__all__] + \
    [(getattr(hypercube, n), getattr(reference.hypercube, n)) for n in reference.hypercube.__all__] + \
    [(getattr(regions, n), getattr(reference.regions, n))
     for n in ("count_1d", "count_2d", "count_patterns")] + \
    [(getattr(slt, n), getattr(reference.slt, n)) for n in reference.slt.__all__]


@pytest.mark.parametrize("engine,ref", PAIRS, ids=lambda f: f.__module__ + "." + f.__name__)
def test_references_take_the_engine_arguments(engine, ref):
    def params(fn):
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]

    assert params(ref) == params(engine)
