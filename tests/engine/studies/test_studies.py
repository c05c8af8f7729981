"""Studies (engine.studies): every study at a tiny size, files, shapes, finite numbers.

The learning checks (supervised digits above chance, the multi-task policy beating
random on CartPole and Acrobot) run the quick presets and are marked slow.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import REFERENCE  # noqa: E402

import engine  # noqa: F401  (sets the XLA flag before jax starts)

TINY = {
    "outer.population": 8,
    "outer.generations": 4,
    "outer.chunk": 2,
    "outer.eval_every": 2,
    "inner.width": 16,
    "inner.steps": 10,
    "fitness.num_envs": 2,
    "fitness.num_steps": 50,
}
TINY_LINES = tuple(f"{k}={v}" for k, v in TINY.items())
"""`TINY` as a study's ``overrides`` (section.field=value strings)."""
TINY_SUPERVISED = {
    "population": 4,
    "generations": 2,
    "inner_steps": 5,
    "eval_inits": 2,
    "overrides": ("fitness_batch=64", "chunk=2", "eval_every=2"),
}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


def _finite(x) -> bool:
    return all(math.isfinite(v) for v in np.ravel(np.asarray(x, np.float64)))


def _check_outputs(res: dict, study: str) -> None:
    d = Path(res["study_dir"])
    assert d.parent.name == "studies" and d.name.startswith(study)
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["format"] == "hades-study" and cfg["kind"] == "study"
    status = json.loads((d / "status.json").read_text())
    assert status["status"] == "finished"
    assert json.loads((d / "results.json").read_text())["study_id"] == res["study_id"]
    assert Path(res["csv"]).is_file()
    assert res["figures"]
    for fig in res["figures"].values():
        assert Path(fig["json"]).is_file()
        assert fig["png"] is not None, fig.get("png_error")
        assert Path(fig["png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _csv_rows(path) -> list[dict]:
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# Registry and CLI ----------
def test_registry_matches_cli():
    from engine.cli import make_parser
    from engine.studies import STUDIES

    assert set(STUDIES) == {
        "transfer",
        "baseline",
        "size-sweep",
        "multitask",
        "supervised",
        "published",
    }
    parser = make_parser()
    for name in STUDIES:
        args = parser.parse_args(["study", name, "--preset", "quick", "--json"])
        assert args.study == name and args.json and args.preset == "quick"


# Baseline ----------
def test_baseline_same_strategy_class_as_hades():
    from evosax.algorithms import distribution_based_algorithms

    from engine import presets
    from engine.outer import Distiller
    from engine.strategies import Strategy
    from engine.studies.baseline import Neuroevolution

    cfg = presets.make("quick", "CartPole-v1", 4, 0).with_overrides(TINY)
    d = Distiller(cfg)
    ne = Neuroevolution(cfg, d.problem)
    assert type(ne.strategy) is Strategy and type(d.strategy) is Strategy
    assert type(ne.strategy.es) is type(d.strategy.es)
    assert type(ne.strategy.es) is distribution_based_algorithms[cfg.outer.strategy]
    # The weights have far more dimensions than the dataset; the mean starts at 0.
    assert ne.num_dims == ne.strategy.num_dims > d.strategy.num_dims == 16
    state, _ = ne.init()
    mean = ne.strategy.get_mean(state)
    assert all(
        float(np.abs(x).max()) == 0.0 for x in __import__("jax").tree.leaves(mean)
    )


def test_baseline_tiny(root):
    from engine.studies import run_baseline

    res = run_baseline(
        preset="quick", runs_root=root, overrides=TINY_LINES, eval_inits=2
    )
    _check_outputs(res, "baseline")
    assert set(res["methods"]) == {"hades_r", "hades_f", "neuroevolution"}
    assert set(res["strategy_classes"].values()) == {"Open_ES"}
    for m, r in res["methods"].items():
        assert _finite(r["final_returns"]) and len(r["final_returns"]) == 2, m
    assert res["methods"]["hades_r"]["search_dims"] == 16
    assert res["methods"]["neuroevolution"]["search_dims"] == res["policy_params"]
    rows = _csv_rows(res["csv"])
    for m in res["methods"]:
        gens = [
            int(r["generation"]) for r in rows if r["method"] == m and r["fitness_mean"]
        ]
        assert gens == [1, 2, 3, 4], m
        evals = [r for r in rows if r["method"] == m and r["mean_return"]]
        assert [int(r["generation"]) for r in evals] == [2, 4], m
        assert _finite([float(r["mean_return"]) for r in evals])


# Size sweep ----------
def test_size_sweep_tiny(root):
    from engine import dataset as ds_lib
    from engine.studies import run_size_sweep

    res = run_size_sweep(
        sizes=(1, 4), preset="quick", runs_root=root, overrides=TINY_LINES, eval_inits=2
    )
    _check_outputs(res, "size_sweep")
    assert res["sizes"] == [1, 4]
    assert len(res["final_return"]) == 2 and _finite(res["final_return"])
    assert len(_csv_rows(res["csv"])) == 2 * 2
    for n in (1, 4):
        ds = ds_lib.load(Path(res["datasets"]) / f"N{n}.npz")
        assert ds.states.shape == (n, 4)


# Transfer ----------
def test_transfer_tiny(root):
    from engine.studies import run_transfer

    res = run_transfer(
        runs_root=root,
        widths=(8,),
        steps=(5,),
        lrs=(),
        eval_inits=2,
        overrides=TINY_LINES,
    )
    _check_outputs(res, "transfer")
    rows = _csv_rows(res["csv"])
    # width 8 + in-distribution 16; steps 5 + 10; lr: in-distribution only
    assert len(rows) == (2 + 2 + 1) * 2
    home = [r for r in rows if r["in_distribution"] == "True"]
    assert {(r["axis"], r["value"]) for r in home} == {
        ("width", "16"),
        ("steps", "10"),
        ("lr", "0.005"),
    }
    assert set(res["returns"]["width"]) == {"8", "16"}
    assert _finite([float(r["return"]) for r in rows])
    assert math.isfinite(res["in_distribution_return"])


# Multitask ----------
def test_multitask_merge_and_masked_head():
    import jax

    from engine import dataset as ds_lib
    from engine.config import InnerConfig
    from engine.studies.multitask import MultiTaskPolicy, merge

    rng = np.random.default_rng(0)
    cp = ds_lib.Dataset(
        "CartPole-v1",
        rng.normal(size=(4, 4)).astype(np.float32),
        np.array([0, 1, 0, 1], np.int32),
        "onehot",
    )
    ac = ds_lib.Dataset(
        "Acrobot-v1",
        rng.normal(size=(3, 6)).astype(np.float32),
        np.array([0, 1, 2], np.int32),
        "onehot",
    )
    m = merge([cp, ac])
    assert m.states.shape == (7, 6 + 2) and m.targets.shape == (7, 3)
    np.testing.assert_array_equal(m.states[:4, 4:6], 0.0)  # CartPole padded
    np.testing.assert_array_equal(m.states[:4, 6:], [[1, 0]] * 4)
    np.testing.assert_array_equal(m.states[4:, 6:], [[0, 1]] * 3)
    np.testing.assert_array_equal(m.mask[:4], [[1, 1, 0]] * 4)
    pol = MultiTaskPolicy(m, InnerConfig(16, 1, "tanh", 20, 5e-3))
    params, loss = jax.jit(pol.train)(jax.random.PRNGKey(0))
    assert math.isfinite(float(loss))
    obs = jax.random.normal(jax.random.PRNGKey(1), (256, 4))
    acts = pol.policy_fn(params, 0)(jax.random.PRNGKey(2), obs)
    assert int(acts.max()) <= 1  # CartPole never gets Acrobot's third action
    acts = pol.policy_fn(params, 1)(
        jax.random.PRNGKey(2), jax.random.normal(jax.random.PRNGKey(1), (256, 6))
    )
    assert set(np.unique(np.asarray(acts))) <= {0, 1, 2}


def _tiny_dataset(env: str, labels):
    from engine import dataset as ds_lib
    from engine import presets

    cfg = presets.make("quick", env, len(labels), 0).with_overrides(TINY)
    rng = np.random.default_rng(len(env))
    n_obs = {"CartPole-v1": 4, "Acrobot-v1": 6}[env]
    return ds_lib.Dataset(
        env,
        rng.normal(size=(len(labels), n_obs)).astype(np.float32),
        np.asarray(labels, np.int32),
        "onehot",
        meta={"config": cfg.to_dict()},
    )


def test_multitask_tiny(root, tmp_path):
    from engine import dataset as ds_lib
    from engine.studies import run_multitask

    datasets = []  # dataset references: .npz files
    for env, labels in (("CartPole-v1", [0, 1, 0, 1]), ("Acrobot-v1", [0, 1, 2, 0])):
        ds_lib.save(_tiny_dataset(env, labels), tmp_path / f"{env}.npz")
        datasets.append(str(tmp_path / f"{env}.npz"))
    res = run_multitask(datasets=datasets, runs_root=root, eval_inits=2)
    _check_outputs(res, "multitask")
    assert set(res["tasks"]) == {"CartPole-v1", "Acrobot-v1"}
    for t in res["tasks"].values():
        assert _finite([t["multitask"], t["single_task"], t["random"]])
    assert res["input_size"] == 6 + 2 and res["merged_size"] == 8
    assert res["inner"]["width"] == 16 and res["inner"]["steps"] == 10
    assert len(_csv_rows(res["csv"])) == 3 * 2 * 2


@pytest.mark.slow
def test_multitask_quick_beats_random(root):
    from engine.studies import run_multitask

    res = run_multitask(runs_root=root, preset="quick")
    for env, t in res["tasks"].items():
        assert t["multitask"] > t["random"] + 3 * t["random_std"], (env, t)
    assert res["beats_random"]


# Supervised ----------
def _write_idx(path: Path, arr: np.ndarray, compress: bool) -> None:
    code = {np.dtype(np.uint8): 0x08}[arr.dtype]
    data = bytes([0, 0, code, arr.ndim]) + b"".join(
        struct.pack(">I", s) for s in arr.shape
    )
    data += arr.tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def test_idx_loader(tmp_path):
    from engine.studies.supervised import load_idx, load_idx_folder

    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (5, 4, 3), dtype=np.uint8)
    _write_idx(tmp_path / "raw", imgs, False)
    _write_idx(tmp_path / "gz", imgs, True)
    np.testing.assert_array_equal(load_idx(tmp_path / "raw"), imgs)
    np.testing.assert_array_equal(load_idx(tmp_path / "gz"), imgs)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01" + b"\0" * 8)
    with pytest.raises(ValueError, match="magic"):
        load_idx(tmp_path / "bad")
    short = (tmp_path / "raw").read_bytes()[:-3]
    (tmp_path / "short").write_bytes(short)
    with pytest.raises(ValueError, match="bytes follow"):
        load_idx(tmp_path / "short")
    folder = tmp_path / "mnist"
    folder.mkdir()
    y = np.arange(20, dtype=np.uint8) % 10
    x = rng.integers(0, 256, (20, 6, 6), dtype=np.uint8)
    _write_idx(folder / "train-images-idx3-ubyte.gz", x, True)
    _write_idx(folder / "train-labels-idx1-ubyte.gz", y, True)
    _write_idx(folder / "t10k-images-idx3-ubyte", x[:10], False)
    _write_idx(folder / "t10k-labels-idx1-ubyte", y[:10], False)
    data = load_idx_folder(folder)
    assert data.x_train.shape == (20, 6, 6, 1) and data.x_train.max() <= 1.0
    assert data.num_classes == 10 and data.y_test.tolist() == list(range(10))


def test_supervised_idx_folder_tiny(tmp_path, root):
    from engine.studies import run_supervised

    rng = np.random.default_rng(1)
    y = np.arange(40, dtype=np.uint8) % 10
    x = rng.integers(0, 256, (40, 6, 6), dtype=np.uint8)
    for split, n in (("train", 40), ("t10k", 20)):
        _write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", x[:n], True)
        _write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", y[:n], True)
    res = run_supervised(
        dataset="mnist", data_dir=str(tmp_path), runs_root=root, **TINY_SUPERVISED
    )
    _check_outputs(res, "supervised")
    with np.load(res["images"]) as z:
        assert z["distilled"].shape == (10, 6, 6, 1)


def test_supervised_digits_cli_json(root, capsys):
    from engine.cli import main

    argv = ["study", "supervised", "--dataset", "digits", "--preset", "quick"]
    argv += ["--generations", "2", "--population", "4", "--inner-steps", "5"]
    argv += ["--eval-inits", "2", "--runs", str(root), "--json", "--quiet"]
    assert main(argv) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"test_accuracy", "train_accuracy", "study_dir"} <= set(res)
    _check_outputs(res, "supervised")
    for k in ("test_accuracy", "train_accuracy", "start_test_accuracy"):
        assert 0.0 <= res[k] <= 1.0
    with np.load(res["images"]) as z:
        assert z["distilled"].shape == (10, 8, 8, 1) and _finite(z["distilled"])
    rows = _csv_rows(res["csv"])
    assert len(rows) == 2 * 2  # distilled and class means, 2 inits each
    curve = _csv_rows(res["curve_csv"])
    assert [int(r["generation"]) for r in curve] == [0, 1, 2]


