"""Import of the authors' published HaDES pickles (engine/paper_import.py).

Tests on the real files need /work/shared/reference (skipped without it); the
restricted-unpickler tests and the synthetic-file tests run everywhere.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import types
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from conftest import REFERENCE  # noqa: E402

from engine import dataset as dsmod
from engine.config import HadesConfig
from engine.paper_import import (
    MAX_ARRAY_BYTES,
    MAX_FILE_BYTES,
    MAX_OPCODES,
    MAX_VALUES,
    EvosaxRecord,
    PaperImportError,
    import_paper,
    import_to_file,
    read_paper_pickle,
    record_fields,
)

DATASETS = REFERENCE / "datasets"
needs_reference = pytest.mark.skipif(
    not DATASETS.is_dir(),
    reason=f"published reference pickles not found at {DATASETS}",
)

HOPPER = [
    "brax-hopper-D4-constnorm-hadesR-seed0.pkl",
    "brax-hopper-D4-constnorm-hadesR-seed1.pkl",
    "brax-hopper-D4-constnorm-hadesR-seed2.pkl",
    "brax-hopper-D64-runningnorm-hadesR-seed0.pkl",
    "brax-hopper-D64-runningnorm-hadesF-seed0.pkl",
]
BREAKOUT = [
    f"minatar-Breakout-D16-constnorm-hadesR-sampled-seed{i}.pkl" for i in range(3)
]
# Final population-mean fitness of the training logs (reference/README.md).
FINAL_MEAN = {
    HOPPER[0]: 1742.1,
    HOPPER[1]: 1790.7,
    HOPPER[2]: 1072.5,
    HOPPER[3]: 1747.3,
    HOPPER[4]: 1842.3,
    BREAKOUT[0]: 8.40,
    BREAKOUT[1]: 8.99,
    BREAKOUT[2]: 5.22,
}


# --------------------------------------------------------------------------------------
# The published files
# --------------------------------------------------------------------------------------


@needs_reference
@pytest.mark.parametrize("name", HOPPER)
def test_hopper_files_import(name):
    raw = read_paper_pickle(DATASETS / name)
    mean = record_fields(raw["state"])["mean"]
    ds, notes = import_paper(DATASETS / name)
    n = 4 if "-D4-" in name else 64
    assert ds.env == "hopper"
    assert ds.label_kind == "continuous"
    assert ds.states.shape == (n, 11) and ds.states.dtype == np.float32
    assert ds.labels.shape == (n, 3) and ds.labels.dtype == np.float32
    # layout: N*|A| actions (row-major), then N*|S| states
    np.testing.assert_array_equal(ds.labels, mean[: n * 3].reshape(n, 3))
    np.testing.assert_array_equal(ds.states, mean[n * 3 :].reshape(n, 11))
    if "constnorm" in name:
        assert ds.obs_norm == "constant"
        np.testing.assert_allclose(ds.obs_mean, raw["config"]["OBS_MEAN"].ravel())
        np.testing.assert_allclose(ds.obs_var, raw["config"]["OBS_VAR"].ravel())
        ref = REFERENCE / "normalize" / "mean_hopper.npy"
        if ref.exists():
            np.testing.assert_allclose(ds.obs_mean, np.load(ref).ravel(), rtol=1e-6)
    else:
        assert ds.obs_norm == "running"
        assert ds.obs_mean is None
    meta = ds.meta
    assert meta["source"] == "paper-import" and meta["file"] == name
    assert meta["notes"] == notes
    cfg = meta["config"]
    assert cfg["env"] == {"name": "hopper", "normalize": ds.obs_norm}
    assert cfg["inner"]["steps"] == 200
    assert cfg["inner"]["lr"] == pytest.approx(0.005)
    assert cfg["inner"]["max_grad_norm"] == pytest.approx(0.5)
    assert cfg["inner"]["activation"] == "tanh" and cfg["inner"]["width"] == 512
    assert cfg["fitness"]["reduction"] == "mean_completed"
    assert (cfg["fitness"]["num_envs"], cfg["fitness"]["num_steps"]) == (4, 1024)
    log = meta["training_log"]
    assert log["generations"] == 2000 and log["es_generations"] == 2000
    assert log["final_mean_fitness"] == pytest.approx(FINAL_MEAN[name], abs=0.06)
    assert meta["best_fitness"] >= log["final_mean_fitness"]
    if "hadesF" in name:
        assert meta["fixed_init_seed"] == 420
        assert cfg["fitness"]["fixed_init"] is True
        assert cfg["fitness"]["fixed_init_seed"] == 420
        assert cfg["fitness"]["inits"] == 1
        assert any("HaDES-F" in n for n in notes)
    else:
        assert "fixed_init_seed" not in meta
        assert cfg["fitness"]["inits"] == 2


@needs_reference
@pytest.mark.parametrize("name", BREAKOUT)
def test_breakout_files_import(name):
    raw = read_paper_pickle(DATASETS / name)
    mean = record_fields(raw["state"])["mean"]
    assert mean.shape == (16 * 400,)
    ds, notes = import_paper(DATASETS / name)
    assert ds.env == "Breakout-MinAtar"
    assert ds.label_kind == "onehot"
    # N = 16 with 3 actions: floor(16/3) = 5 per action, the 16th state is dropped
    assert ds.states.shape == (15, 10, 10, 4)
    np.testing.assert_array_equal(ds.states, mean.reshape(16, 10, 10, 4)[:15])
    np.testing.assert_array_equal(ds.labels, [0] * 5 + [1] * 5 + [2] * 5)
    assert any("dropped 1 unused state" in n for n in notes)
    assert ds.obs_norm == "constant"
    assert ds.obs_mean.size == 400 and ds.obs_var.size == 400
    ref = REFERENCE / "normalize" / "mean_Breakout-MinAtar.npy"
    if ref.exists():
        np.testing.assert_allclose(ds.obs_mean, np.load(ref).ravel(), rtol=1e-6)
    cfg = ds.meta["config"]
    assert cfg["inner"]["activation"] == "relu"
    assert cfg["inner"]["steps"] == 64
    assert cfg["inner"]["lr"] == pytest.approx(0.03)
    assert cfg["inner"]["max_grad_norm"] == 0.0  # the paper's MinAtar code: no clip
    assert cfg["inner"]["adam_eps"] == pytest.approx(1e-5)
    assert cfg["fitness"]["reduction"] == "last_completed"
    assert (cfg["fitness"]["num_envs"], cfg["fitness"]["num_steps"]) == (8, 1024)
    assert cfg["fitness"]["greedy"] is False
    assert ds.meta["paper_dataset_size"] == 16
    assert ds.meta["paper_config"]["es_config"]["strategy"] == "SNES"
    log = ds.meta["training_log"]
    assert log["final_mean_fitness"] == pytest.approx(FINAL_MEAN[name], abs=0.01)


@needs_reference
@pytest.mark.parametrize("name", HOPPER + BREAKOUT)
def test_meta_config_builds_hades_config(name):
    ds, _ = import_paper(DATASETS / name)
    cfg = HadesConfig.from_dict(ds.meta["config"])
    assert cfg.env.name == ds.env
    assert cfg.env.normalize == ds.obs_norm
    assert cfg.inner.optimizer == "adam"
    assert cfg.inner.adam_eps == pytest.approx(1e-5)
    if "hadesF" in name:
        assert cfg.fitness.fixed_init and cfg.fixed_init_seed == 420
    else:
        assert not cfg.fitness.fixed_init


@needs_reference
@pytest.mark.parametrize("name", [HOPPER[0], HOPPER[4], BREAKOUT[0]])
def test_round_trip(tmp_path, name):
    ds, notes = import_paper(DATASETS / name)
    path, notes2 = import_to_file(DATASETS / name, tmp_path / "out.npz")
    assert notes2 == notes
    back = dsmod.load(path)
    assert back.env == ds.env and back.label_kind == ds.label_kind
    assert back.obs_norm == ds.obs_norm
    np.testing.assert_array_equal(back.states, ds.states)
    np.testing.assert_array_equal(back.labels, ds.labels)
    for a, b in ((back.obs_mean, ds.obs_mean), (back.obs_var, ds.obs_var)):
        if b is None:
            assert a is None
        else:
            np.testing.assert_array_equal(a, b)
    assert back.meta["source"] == "paper-import"
    assert back.meta["notes"] == notes
    assert back.meta.get("fixed_init_seed") == ds.meta.get("fixed_init_seed")
    HadesConfig.from_dict(back.meta["config"])


@needs_reference
def test_mnist_is_refused_clearly():
    raw = read_paper_pickle(DATASETS / "mnist-D10-seed0.pkl")  # reads fine
    assert raw["config"]["DATASET"] == "MNIST"
    with pytest.raises(PaperImportError, match="supervised") as e:
        import_paper(DATASETS / "mnist-D10-seed0.pkl")
    assert "not an RL dataset" in str(e.value)


@needs_reference
def test_raw_read_gives_numpy_and_records():
    raw = read_paper_pickle(DATASETS / HOPPER[0])
    assert set(raw) >= {"state", "config", "es_config", "fitness_over_gen"}
    st = raw["state"]
    assert isinstance(st, EvosaxRecord)
    assert st.evosax_class == "evosax.strategies.open_es.EvoState"
    assert type(st.mean) is np.ndarray and st.mean.dtype == np.float32
    assert isinstance(st.opt_state, EvosaxRecord)
    assert type(st.opt_state.m) is np.ndarray
    assert type(raw["fitness"]) is np.ndarray


# --------------------------------------------------------------------------------------
# Synthetic files in the published format (no reference data needed)
# --------------------------------------------------------------------------------------


def _fake_evosax(monkeypatch, module: str):
    """A stand-in evosax class registered under `module` so pickle names it."""
    cls = type("EvoState", (), {"__module__": module})
    parts = module.split(".")
    for i in range(1, len(parts) + 1):
        name = ".".join(parts[:i])
        mod = types.ModuleType(name)
        monkeypatch.setitem(sys.modules, name, mod)
    setattr(sys.modules[module], "EvoState", cls)
    return cls


def _write_fake(
    tmp_path,
    monkeypatch,
    kind: str,
    claimed_size: int | None = None,
    config_overrides: dict | None = None,
    learn_labels: bool = False,
) -> tuple[Path, np.ndarray]:
    """A pickle laid out like the published ones (evosax state, jax arrays)."""
    rng = np.random.default_rng(0)
    if kind == "brax":
        n, size = 5, 5 * (3 + 11)
        cls = _fake_evosax(monkeypatch, "evosax.strategies.open_es")
        config = {
            "ENV_NAME": "hopper",
            "CONST_NORMALIZE_OBS": False,
            "NORMALIZE_OBS": False,
            "WIDTH": 64,
            "ACTIVATION": "tanh",
            "UPDATE_EPOCHS": 10,
            "LR": 0.01,
            "MAX_GRAD_NORM": None,
            "NUM_ENVS": 2,
            "NUM_STEPS": 100,
            "GREEDY_ACT": True,
            "OVERFIT": True,
            "OVERFIT_SEED": 423,
            "SEED": 3,
        }
        es_config = {"dataset_size": n, "rollouts_per_candidate": 1}
    else:
        n, size = 11, 11 * ((4 if learn_labels else 0) + 10 * 10 * 6)
        cls = _fake_evosax(monkeypatch, "evosax.strategies.snes")
        config = {
            "ENV_NAME": "SpaceInvaders-MinAtar",
            "CONST_NORMALIZE_OBS": True,
            "NORMALIZE_OBS": False,
            "OBS_MEAN": jnp.zeros(600),
            "OBS_VAR": np.ones(600, np.float32),
            "WIDTH": 32,
            "ACTIVATION": "relu",
            "UPDATE_EPOCHS": 7,
            "LR": 0.03,
            "MAX_GRAD_NORM": 0.5,
            "NUM_ENVS": 8,
            "NUM_STEPS": 1024,
            "GREEDY_ACT": False,
            "OVERFIT": False,
            "SEED": 0,
        }
        es_config = {
            "dataset_size": n,
            "rollouts_per_candidate": 2,
            "learn_labels": learn_labels,
        }
    if claimed_size is not None:
        es_config["dataset_size"] = claimed_size
    config.update(config_overrides or {})
    mean = rng.standard_normal(size).astype(np.float32)
    state = cls()
    state.mean = jnp.asarray(mean)
    state.sigma = jnp.float32(0.1)
    state.best_fitness = np.float32(12.5)
    payload = {
        "state": state,
        "config": config,
        "es_config": es_config,
        "fitness_over_gen": [jnp.float32(1.0), jnp.float32(2.5)],
        "max_fitness_over_gen": [jnp.float32(3.0), jnp.float32(4.0)],
    }
    path = tmp_path / f"fake-{kind}.pkl"
    path.write_bytes(pickle.dumps(payload))
    return path, mean


def test_synthetic_brax_file(tmp_path, monkeypatch):
    path, mean = _write_fake(tmp_path, monkeypatch, "brax")
    monkeypatch.delitem(sys.modules, "evosax")  # the reader must not need evosax
    ds, notes = import_paper(path)
    assert ds.env == "hopper" and ds.label_kind == "continuous"
    np.testing.assert_array_equal(ds.labels, mean[:15].reshape(5, 3))
    np.testing.assert_array_equal(ds.states, mean[15:].reshape(5, 11))
    assert ds.obs_norm == "none"
    cfg = ds.meta["config"]
    assert cfg["inner"]["max_grad_norm"] == 0.0  # None in the file
    assert cfg["fitness"]["greedy"] is True
    assert ds.meta["fixed_init_seed"] == 423  # OVERFIT_SEED, = 420 + SEED
    assert ds.meta["training_log"]["final_mean_fitness"] == 2.5
    assert ds.meta["training_log"]["generations"] == 2
    assert ds.meta["training_log"]["final_max_fitness"] == 4.0
    assert ds.meta["best_fitness"] == 12.5
    hc = HadesConfig.from_dict(cfg)
    assert hc.fixed_init_seed == 423 and hc.seed == 3


def test_synthetic_minatar_file_and_round_trip(tmp_path, monkeypatch):
    path, mean = _write_fake(tmp_path, monkeypatch, "minatar")
    out, notes = import_to_file(path, tmp_path / "x" / "ds.npz")
    ds = dsmod.load(out)
    # 11 states, 4 actions: 2 per action, 3 dropped
    assert ds.env == "SpaceInvaders-MinAtar"
    assert ds.states.shape == (8, 10, 10, 6)
    np.testing.assert_array_equal(ds.states, mean.reshape(11, 10, 10, 6)[:8])
    np.testing.assert_array_equal(ds.labels, [0, 0, 1, 1, 2, 2, 3, 3])
    assert any("dropped 3 unused states" in n for n in notes)
    assert ds.obs_norm == "constant"
    np.testing.assert_array_equal(ds.obs_var, np.ones(600, np.float32))
    assert "fixed_init_seed" not in ds.meta
    HadesConfig.from_dict(ds.meta["config"])


def test_synthetic_minatar_learned_labels(tmp_path, monkeypatch):
    path, mean = _write_fake(tmp_path, monkeypatch, "minatar", learn_labels=True)
    ds, notes = import_paper(path)
    assert ds.label_kind == "soft"
    np.testing.assert_array_equal(ds.labels, mean[:44].reshape(11, 4))
    np.testing.assert_array_equal(ds.states, mean[44:].reshape(11, 10, 10, 6))
    assert not any("dropped" in n for n in notes)


def test_size_mismatch_is_refused(tmp_path, monkeypatch):
    path, _ = _write_fake(tmp_path, monkeypatch, "brax", claimed_size=6)
    with pytest.raises(PaperImportError, match="N=6"):
        import_paper(path)
    path, _ = _write_fake(tmp_path, monkeypatch, "minatar", claimed_size=12)
    with pytest.raises(PaperImportError, match="N=12"):
        import_paper(path)


@pytest.mark.parametrize(
    "kind,overrides,match",
    [
        ("brax", {"ENV_NAME": "Pong-misc"}, "not in our registry"),
        ("brax", {"ENV_NAME": "FashionMNIST"}, "supervised"),
        ("brax", {"WIDTH": [1, 2]}, "WIDTH"),
        ("brax", {"LR": "fast"}, "LR"),
        ("brax", {"ACTIVATION": "softsign"}, "ACTIVATION"),
        ("minatar", {"OBS_MEAN": np.zeros(7, np.float32)}, "OBS_MEAN"),
        ("minatar", {"OBS_VAR": "abc"}, "OBS_VAR|unexpected content"),
    ],
)
def test_bad_config_content_refused(tmp_path, monkeypatch, kind, overrides, match):
    path, _ = _write_fake(tmp_path, monkeypatch, kind, config_overrides=overrides)
    with pytest.raises(PaperImportError, match=match):
        import_paper(path)


# --------------------------------------------------------------------------------------
# Hostile and malformed files: always PaperImportError, nothing executed
# --------------------------------------------------------------------------------------


class _Reduce:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _write(tmp_path, obj, name="evil.pkl") -> Path:
    p = tmp_path / name
    p.write_bytes(pickle.dumps(obj))
    return p


def test_os_system_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    p = _write(tmp_path, _Reduce(os.system, (f"touch {marker}",)))
    for fn in (read_paper_pickle, import_paper):
        with pytest.raises(PaperImportError, match=r"refused global \w+\.system"):
            fn(p)
    assert not marker.exists()
    # also when hidden inside an otherwise plausible dict
    p = _write(tmp_path, {"config": {"x": _Reduce(os.system, (f"touch {marker}",))}})
    with pytest.raises(PaperImportError, match="system"):
        read_paper_pickle(p)
    assert not marker.exists()


@pytest.mark.parametrize(
    "fn,args,refused",
    [
        (eval, ("1+1",), "builtins.eval"),
        (exec, ("x=1",), "builtins.exec"),
        (getattr, ("abc", "upper"), "builtins.getattr"),
        (subprocess.Popen, (["true"],), "subprocess.Popen"),
        (__import__, ("os",), "builtins.__import__"),
    ],
)
def test_dangerous_globals_refused(tmp_path, fn, args, refused):
    p = _write(tmp_path, {"state": _Reduce(fn, args)})
    with pytest.raises(PaperImportError, match=f"refused global {refused}"):
        read_paper_pickle(p)


def test_object_arrays_refused(tmp_path):
    p = _write(tmp_path, {"a": np.array([1, "x"], dtype=object)})
    with pytest.raises(PaperImportError):
        read_paper_pickle(p)


def test_numpy_arrays_and_scalars_read(tmp_path):
    p = _write(tmp_path, {"a": np.arange(6.0).reshape(2, 3), "s": np.float32(1.5)})
    raw = read_paper_pickle(p)
    assert type(raw["a"]) is np.ndarray
    np.testing.assert_array_equal(raw["a"], np.arange(6.0).reshape(2, 3))
    assert raw["s"] == np.float32(1.5)


def test_build_on_allowed_global_refused(tmp_path):
    # PROTO 4; numpy.dtype; {"__call__": True}; BUILD; STOP
    data = b"\x80\x04\x8c\x05numpy\x8c\x05dtype\x93}\x8c\x08__call__\x88sb."
    p = tmp_path / "build.pkl"
    p.write_bytes(data)
    with pytest.raises(PaperImportError, match="BUILD"):
        read_paper_pickle(p)


@pytest.mark.parametrize("payload", [[1, 2, 3], "text", 42, None, (1, {})])
def test_non_dict_refused(tmp_path, payload):
    p = _write(tmp_path, payload)
    with pytest.raises(PaperImportError, match="expected a pickled dict"):
        read_paper_pickle(p)


def test_truncated_garbage_and_empty_refused(tmp_path):
    good = pickle.dumps({"a": np.arange(100.0), "b": [1, 2, 3]})
    cases = {
        "truncated.pkl": good[: len(good) // 2],
        "garbage.pkl": bytes(range(256)) * 4,
        "text.pkl": b"this is not a pickle at all\n",
        "empty.pkl": b"",
        "badproto.pkl": b"\x80\x09\x00.",
    }
    if DATASETS.is_dir():
        real = (DATASETS / BREAKOUT[0]).read_bytes()
        cases["real-truncated.pkl"] = real[: len(real) // 3]
    for name, data in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(PaperImportError):
            read_paper_pickle(p)
        with pytest.raises(PaperImportError):
            import_paper(p)


def test_missing_and_oversized_files_refused(tmp_path):
    with pytest.raises(PaperImportError, match="no such file"):
        read_paper_pickle(tmp_path / "nope.pkl")
    with pytest.raises(PaperImportError, match="not a regular file"):
        read_paper_pickle("/dev/zero")
    big = tmp_path / "big.pkl"
    with open(big, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: no real disk use
    with pytest.raises(PaperImportError, match=f"{MAX_FILE_BYTES >> 20} MiB limit"):
        read_paper_pickle(big)


def test_dict_without_paper_keys_refused(tmp_path):
    p = _write(tmp_path, {"hello": 1})
    with pytest.raises(PaperImportError, match="missing key"):
        import_paper(p)


# --------------------------------------------------------------------------------------
# Memory bounds: what a hostile pickle makes the reader allocate
# --------------------------------------------------------------------------------------


def test_shared_lists_that_expand_exponentially_refused(tmp_path):
    nested = [1.0]
    for _ in range(40):  # 2**40 leaves once shared references are expanded
        nested = [nested, nested]
    p = _write(tmp_path, {"config": {"x": nested}})
    assert p.stat().st_size < 1000
    with pytest.raises(PaperImportError, match=f"more than {MAX_VALUES} values"):
        read_paper_pickle(p)


def test_huge_memo_index_refused(tmp_path):
    # PROTO 2; None; LONG_BINPUT 2**28 (the C unpickler would size its memo by it)
    p = tmp_path / "memo.pkl"
    p.write_bytes(b"\x80\x02Nr" + (2**28).to_bytes(4, "little") + b".")
    with pytest.raises(PaperImportError, match="memo index"):
        read_paper_pickle(p)


def test_too_many_opcodes_refused(tmp_path):
    p = _write(tmp_path, {"x": list(range(MAX_OPCODES))})
    with pytest.raises(PaperImportError, match="opcodes"):
        read_paper_pickle(p)


class _SharedBuffer:
    """Pickles as a numpy array whose data is one bytes object shared by all."""

    def __init__(self, raw: bytes):
        self.raw = raw

    def __reduce__(self):
        from numpy._core.multiarray import _reconstruct

        state = (1, (len(self.raw) // 4,), np.dtype("<f4"), False, self.raw)
        return (_reconstruct, (np.ndarray, (0,), b"b"), state)


def test_arrays_sharing_one_buffer_count_against_one_budget(tmp_path):
    raw = bytes(2**20)
    arrays = [_SharedBuffer(raw) for _ in range(MAX_ARRAY_BYTES // len(raw) + 1)]
    p = _write(tmp_path, {"a": arrays})
    assert p.stat().st_size < 2 * len(raw)  # one copy of the data on disk
    with pytest.raises(PaperImportError, match="arrays exceed"):
        read_paper_pickle(p)
    ok = _write(tmp_path, {"a": arrays[:4]}, "ok.pkl")
    assert [a.nbytes for a in read_paper_pickle(ok)["a"]] == [len(raw)] * 4


def test_one_array_repeated_in_the_log_refused(tmp_path, monkeypatch):
    path, _ = _write_fake(tmp_path, monkeypatch, "brax")
    payload = pickle.loads(path.read_bytes())  # our own file
    big = np.ones(2**17)  # 1 MiB, pickled once, referenced many times
    payload["fitness_over_gen"] = [big] * (MAX_ARRAY_BYTES // big.nbytes + 1)
    path.write_bytes(pickle.dumps(payload))
    assert path.stat().st_size < 2 * big.nbytes
    with pytest.raises(PaperImportError, match="exceeds"):
        import_paper(path)
