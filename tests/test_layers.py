"""Dependencies point one way: common <- schemas <- extractor, modeling <- pipelines, analysis <- benchmarks.

A module may import its own package and the layers below it, never a layer above nor a sibling package
of its own layer (the extractor does not reach into the models, the analysis not into the jobs). Every
import counts, also those inside functions."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAYER = {"common": 0, "schemas": 1, "extractor": 2, "modeling": 2, "pipelines": 3, "analysis": 3, "benchmarks": 4, "research": 4}


def imported_packages(path: Path) -> set[tuple[str, int]]:
    """(first-party package, line) of every import in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
        found.update((n.split(".")[0], node.lineno) for n in names if n.split(".")[0] in LAYER)
    return found


def test_no_module_imports_a_higher_or_sibling_layer():
    wrong = []
    for package, layer in LAYER.items():
        for path in sorted((REPO / package).rglob("*.py")):
            for other, line in imported_packages(path):
                if other != package and LAYER[other] >= layer:
                    wrong.append(f"{path.relative_to(REPO)}:{line} imports {other}")
    assert not wrong, "imports against the layering:\n" + "\n".join(sorted(wrong))


def test_the_check_sees_a_violation(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("def f():\n    from pipelines.build_pesconv import main\n")
    assert ("pipelines", 2) in imported_packages(bad)