@pytest.mark.slow
def test_supervised_digits_quick_above_chance(root):
    from engine.studies import run_supervised

    res = run_supervised(dataset="digits", preset="quick", runs_root=root)
    assert res["chance"] == pytest.approx(0.1)
    assert res["test_accuracy"] > 0.6, res["test_accuracy"]


# Published ----------
def test_published_tiny(tmp_path, root):
    from engine.studies import run_published

    names = (
        "minatar-Breakout-D16-constnorm-hadesR-sampled-seed0.pkl",
        "mnist-D10-seed0.pkl",
    )
    for n in names:
        src = REFERENCE / "datasets" / n
        if not src.exists():
            pytest.skip(
                f"reference data not available: {src} (the shared/reference "
                "folder beside the checkout holds the paper's datasets)"
            )
        os.symlink(src, tmp_path / n)
    ref_csv = tmp_path / "ref.csv"
    ref_csv.write_text("file,reference\nmnist-D10-seed0.pkl,0.896\n")
    res = run_published(
        folder=tmp_path,
        runs_root=root,
        reference=str(ref_csv),
        eval_inits=2,
        minatar_eval_inits=2,
        overrides=("fitness.num_steps=64", "inner.steps=4"),
    )
    _check_outputs(res, "published")
    assert res["evaluated"] == 1 and res["skipped"] == 1
    rows = {r["file"]: r for r in res["rows"]}
    skipped = rows["mnist-D10-seed0.pkl"]
    assert skipped["status"] == "skipped" and "supervised" in skipped["reason"]
    assert skipped["reference"] == pytest.approx(0.896)
    br = rows[names[0]]
    assert br["reference"] == pytest.approx(12.5) and br["inits"] == 2
    assert math.isfinite(br["mean"]) and math.isfinite(br["delta"])
    assert "skipped" in res["table"] and names[0] in res["table"]


# Common ----------
def test_failed_study_is_marked_and_listed(tmp_path):
    from engine.studies import list_studies, run_supervised

    with pytest.raises(ValueError, match="data-dir"):
        run_supervised(dataset="mnist", runs_root=tmp_path)
    # The data is loaded before the study directory exists: nothing written.
    assert list_studies(tmp_path) == []
    from engine.studies.common import StudyDir

    with pytest.raises(RuntimeError), StudyDir("demo", {}, tmp_path):
        raise RuntimeError("boom")
    rows = list_studies(tmp_path)
    assert len(rows) == 1 and rows[0]["status"]["status"] == "failed"
    assert "boom" in rows[0]["status"]["message"]
