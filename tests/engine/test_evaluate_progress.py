"""`evaluate_dataset` with progress: group by group, an ETA from the second group
on, the same returns as the single call; `hades evaluate` prints the lines."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT

from engine import dataset as ds_lib
from engine.evaluate import evaluate_dataset
from engine.progress import Eta, format_duration

CHEAP = {"fitness.num_steps": 60, "inner.steps": 20, "fitness.num_envs": 2}
DEMO = ROOT / "dashboard" / "assets" / "demo" / "cartpole" / "dataset.npz"


def test_eta_from_the_steps_after_the_first():
    t = iter([0.0, 10.0, 12.0, 14.0]).__next__  # step one took 10 s (compiling)
    eta = Eta(4, clock=t)
    assert eta.update(1) is None  # only the compiling step so far
    assert eta.update(2) == pytest.approx(2 * 2.0)
    assert eta.update(3) == pytest.approx(1 * 2.0)
    assert format_duration(3725) == "1h02m" and format_duration(None) == "-"


def test_grouped_evaluation_matches_and_reports():
    ds = ds_lib.load(DEMO)
    events = []
    grouped = evaluate_dataset(ds, inits=5, seed=3, overrides=CHEAP,
                               progress_fn=events.append)  # fmt: skip
    single = evaluate_dataset(ds, inits=5, seed=3, overrides=CHEAP)
    np.testing.assert_allclose(grouped.per_init, single.per_init, rtol=1e-6)
    np.testing.assert_allclose(grouped.bc_loss, single.bc_loss, rtol=1e-5)
    assert [e["done"] for e in events] == [2, 4, 5]
    assert all(e["total"] == 5 and e["stage"] == "evaluate" for e in events)
    assert events[0]["eta_seconds"] is None
    assert events[1]["eta_seconds"] is not None and events[-1]["eta_seconds"] == 0


def test_cli_evaluate_shows_progress():
    sets = [x for k, v in CHEAP.items() for x in ("--set", f"{k}={v}")]
    r = subprocess.run(
        [sys.executable, "-m", "engine.cli", "evaluate", str(DEMO), "--inits", "4",
         "--json", *sets],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HADES_JAX_CACHE": "0"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stderr.splitlines() if " evaluate " in x]
    assert [x.split(" evaluate ")[1].split()[0] for x in lines] == ["2/4", "4/4"]
    assert "ETA -" in lines[0] and "ETA 0s" in lines[-1]
    assert r.stdout.strip().splitlines()[-1].startswith("{")
