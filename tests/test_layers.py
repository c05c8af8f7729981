"""The layer rules (.importlinter), checked with import-linter's `lint-imports`.

- the engine core imports nothing from runs, studies, render, the CLI or the
  dashboard;
- `engine/` imports neither the dashboard, streamlit nor plotly;
- the run store is file I/O (no runner, job manager or ES behind it);
- no import cycles between sibling modules or packages.

The second half proves the contracts bite: a copy of the tree with one bad import
fails the contract it breaks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

LINT = shutil.which("lint-imports") or str(
    Path(sys.executable).with_name("lint-imports")
)


def _lint(root: Path, *contracts: str) -> subprocess.CompletedProcess:
    """`lint-imports` on the `engine`/`dashboard` packages under `root`."""
    cmd = [LINT, "--no-cache", "--no-logo"]
    for c in contracts:
        cmd += ["--contract", c]
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


def test_lint_imports_passes():
    res = _lint(ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "BROKEN" not in res.stdout and " 0 broken" in res.stdout


def test_no_engine_module_loads_ui_packages():
    """At run time too: importing every engine module loads no plotly, streamlit
    or dashboard module (the CLI exports study PNGs without them)."""
    code = (
        "import importlib, pkgutil, sys, engine\n"
        "for m in pkgutil.walk_packages(engine.__path__, 'engine.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}"
        " & {'plotly', 'streamlit', 'dashboard'}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "[]"


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory) -> Path:
    """The packages' Python files and the contracts, copied."""
    root = tmp_path_factory.mktemp("tree")
    for pkg in ("engine", "dashboard"):
        shutil.copytree(
            ROOT / pkg, root / pkg, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / ".importlinter", root / ".importlinter")
    return root


BAD_IMPORTS = [
    # (file, the import added at its end, contract, what the report names)
    ("engine/config.py", "from engine.runs import store", "core", "engine.runs"),
    ("engine/evaluate.py", "import dashboard.metrics", "core", "dashboard"),
    ("engine/figures/png.py", "import plotly", "no-ui-in-engine", "plotly"),
    ("engine/runs/jobs.py", "import streamlit", "no-ui-in-engine", "streamlit"),
    ("engine/envs/spec.py", "import engine.envs.registry", "acyclic", "engine.envs"),
]


@pytest.mark.parametrize(
    "path,line,contract,named", BAD_IMPORTS, ids=[b[1] for b in BAD_IMPORTS]
)
def test_a_bad_import_breaks_its_contract(tree_copy, path, line, contract, named):
    # The unchanged copy keeps the contract (or breaks it elsewhere)...
    clean = _lint(tree_copy, contract)
    assert clean.returncode == 0 or named not in clean.stdout, clean.stdout
    target = tree_copy / path
    original = target.read_text()
    # ... and one added import breaks it, and the report says where.
    try:
        target.write_text(original + f"\n\ndef _bad():\n    {line}\n")
        res = _lint(tree_copy, contract)
    finally:
        target.write_text(original)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "BROKEN" in res.stdout and named in res.stdout
