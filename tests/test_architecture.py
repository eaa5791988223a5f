"""The house's rules, read from the code's own imports (docs/architecture.md, "Layers").

Every ``import`` counts, those inside functions too: a deferred import hides a circle from
Python's loader, not from a reader. Migrations are left out (Django writes them).
"""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {
    "kernel": ROOT / "platform" / "kernel",
    "apps": ROOT / "platform" / "apps",
    "studio": ROOT / "platform" / "studio",
    "plugins": ROOT / "plugins",
    "workers": ROOT / "workers",
}

#: Bottom to top: a layer imports only from layers below it (and from itself).
LAYERS = [
    "plugins",  # the plugin contract, its kit and the built-in plugins
    "kernel",
    "apps.accounts",
    "apps.plugins",
    "apps.model_endpoints",
    "apps.usage",
    "apps.gateway",
    "apps.http_tools",
    "apps.mcp_servers",
    "apps.knowledge",
    "apps.batch",
    "apps.applications",
    "apps.mcp_serving",
    "studio",  # settings and assembly
]
#: The Celery app: imported by the assembly, it imports none of ours (task modules are
#: named to it as strings).
WORKERS = "workers"


def _module_name(path: Path) -> str:
    relative = path.relative_to(ROOT)
    parts = list(relative.parts[1:] if relative.parts[0] == "platform" else relative.parts)
    parts[-1] = parts[-1].removesuffix(".py")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # ``from pkg import module`` names a module when one exists by that name.
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {}
    for source in SOURCES.values():
        for path in source.rglob("*.py"):
            if "migrations" not in path.parts:
                modules[_module_name(path)] = path
    graph = defaultdict(set)
    for module, path in modules.items():
        graph[module] = {name for name in _imports(path, module) if name in modules} - {module}
    return graph


def _layer(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "apps" and len(parts) > 1 else parts[0]


GRAPH = _graph()


def test_the_graph_is_read():
    assert any(target.startswith("kernel.") for target in GRAPH["apps.accounts.api"])
    assert len(GRAPH) > 100


def _allowed(layer: str, target_layer: str) -> bool:
    if layer == WORKERS:
        return False
    if target_layer == WORKERS:
        return layer == "studio"
    return LAYERS.index(target_layer) <= LAYERS.index(layer)


def test_no_module_imports_a_higher_layer():
    upward = [
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if module != "apps" and target != "apps" and _layer(target) != _layer(module)
        if not _allowed(_layer(module), _layer(target))
    ]
    assert upward == []


def test_the_layer_rule_refuses_an_upward_arrow():
    assert not _allowed("kernel", "apps.accounts")
    assert not _allowed("apps.gateway", "apps.applications")
    assert not _allowed("workers", "apps.usage")
    assert _allowed("apps.applications", "apps.gateway")
    assert _allowed("studio", "workers")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def _without_packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's ``__init__`` is imported with each of its modules; an arrow to it is not
    an arrow to its modules, so packages are left out of the circle search."""
    packages = {module for module in graph if any(m.startswith(module + ".") for m in graph)}
    return {
        module: targets - packages for module, targets in graph.items() if module not in packages
    }


def test_no_import_circles():
    assert _cycles(_without_packages(GRAPH)) == []


def test_circle_search_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_plugins_import_only_the_plugin_package():
    """Built-in plugins are written as a third party's are: against the contract alone."""
    outside = {
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        if _layer(module) == "plugins"
        for target in targets
        if _layer(target) != "plugins"
    }
    assert outside == set()


def test_the_platform_imports_no_concrete_plugin():
    """The platform knows plugins through the contract and its kit (modules directly under
    ``plugins/``), never a built-in plugin's own module: those are found by entry point."""
    concrete = {
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        if _layer(module) != "plugins"
        for target in targets
        if _layer(target) == "plugins" and target.count(".") > 1
    }
    assert concrete == set()
