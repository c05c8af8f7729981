"""The HaDES engine: chunked scan equals a Python loop, determinism, fitness rules,
strategies, devices, NaN containment."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ROOT, tiny_cartpole

from engine import dataset as ds_lib
from engine.outer import Distiller, clean_fitness
from engine.rollout import EpisodeStats, reduce_returns
from engine.strategies import STRATEGIES


def _tree_equal(a, b):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_scanned_chunk_equals_python_loop():
    cfg = tiny_cartpole(**{"outer.generations": 4, "outer.chunk": 4})
    d = Distiller(cfg)
    state, params = d.init()
    chunked, metrics = d.run_chunk(state, params, 0, 4)

    step = jax.jit(d.generation)
    looped = state
    rows = []
    for g in range(4):
        looped, m = step(looped, params, jnp.asarray(g, jnp.int32))
        rows.append(m)
    for a, b in zip(jax.tree.leaves(chunked), jax.tree.leaves(looped), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        metrics["fitness_mean"], [float(r["fitness_mean"]) for r in rows], rtol=1e-5
    )
    # the ES moved: the comparison is not between two untouched states
    assert np.abs(np.asarray(d.mean_solution(chunked)["states"])).sum() > 0


def test_chunking_does_not_change_result():
    a = Distiller(tiny_cartpole(**{"outer.chunk": 1}))
    b = Distiller(tiny_cartpole(**{"outer.chunk": 4}))
    sa, _, ga = a.run()
    sb, _, gb = b.run()
    assert ga == gb == 4
    np.testing.assert_allclose(
        np.asarray(sa.mean), np.asarray(sb.mean), rtol=1e-5, atol=1e-6
    )


def test_same_seed_bit_identical_and_other_seed_differs():
    s1, _, _ = Distiller(tiny_cartpole()).run()
    s2, _, _ = Distiller(tiny_cartpole()).run()
    s3, _, _ = Distiller(tiny_cartpole(seed=1)).run()
    _tree_equal(s1.mean, s2.mean)
    assert not np.array_equal(np.asarray(s1.mean), np.asarray(s3.mean))


def test_reduce_returns_never_scores_unfinished_as_zero():
    z = jnp.zeros(2)
    # no env finished: the partial returns count
    none_done = EpisodeStats(z, z, z, jnp.array([30.0, 50.0]))
    assert float(reduce_returns(none_done, "mean_completed")) == 40.0
    assert float(reduce_returns(none_done, "last_completed")) == 40.0
    # env 0 finished two episodes (10 + 20), env 1 none (partial 90)
    mixed = EpisodeStats(
        jnp.array([30.0, 0.0]),
        jnp.array([2.0, 0.0]),
        jnp.array([20.0, 0.0]),
        jnp.array([5.0, 90.0]),
    )
    assert float(reduce_returns(mixed, "mean_completed")) == 15.0
    assert float(reduce_returns(mixed, "last_completed")) == 55.0


def test_clean_fitness_replaces_nan_by_worst():
    f, n = clean_fitness(jnp.array([1.0, jnp.nan, 3.0, jnp.inf]))
    np.testing.assert_array_equal(np.asarray(f), [1.0, 1.0, 3.0, 1.0])
    assert int(n) == 2
    f, n = clean_fitness(jnp.array([jnp.nan, jnp.nan]))
    assert int(n) == 2 and np.all(np.isfinite(np.asarray(f)))


def test_nan_fitness_never_reaches_es(monkeypatch):
    d = Distiller(tiny_cartpole())
    orig = d.problem.population_fitness

    def half_nan(key, population):
        f, loss = orig(key, population)
        return f.at[::2].set(jnp.nan), loss

    monkeypatch.setattr(d.problem, "population_fitness", half_nan)
    state, params = d.init()
    state, metrics = d.run_chunk(state, params, 0, 2)
    assert np.all(np.asarray(metrics["nan_count"]) == 4)
    assert np.all(np.isfinite(np.asarray(state.mean)))


def test_hades_f_uses_one_fixed_init():
    cfg = tiny_cartpole(**{"fitness.fixed_init": "true", "fitness.inits": "1"})
    d = Distiller(cfg)
    ik1, _ = d.problem.generation_keys(jax.random.PRNGKey(1), 8)
    ik2, _ = d.problem.generation_keys(jax.random.PRNGKey(2), 8)
    np.testing.assert_array_equal(np.asarray(ik1), np.asarray(ik2))
    np.testing.assert_array_equal(
        np.asarray(ik1[0, 0]), np.asarray(jax.random.PRNGKey(420))
    )
    state, _, _ = d.run()
    assert d.mean_dataset(state).meta["fixed_init_seed"] == 420


def test_common_random_numbers_option():
    crn = Distiller(tiny_cartpole())
    ik, rk = crn.problem.generation_keys(jax.random.PRNGKey(0), 8)
    assert np.all(np.asarray(ik) == np.asarray(ik)[0])
    own = Distiller(tiny_cartpole(**{"fitness.common_random_numbers": "false"}))
    ik, rk = own.problem.generation_keys(jax.random.PRNGKey(0), 8)
    assert len({tuple(np.asarray(k).ravel()) for k in ik}) == 8


def test_member_batch_gives_same_fitness():
    a = Distiller(tiny_cartpole())
    b = Distiller(tiny_cartpole(**{"fitness.member_batch": 2}))
    sa, pa = a.init()
    pop, _ = a.strategy.ask(jax.random.PRNGKey(3), sa, pa)
    fa, _ = jax.jit(a.problem.population_fitness)(jax.random.PRNGKey(4), pop)
    fb, _ = jax.jit(b.problem.population_fitness)(jax.random.PRNGKey(4), pop)
    np.testing.assert_allclose(np.asarray(fa), np.asarray(fb), rtol=1e-5)


@pytest.mark.parametrize("labels", ["onehot", "soft"])
def test_discrete_label_kinds(labels):
    cfg = tiny_cartpole(**{"dataset.labels": labels, "dataset.size": 5})
    d = Distiller(cfg)
    state, _, _ = d.run()
    ds = d.mean_dataset(state)
    assert ds.label_kind == labels and ds.size == 5
    if labels == "onehot":  # all N states used: round-robin classes
        assert list(ds.labels) == [0, 1, 0, 1, 0]
    else:
        assert ds.labels.shape == (5, 2)


@pytest.mark.parametrize("name", STRATEGIES)
def test_every_registered_strategy_improves_a_sphere(name):
    """Each registry entry runs through our wrapper (ask, tell, live knobs) and
    lowers a sphere loss on a dict-of-arrays solution, the shape HaDES searches."""
    from engine.config import OuterConfig
    from engine.strategies import Strategy

    outer = OuterConfig(strategy=name, population=16, sigma=0.3, lr=0.1)
    template = {"actions": jnp.zeros((2, 1)), "states": jnp.zeros((2, 3))}
    strat = Strategy(outer, template)
    params = strat.default_params()
    start = jax.tree.map(lambda x: x + 1.0, template)
    state = strat.init(jax.random.PRNGKey(0), start, params)

    def loss(sol):
        return sum(jnp.sum(x**2) for x in jax.tree.leaves(sol))

    @jax.jit
    def gen(state, key):
        k1, k2 = jax.random.split(key)
        pop, state = strat.ask(k1, state, params)
        f = jax.vmap(loss)(pop)
        state, _ = strat.tell(k2, pop, f, state, params)
        return state, f.mean()

    keys = jax.random.split(jax.random.PRNGKey(1), 60)
    first = None
    for k in keys:
        state, f = gen(state, k)
        first = float(f) if first is None else first
    final = float(loss(strat.get_mean(state)))
    assert np.isfinite(final)
    assert final < loss(start), (name, final)
    if hasattr(state, "std"):
        assert float(strat.sigma(strat.set_sigma(state, 0.05))) == pytest.approx(0.05)


def test_dataset_save_load_round_trip(tmp_path):
    d = Distiller(tiny_cartpole())
    state, _, _ = d.run()
    ds = d.mean_dataset(state, generation=4)
    path = ds_lib.save(ds, tmp_path / "d.npz")
    back = ds_lib.load(path)
    np.testing.assert_array_equal(back.states, ds.states)
    np.testing.assert_array_equal(back.labels, ds.labels)
    assert back.meta["config"] == ds.meta["config"]
    assert back.meta["generation"] == 4


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04garbage"])
def test_malformed_dataset_file_is_a_clear_error(tmp_path, content):
    p = tmp_path / "bad.npz"
    p.write_bytes(content)
    with pytest.raises(ds_lib.DatasetError):
        ds_lib.load(p)


def test_dataset_file_with_pickled_object_is_refused(tmp_path):
    p = tmp_path / "obj.npz"
    np.savez(
        p,
        states=np.array([object()], dtype=object),
        labels=np.zeros(1),
        meta=np.array("{}"),
    )
    with pytest.raises(ds_lib.DatasetError):
        ds_lib.load(p)


def test_dataset_shape_mismatch_is_a_clear_error(tmp_path):
    p = tmp_path / "shape.npz"
    header = {"format": "hades-dataset", "env": "CartPole-v1", "label_kind": "onehot"}
    np.savez(
        p,
        states=np.zeros((3, 5), np.float32),
        labels=np.zeros(3, np.int32),
        meta=np.array(json.dumps(header)),
    )
    with pytest.raises(ds_lib.DatasetError, match="CartPole-v1 needs"):
        ds_lib.load(p)


_DEVICE_SCRIPT = """
import json, sys
import jax, numpy as np
from engine import presets
from engine.fitness import Problem
cfg = presets.make("quick", "CartPole-v1", 4, 0).with_overrides({
    "outer.population": 8, "inner.width": 16, "inner.steps": 10,
    "fitness.num_envs": 2, "fitness.num_steps": 50})
