"""The import structure: every module imports, no cycles between portal modules, portal never imports worker."""
import ast
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


PORTAL_MODULES = {_module_name(path): path for path in sorted((ROOT / "portal").rglob("*.py"))}


def _imports(path: Path, module: str, top_level_only: bool) -> set[str]:
    """Modules `module` imports (at import time only, when top_level_only), resolved to real modules."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in PORTAL_MODULES else base)
    return found


def test_every_portal_and_worker_module_imports(portal_env, monkeypatch):
    # worker.app builds the app at import, as the Celery command needs: give it this test's settings.
    for key, value in portal_env.items():
        monkeypatch.setenv(key, value)
    for module in [*PORTAL_MODULES, "worker", "worker.app"]:
        importlib.import_module(module)


def test_no_import_cycle_between_portal_modules():
    graph = {
        module: {name for name in _imports(path, module, top_level_only=True) if name in PORTAL_MODULES}
        for module, path in PORTAL_MODULES.items()
    }
    done, on_path = set(), []

    def visit(module):
        if module in on_path:
            cycle = on_path[on_path.index(module):] + [module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        on_path.append(module)
        for imported in sorted(graph[module] - {module}):
            # A package's __init__ importing its own submodules is how packages work, not a cycle.
            if not module.startswith(imported + "."):
                visit(imported)
        on_path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_portal_never_imports_the_worker_package():
    offenders = [
        module
        for module, path in PORTAL_MODULES.items()
        if any(name == "worker" or name.startswith("worker.") for name in _imports(path, module, top_level_only=False))
    ]
    assert offenders == []
