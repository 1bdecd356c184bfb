"""The layers of the README's "How it is built" are true: every module imports only from its own
layer or below (lazy imports inside functions included), module-level imports form no cycle,
and each module imports on its own in a fresh interpreter."""

import ast
import pathlib
import subprocess
import sys

import jitgrad

ROOT = pathlib.Path(jitgrad.__file__).parent

# Lower layers first; a module may import from its own layer and the ones before it.
LAYERS = [
    # Leaves: they import nothing of jitgrad but each other. The scalar math that kernels
    # inline (and numpy references of special functions run) and the disk cache live with
    # the backend, yet any layer may use them.
    ["jitgrad.errors", "jitgrad.tree_util", "jitgrad._version", "jitgrad.backend.vmath",
     "jitgrad.backend.scalar", "jitgrad.backend.cache", "jitgrad.special_math"],
    ["jitgrad.core"],
    ["jitgrad.prims"],
    ["jitgrad.transforms", "jitgrad.backend"],
    ["jitgrad.api_util", "jitgrad.subprogram", "jitgrad.api", "jitgrad.custom_derivatives",
     "jitgrad.jit", "jitgrad.lax", "jitgrad._lax_ops", "jitgrad.windowed", "jitgrad.numpy",
     "jitgrad.nn",
     "jitgrad.scipy",
     "jitgrad.random", "jitgrad.example_libraries", "jitgrad.flatten_util", "jitgrad.misc",
     "jitgrad.distributed", "jitgrad.eager", "jitgrad.tree", "jitgrad.debug", "jitgrad.devices",
     "jitgrad.tiered", "jitgrad.ad_checkpoint"],
    ["jitgrad.testing"],
    ["jitgrad"],
]
# The backend sees only the IR: it never imports the front end or the transforms.
BACKEND_MAY_IMPORT = ("jitgrad.core", "jitgrad.errors", "jitgrad._version", "jitgrad.backend")


def modules() -> dict[str, pathlib.Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def layer_of(name: str) -> int:
    best = None
    for i, layer in enumerate(LAYERS):
        for prefix in layer:
            if name == prefix or (prefix != "jitgrad" and name.startswith(prefix + ".")):
                if best is None or len(prefix) > len(best[1]):
                    best = (i, prefix)
    assert best is not None, f"module {name} is in no layer: add it to LAYERS"
    return best[0]


def imports(path: pathlib.Path, name: str, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    known = modules()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            subs = {f"{base}.{a.name}" for a in node.names}
            found |= (subs & known.keys()) or {base}
    return {m for m in found if m in known and m != name}


def test_every_import_respects_the_layers():
    bad = []
    for name, path in modules().items():
        for dep in imports(path, name, top_level_only=False):
            if dep == "jitgrad" and name != "jitgrad":
                bad.append(f"{name} imports the package root")
            elif layer_of(dep) > layer_of(name):
                bad.append(f"{name} (layer {layer_of(name)}) imports {dep} "
                           f"(layer {layer_of(dep)})")
            elif name.startswith("jitgrad.backend") and not dep.startswith(BACKEND_MAY_IMPORT):
                bad.append(f"backend module {name} imports {dep}")
    assert not bad, "\n".join(sorted(bad))


def test_module_level_imports_have_no_cycle():
    graph = {name: imports(path, name, top_level_only=True)
             for name, path in modules().items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for d in sorted(graph.get(n, ())):
            if d.startswith(n + "."):  # a package importing its own submodules
                continue
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if state.get(d) is None:
                visit(d)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if state.get(n) is None:
            visit(n)


def test_each_module_imports_in_a_fresh_interpreter():
    names = sorted(modules())
    script = ("import importlib, sys\n"
              "for n in sys.argv[1:]:\n"
              "    for m in [m for m in sys.modules if m.partition('.')[0] == 'jitgrad']:\n"
              "        del sys.modules[m]\n"
              "    importlib.import_module(n)\n")
    proc = subprocess.run([sys.executable, "-c", script, *names], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


def test_import_jitgrad_does_not_import_numba():
    proc = subprocess.run([sys.executable, "-c",
                           "import sys, jitgrad, jitgrad.numpy as jnp\n"
                           "jitgrad.grad(lambda x: jnp.sum(jnp.sin(x)))(1.0)\n"
                           "assert 'numba' not in sys.modules, 'numba imported'"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
