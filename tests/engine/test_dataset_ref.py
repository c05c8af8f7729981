"""engine.dataset_ref: the one resolver of a dataset reference (CLI, studies,
dashboard imports)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from engine import dataset as ds_lib
from engine.dataset_ref import load_dataset_ref
from engine.paper_import import PaperImportError
from engine.runs import RunError, RunStore
from tests.conftest import ROOT, reference_file, tiny_cartpole


def _dataset(n: int = 4) -> ds_lib.Dataset:
    rng = np.random.default_rng(0)
    states = rng.normal(size=(n, 4)).astype(np.float32)
    return ds_lib.Dataset("CartPole-v1", states, np.arange(n) % 2, "onehot")


@pytest.fixture
def run_with_dataset(tmp_path):
    """A run in a store whose dataset.npz holds `_dataset()` (no ES needed)."""
    store = RunStore(tmp_path / "runs")
    info = store.create(tiny_cartpole(), name="named-run", check=False)
    ds_lib.save(_dataset(), store.paths(info.run_id).dataset)
    return store, info


def test_dataset_passes_through():
    ds = _dataset()
    assert load_dataset_ref(ds) == (ds, [])


def test_npz_file(tmp_path):
    path = ds_lib.save(_dataset(), tmp_path / "d.npz")
    ds, notes = load_dataset_ref(path)
    assert notes == [] and np.array_equal(ds.states, _dataset().states)


def test_missing_npz_is_a_dataset_error_not_a_run_lookup(tmp_path):
    with pytest.raises(ds_lib.DatasetError, match="no such file"):
        load_dataset_ref(tmp_path / "nope.npz", runs_root=tmp_path)


def test_run_by_id_prefix_name_and_directory(run_with_dataset):
    store, info = run_with_dataset
    for ref in (info.run_id, info.run_id[:17], "named-run", str(info.path)):
        ds, notes = load_dataset_ref(ref, runs_root=store.root)
        assert notes == [] and np.array_equal(ds.states, _dataset().states), ref


def test_unknown_run_and_run_without_dataset(tmp_path):
    store = RunStore(tmp_path)
    with pytest.raises(RunError, match="no run 'nope'"):
        load_dataset_ref("nope", runs_root=tmp_path)
    info = store.create(tiny_cartpole(), check=False)
    with pytest.raises(RunError, match="no dataset yet"):
        load_dataset_ref(info.run_id, runs_root=tmp_path)


def test_pickle_that_is_not_a_paper_dataset(tmp_path):
    bad = tmp_path / "x.pkl"
    bad.write_bytes(b"not a pickle")
    with pytest.raises(PaperImportError):
        load_dataset_ref(bad)


def test_paper_pickle_with_notes():
    ds, notes = load_dataset_ref(
        reference_file("brax-hopper-D4-constnorm-hadesR-seed0.pkl")
    )
    assert ds.env == "hopper" and ds.size == 4 and isinstance(notes, list)


def test_cli_render_resolves_a_run_id(run_with_dataset, tmp_path):
    store, info = run_with_dataset
    out = tmp_path / "states.png"
    cmd = [sys.executable, "-m", "engine.cli", "render", info.run_id[:17]]
    cmd += ["--states", "--out", str(out), "--runs", str(store.root)]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bad_reference_is_one_line(tmp_path):
    cmd = [sys.executable, "-m", "engine.cli", "evaluate", "nope", "--runs"]
    cmd.append(str(tmp_path))
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        f"hades: no run 'nope' under {tmp_path} (see `hades runs list`)"
    ]
