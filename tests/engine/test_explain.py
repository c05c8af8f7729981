"""`engine.explain` and `hades explain`: the variants, the weighted loss they rely
on, the JSON contract through the real CLI, one compile per (config, N), the
CartPole quick-preset acceptance (slow), published files through the safe importer
and clear one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ROOT, reference_file, tiny_cartpole

from engine import dataset as ds_lib
from engine.explain import (
    ExplainConfig,
    ExplainError,
    build_variants,
    check,
    explain_dataset,
)


def _cli(*args, timeout=900):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=ROOT,
    )


def _tiny_dataset(seed=0, n=4, cfg=None, env="CartPole-v1") -> ds_lib.Dataset:
    cfg = cfg or tiny_cartpole()
    rng = np.random.default_rng(seed)
    spec = ds_lib.get_spec(env)
    states = rng.normal(0, 0.1, (n, *spec.obs_shape)).astype(np.float32)
    if spec.discrete:
        labels = ds_lib.round_robin_labels(n, spec.action_dim)
        kind = "onehot"
    else:
        labels = rng.normal(0, 0.5, (n, spec.action_dim)).astype(np.float32)
        kind = "continuous"
    return ds_lib.Dataset(env, states, labels, kind, meta={"config": cfg.to_dict()})


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from engine.runs import Runner

    root = tmp_path_factory.mktemp("explain-cli")
    run = Runner.create(tiny_cartpole(), root=root, name="tiny", keep_last=10)
    assert run.run()["status"] == "finished"
    return root, run.run_id


# Variants and the loss they rely on ---------------------------------------------
def test_variants_discrete_and_continuous():
    ds = _tiny_dataset(n=4)
    t, w, desc = build_variants(ds, ExplainConfig())
    n, a = 4, 2
    assert t.shape == (1 + 2 * n + n * (a - 1), n, a) == (13, 4, 2)
    np.testing.assert_array_equal(w[0], np.ones(n))
    for i in range(n):
        np.testing.assert_array_equal(w[1 + i], 1 - np.eye(n)[i])  # without i
        np.testing.assert_array_equal(w[1 + n + i], np.eye(n)[i])  # i alone
        v = 1 + 2 * n + i  # pair i's label flipped to the other action
        assert desc[v][:2] == ("label", i)
        assert np.argmax(t[v, i]) != ds.labels[i]
        np.testing.assert_array_equal(np.delete(t[v], i, 0), np.delete(t[0], i, 0))
    hop = _tiny_dataset(n=3, env="hopper")
    scales = (-1.0, 0.0, 2.0)
    t, w, desc = build_variants(hop, ExplainConfig(label_scales=scales))
    assert t.shape == (1 + 6 + 9, 3, 3)
    np.testing.assert_allclose(t[1 + 6 + 3 * 1 + 2, 1], 2.0 * hop.labels[1])
    assert [d[2] for d in desc[7:10]] == ["x-1", "x0", "x2"]


def test_weighted_loss_equals_training_on_the_subset():
    """A 0/1 mask over pairs is the same loss and gradient as the smaller dataset."""
    from engine.inner import bc_loss
    from engine.policy import init_params, make_policy

    for env in ("CartPole-v1", "hopper"):
        spec = ds_lib.get_spec(env)
        cfg = tiny_cartpole()
        policy = make_policy(spec, cfg.inner)
        params = init_params(policy, spec, jax.random.PRNGKey(1))
        ds = _tiny_dataset(n=5, env=env)
        x, y = jnp.asarray(ds.states), jnp.asarray(ds.targets())
        keep = np.array([1, 0, 1, 1, 0], bool)
        full = bc_loss(policy, spec, params, x[keep], y[keep])
        masked = bc_loss(policy, spec, params, x, y, jnp.asarray(keep, jnp.float32))
        np.testing.assert_allclose(float(masked), float(full), rtol=1e-6)
        g1 = jax.grad(lambda p: bc_loss(policy, spec, p, x[keep], y[keep]))(params)
        g2 = jax.grad(
            lambda p: bc_loss(policy, spec, p, x, y, jnp.asarray(keep, jnp.float32))
        )(params)
        for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)


# The CLI contract -----------------------------------------------------------------
def test_cli_json_structure_and_figures(tiny_run, tmp_path):
    root, run_id = tiny_run
    out = tmp_path / "explain-out"
    r = _cli(
        "explain", run_id, "--runs", str(root), "--inits", "3", "--json",
        "--out", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert {"env", "size", "full_return", "pairs"} <= set(res)
    assert res["env"] == "CartPole-v1" and res["size"] == 4
    assert isinstance(res["full_return"], float)
    assert [p["index"] for p in res["pairs"]] == [0, 1, 2, 3]
    for p in res["pairs"]:
        assert {"index", "without_return", "alone_return", "label_sensitivity"} <= set(
            p
        )
        assert isinstance(p["without_return"], float)
        assert isinstance(p["alone_return"], float)
        # CartPole: each label changed to the one other action
        other = {0: "push right", 1: "push left"}[p["index"] % 2]
        assert list(p["label_sensitivity"]) == [other]
        assert len(p["without_per_init"]) == 3
    assert res["full_return"] == pytest.approx(np.mean(res["full_per_init"]))
    for name in (
        "importance",
        "label_sensitivity",
        "policy_map",
        "coverage",
        "nearest",
    ):
        png = out / f"{name}.png"
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert json.loads((out / f"{name}.json").read_text())
    full = json.loads((out / "explain.json").read_text())
    assert full["format"] == "hades-explain"
    assert full["policy_map"]["kind"] == "grid"
    assert np.asarray(full["policy_map"]["z"]).shape == (41, 41)
    assert len(full["coverage"]["nearest_distance"]) == 4
    # Text mode: a table with one line per pair
    r = _cli("explain", run_id, "--runs", str(root), "--inits", "2")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "most important pair:" in r.stdout
    assert sum(line.strip()[:1].isdigit() for line in r.stdout.splitlines()) == 4


def test_one_compile_per_config_and_size(compile_counter):
    """Two datasets of one (config, N) compile the variants program once, for all
    their 1 + 2N + N(A-1) variants; another N compiles it once more."""
    cfg = tiny_cartpole(**{"inner.steps": 7})  # a config no other test compiles
    a = _tiny_dataset(seed=1, cfg=cfg)
    b = _tiny_dataset(seed=2, cfg=cfg)
    c = _tiny_dataset(seed=3, n=6, cfg=cfg)
    ecfg = ExplainConfig(inits=2, coverage_inits=1)
    name = "_sharded_variant_returns"  # the jitted variants program

    counts, results = [], []
    for ds in (a, b, c):
        before = compile_counter.count(name)
        results.append(explain_dataset(ds, ecfg))
        counts.append(compile_counter.count(name) - before)
    assert counts == [1, 0, 1]
    ra, rb, rc = results
    assert ra.timings["variant_count"] == 13 and rc.timings["variant_count"] == 19
    assert len(rb.pairs) == 4 and len(rc.pairs) == 6


def test_full_return_matches_evaluate():
    """The whole-dataset variant is the same training and rollouts as `evaluate`
    (same keys); up to summation order of the weighted loss the returns agree."""
    from engine.evaluate import evaluate_dataset

    ds = ds_lib.load(
        ROOT / "dashboard" / "assets" / "demo" / "cartpole" / "dataset.npz"
    )
    res = explain_dataset(ds, ExplainConfig(inits=4, coverage_inits=1))
    ev = evaluate_dataset(ds, inits=4)
    assert res.full_return == pytest.approx(ev.mean_return, rel=0.05)


@pytest.mark.slow
def test_quick_cartpole_most_important_pair_matters(tmp_path):
    """Issue 13: removing the most important pair of a quick-preset CartPole
    dataset lowers the mean return of 8 fresh inits by at least a fifth."""
    r = _cli(
        "distill", "--preset", "quick", "--env", "CartPole-v1", "--runs",
        str(tmp_path), "--json", "--quiet",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    run_id = json.loads(r.stdout.strip().splitlines()[-1])["run_id"]
    r = _cli("explain", run_id, "--runs", str(tmp_path), "--inits", "8", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    worst = min(res["pairs"], key=lambda p: p["without_return"])
    drop = res["full_return"] - worst["without_return"]
    print(
        f"quick CartPole: whole {res['full_return']:.1f}, without pair "
        f"{worst['index']} {worst['without_return']:.1f} (drop {drop:.1f})"
    )
    assert drop >= 0.2 * res["full_return"], res


# Published files through the safe importer -------------------------------------
@pytest.mark.slow
def test_published_hades_f_file_keeps_its_fixed_init(tmp_path):
    """A HaDES-F pickle is explained with its fixed init (cheap inner/rollout
    settings: this checks the path, not the paper's numbers)."""
    path = reference_file("brax-hopper-D64-runningnorm-hadesF-seed0.pkl")
    r = _cli(
        "explain", str(path), "--inits", "2", "--coverage-inits", "1", "--json",
        "--set", "inner.steps=2", "--set", "inner.width=8",
        "--set", "fitness.num_steps=8", "--set", "fitness.num_envs=1",
        "--label-scales", "0",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["env"] == "hopper" and res["size"] == 64
    assert res["fixed_init"] is True
    assert len(res["pairs"]) == 64
    assert all(list(p["label_sensitivity"]) == ["x0"] for p in res["pairs"])


# Bad input ------------------------------------------------------------------------
def test_bad_inputs_one_line_errors(tmp_path):
    one = _tiny_dataset(n=1)
    with pytest.raises(ExplainError, match="nothing to remove"):
        check(one, ExplainConfig())
    with pytest.raises(ExplainError, match="out of range"):
        check(_tiny_dataset(), ExplainConfig(dims=(0, 4)))
    with pytest.raises(ExplainError, match="two different"):
        check(_tiny_dataset(), ExplainConfig(dims=(1, 1)))
    with pytest.raises(ExplainError, match="hold"):
        check(_tiny_dataset(), ExplainConfig(hold=4))
    with pytest.raises(ExplainError, match="inits"):
        ExplainConfig(inits=0)
    path = ds_lib.save(one, tmp_path / "one.npz")
    cases = [
        (("explain", path), "nothing to remove"),
        (("explain", ds_lib.save(_tiny_dataset(), tmp_path / "four.npz"),
          "--dims", "0,9"), "out of range"),
        (("explain", str(tmp_path / "missing.npz")), "no such file"),
        (("explain", path, "--dims", "a,b"), "not ints"),
    ]  # fmt: skip
    for args, words in cases:
        r = _cli(*map(str, args), timeout=300)
        assert r.returncode == 2, (args, r.stderr[-2000:])
        assert "Traceback" not in r.stderr, r.stderr
        lines = [ln for ln in r.stderr.splitlines() if ln.startswith("hades")]
        assert lines and words in lines[-1], (args, r.stderr)