devs = jax.devices()
assert len(devs) == 4, devs
one = Problem(cfg, devices=devs[:1])
four = Problem(cfg, devices=devs)
pop = {"states": jax.random.normal(jax.random.PRNGKey(0), (8, 4, 4))}
f1, _ = jax.jit(one.population_fitness)(jax.random.PRNGKey(1), pop)
f4, l4 = jax.jit(four.population_fitness)(jax.random.PRNGKey(1), pop)
print(json.dumps({"one": np.asarray(f1).tolist(), "four": np.asarray(f4).tolist(),
                  "sharded": len(f4.sharding.device_set)}))
"""


def test_fitness_same_on_one_and_four_fake_devices():
    env = dict(
        os.environ,
        XLA_FLAGS="--xla_force_host_platform_device_count=4",
        PYTHONPATH=str(ROOT),
        JAX_PLATFORMS="cpu",
    )
    out = subprocess.run(
        [sys.executable, "-c", _DEVICE_SCRIPT],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["sharded"] == 4
    np.testing.assert_allclose(res["one"], res["four"], rtol=1e-5)
    assert len(set(res["one"])) > 1  # members differ: not a constant


def test_population_not_divisible_by_devices_is_config_error():
    from engine.config import ConfigError

    cpu = jax.devices()[0]
    with pytest.raises(ConfigError, match="outer.population"):
        Distiller(tiny_cartpole(), devices=[cpu, cpu, cpu])


def test_stats_file_accepts_a_dataset_npz(tmp_path):
    """A new run can reuse an (imported) dataset's constant statistics."""
    from engine import dataset as ds_lib
    from engine.envs.registry import get_spec
    from engine.obs_stats import for_config

    mean = np.array([0.1, -0.2, 0.3, 0.4], np.float32)
    var = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    ds = ds_lib.from_solution(
        {"states": np.zeros((4, 4), np.float32)},
        "CartPole-v1",
        "onehot",
        fixed_labels=np.array([0, 1, 0, 1]),
        obs_norm="constant",
        obs_mean=mean,
        obs_var=var,
    )
    path = ds_lib.save(ds, tmp_path / "ds.npz")
    cfg = tiny_cartpole(**{"env.normalize": "constant", "env.stats_file": path})
    got_mean, got_var = for_config(cfg, None, get_spec("CartPole-v1"))
    np.testing.assert_array_equal(got_mean, mean)
    np.testing.assert_array_equal(got_var, var)
    no_stats = ds_lib.save(
        ds_lib.from_solution(
            {"states": np.zeros((4, 4), np.float32)},
            "CartPole-v1",
            "onehot",
            fixed_labels=np.array([0, 1, 0, 1]),
        ),
        tmp_path / "plain.npz",
    )
    cfg = tiny_cartpole(**{"env.normalize": "constant", "env.stats_file": no_stats})
    with pytest.raises(ValueError, match="env.stats_file"):
        for_config(cfg, None, get_spec("CartPole-v1"))
