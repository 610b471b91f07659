"""The package's stages import one way: data -> identity -> restoration / synthesis."""
import ast
from pathlib import Path

import fpnb

PACKAGE = Path(fpnb.__file__).parent
# what each part may import from fpnb (besides itself); the top level's base modules import no stage
ALLOWED = {
    "data": {"config", "files"},
    "identity": {"config", "files", "data"},
    "restoration": {"config", "files", "precision", "weights_io", "plots", "data", "identity"},
    "synthesis": {"config", "files", "precision", "weights_io", "plots", "data", "identity"},
    "config": {"files"}, "files": set(), "precision": {"config"}, "weights_io": {"config", "files"},
    "plots": {"config", "files"},
    "report": {"config", "files", "precision", "identity", "weights_io"},  # rates via identity.metrics, model cards
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
