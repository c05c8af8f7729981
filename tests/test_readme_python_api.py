"""The README's Python API example, run exactly as written (in a fresh process,
with the run store in a temporary HADES_HOME)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import ROOT


def readme_block(heading: str, lang: str = "python") -> str:
    """The first ```lang block under `heading` in README.md."""
    text = (ROOT / "README.md").read_text()
    section = text.split(heading, 1)[1]
    m = re.search(rf"```{lang}\n(.*?)```", section, re.S)
    assert m, f"no {lang} block under {heading!r}"
    return m.group(1)


def test_readme_python_api_example_runs(tmp_path):
    code = readme_block("## Python API")
    assert "engine.distill(" in code and "engine.evaluate_dataset(" in code
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HADES_HOME": str(tmp_path / "home")}
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.strip().splitlines()
    run_id, status, shape = lines[-2].split(" ", 2)
    assert status == "finished" and shape == "(4, 4)"
    assert (tmp_path / "home" / "runs" / run_id / "dataset.npz").is_file()
    m = re.fullmatch(r"mean return ([\d.]+) over 8 fresh policies", lines[-1])
    assert m and 0 < float(m.group(1)) <= 500
    assert (tmp_path / "cartpole-states.png").stat().st_size > 1000
    # progress_fn saw every chunk, ending at generation 10
    assert "10 finished" in lines
