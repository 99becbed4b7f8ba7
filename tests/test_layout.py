"""The layout's rules: imports only point down the layers, everything is imported through ``instagan``, and static
tools (pyright, as editors use it) resolve the same modules Python does."""

import ast
import importlib.util
import json
import re
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

# lower layers first; a package may import its own layer's package and the ones below, never above
LAYERS = [("util",), ("data",), ("models",), ("reporting",), ("evaluation",), ("options",)]
LAYER_OF = {package: i for i, packages in enumerate(LAYERS) for package in packages}
TOP_LEVEL = ("models", "data", "options", "util", "evaluation", "reporting")


def imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            if node.module == "instagan":
                yield from (f"instagan.{alias.name}" for alias in node.names)


def project_files():
    for folder in (*TOP_LEVEL, "datasets", "scripts", "tests"):
        yield from sorted((ROOT / folder).rglob("*.py"))
    yield from sorted(ROOT.glob("*.py"))


@pytest.mark.parametrize("package", sorted(LAYER_OF))
def test_imports_point_down_the_layers(package):
    wrong = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for module in imported_modules(path):
            parts = module.split(".")
            if parts[0] == "instagan" and len(parts) > 1 and parts[1] in LAYER_OF:
                other = parts[1]
                if LAYER_OF[other] > LAYER_OF[package] or (LAYER_OF[other] == LAYER_OF[package] and other != package):
                    wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not wrong, wrong


def test_the_folders_are_imported_through_instagan():
    stray = [f"{p.relative_to(ROOT)}: {m}" for p in project_files() for m in imported_modules(p) if m.split(".")[0] in TOP_LEVEL]
    assert not stray, stray


@pytest.mark.slow
def test_pyright_resolves_every_import_that_python_resolves():
    pyright = shutil.which("pyright")
    if pyright is None:
        pytest.skip("pyright is not installed: pip install -e '.[typecheck]'")
    proc = subprocess.run([pyright, "--outputjson"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    report = json.loads(proc.stdout)
    assert report["summary"]["filesAnalyzed"] > 100, report["summary"]  # pyproject.toml's [tool.pyright] found the code
    unresolved = {
        re.search(r'Import "([\w.]+)"', d["message"]).group(1)
        for d in report["generalDiagnostics"]
        if d.get("rule") == "reportMissingImports"
    }
    # an import pyright cannot resolve must be one Python cannot either (an optional extra that is not installed)
    wrong = sorted(m for m in unresolved if importlib.util.find_spec(m.split(".")[0]) is not None)
    assert not wrong, wrong
