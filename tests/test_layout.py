"""The package's stages import one way: data -> identity -> restoration / synthesis."""
import ast
import graphlib
from pathlib import Path

import fpnb

PACKAGE = Path(fpnb.__file__).parent
# what each part may import from fpnb (besides itself); the top level's base modules import no stage
ALLOWED = {
    "data": {"config", "files"},
    "identity": {"config", "files", "data"},
    "restoration": {"config", "files", "goals", "precision", "weights_io", "plots", "data", "identity"},
    "synthesis": {"config", "files", "goals", "precision", "weights_io", "plots", "data", "identity"},
    "config": {"files"}, "files": set(), "goals": set(), "precision": {"config"}, "weights_io": {"config", "files"},
    "plots": {"config", "files"},
    # rates via identity.metrics, model cards, the profile's real set (data.real_sets)
    "report": {"config", "files", "goals", "precision", "data", "identity", "weights_io"},
}


def _fpnb_imports(path: Path) -> set[str]:
    """First component under fpnb of every import in a module, function-level imports included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "fpnb":
            parts = node.module.split(".")
            found |= {parts[1]} if len(parts) > 1 else {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("fpnb.")}
    return found


def test_stages_import_one_way():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        part = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if part == "__init__":
            continue
        extra = _fpnb_imports(path) - ALLOWED[part] - {part}
        if extra:
            wrong.append(f"{path.relative_to(PACKAGE)} imports {sorted(extra)}")
    assert not wrong, wrong


def test_the_check_sees_a_violation(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from fpnb.synthesis.sampling import sample\n")
    assert _fpnb_imports(module) == {"synthesis"}


def _import_graph(root: Path) -> dict[str, set[str]]:
    """Each module of the package at ``root`` -> the package's modules it imports, at module or function
    level (``from pkg import mod`` names the module ``pkg.mod``; relative imports resolved)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]) if node.level else ""
                module = ".".join(part for part in (base, node.module) if part)
                targets |= {f"{module}.{a.name}" if f"{module}.{a.name}" in modules else module for a in node.names}
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
        graph[name] = (targets & modules.keys()) - {name}
    return graph


def _import_cycle(root: Path) -> list[str] | None:
    """One import cycle among the modules of the package at ``root`` (first module repeated last), or None."""
    try:
        graphlib.TopologicalSorter(_import_graph(root)).prepare()
    except graphlib.CycleError as error:
        return error.args[1]
    return None


def test_no_import_cycle_between_modules():
    assert _import_cycle(PACKAGE) is None


def test_the_check_sees_an_import_cycle_within_a_stage(tmp_path):
    stage = tmp_path / "pkg" / "stage"
    stage.mkdir(parents=True)
    for path, text in {"__init__.py": "", "stage/__init__.py": "", "stage/c.py": "from pkg.stage import b\n",
                       "stage/a.py": "from pkg.stage.b import g\n",
                       "stage/b.py": "def g():\n    from pkg.stage import a\n"}.items():
        (tmp_path / "pkg" / path).write_text(text)
    assert set(_import_cycle(tmp_path / "pkg")) == {"pkg.stage.a", "pkg.stage.b"}
    (stage / "b.py").write_text("def g():\n    from . import c\n")  # relative: b -> c -> b
    assert set(_import_cycle(tmp_path / "pkg")) == {"pkg.stage.b", "pkg.stage.c"}
    (stage / "b.py").write_text("def g():\n    pass\n")
    assert _import_cycle(tmp_path / "pkg") is None
