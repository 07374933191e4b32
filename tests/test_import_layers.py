"""The package's import graph: subpackages on layers, each importing only from the layers below it (data
flows one way), no module importing itself back through others, and the method never reaching into the
speed code (``me_resnet/parallel``). Lazy and type-checking imports count as imports."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "me_resnet"

# lowest first; a subpackage may import from its own layer's modules only within itself
LAYERS = (
    ("config", "utils"),
    ("data", "models"),
    ("preprocessing",),
    ("training", "reporting"),
    ("evaluation", "inference"),
    ("parallel",),
    ("cli",),
)
LAYER = {name: level for level, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """``{module: the me_resnet modules it imports}``, every import statement of the file."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("me_resnet"):
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names if alias.name.startswith("me_resnet")]
            found |= {target for target in targets if target in modules and target != name}
        graph[name] = found
    return graph


def subpackage(module: str) -> str:
    return module.split(".")[1] if module.count(".") else module


def test_every_subpackage_has_a_layer_and_imports_only_from_layers_below():
    graph = imports()
    named = {subpackage(module) for module in graph if module != "me_resnet"}
    assert named == set(LAYER), f"subpackages without a layer: {named - set(LAYER)}"
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        if module != "me_resnet"
        and subpackage(target) != subpackage(module)
        and LAYER[subpackage(target)] >= LAYER[subpackage(module)]
    )
    assert upward == [], "imports that reach up or sideways:\n" + "\n".join(upward)


def test_no_module_imports_itself_back():
    graph = imports()
    state, cycles = {}, []

    def visit(module, trail):
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target) :] + [target])
            elif target not in state:
                visit(target, trail + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == [], "import circles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)


def test_the_method_never_imports_the_speed_code():
    graph = imports()
    reaching = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if subpackage(module) in ("evaluation", "training")
        for target in targets
        if subpackage(target) == "parallel"
    )
    assert reaching == []
