"""Why does a distilled dataset work? Pair importance, label sensitivity, a policy
map and coverage, computed by batched, jitted code (no UI here).

- Pair importance: fresh policies trained on the dataset without pair i, and on
  pair i alone, for every i, beside the whole dataset.
- Label sensitivity: pair i's label changed (discrete actions: each other action;
  continuous: the label times each of `ExplainConfig.label_scales`).

Every one of those variants is (targets (N, A), pair weights (N,)) over the same N
states: a removed pair gets weight 0 (the behaviour-cloning loss is a weighted mean
over pairs, `engine.inner.bc_loss`, so that equals training on the other N-1 pairs).
The shapes never depend on which pair is changed, so one compiled program per
(config, N) trains and scores all 1 + 2N + N*L variants in one call, each under the
same inits and rollout keys (common random numbers: differences between variants
are not rollout noise).

- Coverage: the states visited by policies trained on the whole dataset (their
  fitness rollouts), and the synthetic states, in the policy's normalised
  observation space; projected together to 2-D by PCA (an SVD in JAX); for every
  synthetic state the nearest visited state and its Euclidean distance.
- Policy map: classic control, the trained policy's action on a grid over two
  state dimensions (the others held at a chosen state); MinAtar and Brax, its action
  on the visited states, in the coverage projection.

Inits follow `engine.evaluate` (same keys for the same seed, a HaDES-F file's fixed
init unless `random_inits`), so `full_return` is what `hades evaluate` reports up to
floating-point summation order.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec

from engine import normalize
from engine.config import HadesConfig
from engine.dataset import Dataset
from engine.envs.registry import get_spec
from engine.evaluate import config_for_dataset, init_keys_for, uses_legacy_rng
from engine.fitness import Problem, legacy_rng
from engine.rollout import ObsNorm, reduce_returns, rollout

FORMAT = "hades-explain"
VERSION = 1


class ExplainError(ValueError):
    """The dataset or settings cannot be explained; the message says why."""


@dataclass(frozen=True)
class ExplainConfig:
    inits: int = 8
    """Fresh policies (inits) trained on each variant of the dataset."""
    seed: int = 0
    """Seed of the inits and rollouts (the same for every variant)."""
    random_inits: bool = False
    """Ignore a HaDES-F dataset's fixed init and use random inits."""
    label_scales: tuple[float, ...] = (-1.0, 0.0, 2.0)
    """Continuous labels: label sensitivity multiplies a pair's label by each of
    these."""
    dims: tuple[int, ...] = ()
    """Policy map (classic control): the two state dimensions of the grid, as I,J
    (default: the two along which the synthetic states spread most, in units of the
    visited states' spread)."""
    hold: int = -1
    """Policy map: the other state dimensions are held at this pair's state (-1: at
    the mean visited state)."""
    grid: int = 41
    """Policy map: grid points per axis."""
    coverage_inits: int = 2
    """Policies (the first inits) whose rollouts give the visited states."""
    max_points: int = 2000
    """At most this many visited states are projected and drawn."""

    def __post_init__(self):
        for name in ("inits", "grid", "coverage_inits", "max_points"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ExplainError(f"{name} must be a positive integer, got {v!r}")
        if self.grid < 2:
            raise ExplainError(f"grid must be at least 2, got {self.grid}")
        if self.dims and len(self.dims) != 2:
            raise ExplainError(
                f"dims must name two state dimensions I,J, got {list(self.dims)}"
            )
        if not self.label_scales:
            raise ExplainError("label_scales must hold at least one number")
        if not all(np.isfinite(s) for s in self.label_scales):
            raise ExplainError(f"label_scales must be finite: {self.label_scales}")


def check(ds: Dataset, ecfg: ExplainConfig) -> None:
    """Raise `ExplainError` with a one-line message for inputs that cannot work."""
    if ds.size < 2:
        raise ExplainError(
            f"the dataset has {ds.size} pair: there is nothing to remove (pair "
            "importance compares the dataset with and without each pair; N >= 2)"
        )
    d = ds.spec.obs_size
    if ecfg.dims:
        i, j = ecfg.dims
        if not (0 <= i < d and 0 <= j < d):
            raise ExplainError(
                f"state dimensions {i},{j} are out of range: {ds.env} states have "
                f"{d} dimensions (0..{d - 1})"
            )
        if i == j:
            raise ExplainError(
                f"the policy map needs two different dimensions: {i},{j}"
            )
    if not -1 <= ecfg.hold < ds.size:
        raise ExplainError(
            f"hold={ecfg.hold} is not a pair of this dataset (0..{ds.size - 1}, or -1 "
            "for the mean visited state)"
        )


# Variants ----------------------------------------------------------------------------
def base_targets(ds: Dataset) -> np.ndarray:
    """(N, A) training targets of the dataset as `Problem.targets` builds them."""
    return np.asarray(ds.targets(), np.float32)


def label_changes(ds: Dataset, ecfg: ExplainConfig) -> list[tuple[str, Callable]]:
    """[(name, change(target row, pair) -> new row)] for label sensitivity; the same
    number L of changes for every pair (the program's shapes stay fixed)."""
    spec = ds.spec
    if spec.discrete:
        # The k-th other action of a pair (skipping its own), named per pair below.
        def other(k):
            def fn(row, i):
                own = int(np.argmax(row))
                a = [b for b in range(spec.action_dim) if b != own][k]
                return np.eye(spec.action_dim, dtype=np.float32)[a]

            return fn

        return [(f"other {k}", other(k)) for k in range(spec.action_dim - 1)]
    return [
        (f"x{s:g}", lambda row, i, s=s: (row * np.float32(s)).astype(np.float32))
        for s in ecfg.label_scales
    ]


def change_name(ds: Dataset, name: str, row: np.ndarray) -> str:
    """Discrete: the action the label was changed to; continuous: the scale."""
    spec = ds.spec
    if spec.discrete:
        return spec.action_name(int(np.argmax(row)))
    return name


def build_variants(ds: Dataset, ecfg: ExplainConfig):
    """(targets (V, N, A), weights (V, N), descriptions) of every variant.

    Order: the whole dataset; without pair i (i = 0..N-1); pair i alone; then pair
    i's label changed (L per pair, pair-major)."""
    n = ds.size
    base = base_targets(ds)
    changes = label_changes(ds, ecfg)
    targets, weights, desc = [base], [np.ones(n, np.float32)], [("full", -1, "")]
    for i in range(n):
        w = np.ones(n, np.float32)
        w[i] = 0.0
        targets.append(base)
        weights.append(w)
        desc.append(("without", i, ""))
    for i in range(n):
        w = np.zeros(n, np.float32)
        w[i] = 1.0
        targets.append(base)
        weights.append(w)
        desc.append(("alone", i, ""))
    for i in range(n):
        for name, fn in changes:
            t = base.copy()
            t[i] = fn(base[i], i)
            targets.append(t)
            weights.append(np.ones(n, np.float32))
            desc.append(("label", i, change_name(ds, name, t[i])))
    return np.stack(targets), np.stack(weights), desc


# Compiled programs ---------------------------------------------------------------
class Program:
    """The jitted functions of one (config, N): built once per config and reused
    for every dataset with it (normalisation statistics are arguments, not
    constants baked into the program)."""

    def __init__(self, cfg: HadesConfig):
        self.cfg = cfg
        spec_size = get_spec(cfg.env.name).obs_size
        dummy = (
            (np.zeros(spec_size, np.float32), np.ones(spec_size, np.float32))
            if cfg.env.normalize == "constant"
            else (None, None)
        )
        self.problem = Problem(cfg, *dummy, devices=jax.local_devices()[:1])
        self.mode = cfg.env.normalize
        # Variants are independent, like ES members: on CPU they are sharded over
        # the per-core devices (`engine.runtime`), padded to a multiple of them.
        self.devices = jax.local_devices()
        self._variants_jit = jax.jit(self._sharded_variant_returns)
        self.visited = jax.jit(self._visited, static_argnums=(6,))
        self.policy_outputs = jax.jit(self._policy_outputs)

    def _norm(self, mean, var) -> ObsNorm:
        if self.mode == "constant":
            return ObsNorm(self.mode, mean, var)
        return ObsNorm(self.mode)

    def _trained(self, states, targets, weights, init_key):
        p = self.problem
        return p.train(p.init_params(init_key), states, targets, weights)

    def variant_returns(
        self, mean, var, states, targets, weights, init_keys, roll_keys
    ):
        """(V, K) returns and final BC losses of every variant under every init."""
        v = targets.shape[0]
        pad = -v % len(self.devices)
        if pad:
            targets = jnp.concatenate([targets, jnp.repeat(targets[-1:], pad, 0)])
            weights = jnp.concatenate([weights, jnp.repeat(weights[-1:], pad, 0)])
        rets, losses = self._variants_jit(
            mean, var, states, targets, weights, init_keys, roll_keys
        )
        return rets[:v], losses[:v]

    def _sharded_variant_returns(self, *args):
        if len(self.devices) == 1:
            return self._variant_returns(*args)
        rep, pop = PartitionSpec(), PartitionSpec("pop")
        mesh = jax.sharding.Mesh(np.array(self.devices), ("pop",))
        return jax.shard_map(
            self._variant_returns,
            mesh=mesh,
            in_specs=(rep, rep, rep, pop, pop, rep, rep),
            out_specs=(pop, pop),
            check_vma=False,
        )(*args)

    def _variant_returns(
        self, mean, var, states, targets, weights, init_keys, roll_keys
    ):
        """(V, K) returns and final BC losses: variant v trained from init k, rolled
        out with rollout key k (the same keys for every variant)."""
        p, f = self.problem, self.cfg.fitness
        norm = self._norm(mean, var)
        v = targets.shape[0]
        mb = p.member_batch

        def one(t, w, ik, rk):
            params, loss = self._trained(states, t, w, ik)
            stats, _ = rollout(
                rk, p.env, p.policy_fn(params), f.num_envs, f.num_steps, norm
            )
            return reduce_returns(stats, f.reduction), loss

        def one_init(keys):
            ik, rk = keys
            fn = lambda t, w: one(t, w, ik, rk)  # noqa: E731
            if mb and mb < v:
                return jax.lax.map(lambda x: fn(*x), (targets, weights), batch_size=mb)
            return jax.vmap(fn)(targets, weights)

        rets, losses = jax.lax.map(one_init, (init_keys, roll_keys))  # (K, V)
        return rets.T, losses.T

    def _visited(self, mean, var, states, targets, init_keys, roll_keys, max_points):
        """Policies trained on the whole dataset, their rollouts' observations.

        Returns (params stacked over policies, visited normalised (M, D), visited
        raw (M, D), the policy index of each visited state (M,), the indices of
        at most `max_points` evenly spread visited states, and the normalisation
        (mean, var) used, (D,) each)."""
        p, f = self.problem, self.cfg.fitness
        norm = self._norm(mean, var)
        weights = jnp.ones(states.shape[0], jnp.float32)

        def one(ik, rk):
            params, _ = self._trained(states, targets, weights, ik)
            _, obs = rollout(
                rk,
                p.env,
                p.policy_fn(params),
                f.num_envs,
                f.num_steps,
                norm,
                record_fn=lambda s, o, a, r, d: o,
            )
            return params, obs.reshape((-1, p.spec.obs_size))

        params, raw = jax.lax.map(lambda k: one(*k), (init_keys, roll_keys))
        c, per = raw.shape[:2]
        raw = raw.reshape((c * per, -1))
        owner = jnp.repeat(jnp.arange(c), per)
        if self.mode == "constant":
            n_mean, n_var = mean.reshape(-1), var.reshape(-1)
        elif self.mode == "running":
            # What the running statistics approach over an evaluation rollout.
            n_mean, n_var = raw.mean(0), raw.var(0)
        else:
            n_mean = jnp.zeros(raw.shape[1], jnp.float32)
            n_var = jnp.ones(raw.shape[1], jnp.float32) - normalize.EPS
        vis = normalize.apply(raw, n_mean, n_var)
        take = jnp.linspace(0, c * per - 1, min(max_points, c * per)).astype(jnp.int32)
        return params, vis, raw, owner, take, (n_mean, n_var)

    def _policy_outputs(self, params, obs):
        """Greedy action (discrete) and the policy's output: class probabilities
        (M, A) or action means (M, A), for normalised observations (M, D)."""
        p = self.problem
        x = obs.reshape((obs.shape[0], -1))
        if p.spec.discrete:
            logits = p.policy.apply(params, x)
            return jnp.argmax(logits, -1), jax.nn.softmax(logits, -1)
        mean, _ = p.policy.apply(params, x)
        return jnp.zeros(x.shape[0], jnp.int32), mean


@functools.lru_cache(maxsize=8)
def _program(cfg_json: str) -> Program:
    return Program(HadesConfig.from_dict(json.loads(cfg_json)))


def program_for(cfg: HadesConfig) -> Program:
    """The compiled programs of `cfg` (its dataset size is N): one per config."""
    return _program(cfg.to_json())


# Geometry (jitted, shapes fixed per config) -------------------------------------
@jax.jit
def pca_2d(points):
    """(2, D) principal axes, (D,) centre and (2,) explained-variance ratios of
    `points` (M, D), by SVD; signs fixed so the largest loading is positive."""
    centre = points.mean(0)
    x = points - centre
    _, s, vt = jnp.linalg.svd(x, full_matrices=False)
    axes = vt[:2]
    big = jnp.take_along_axis(axes, jnp.argmax(jnp.abs(axes), 1)[:, None], 1)
    axes = axes * jnp.where(big < 0, -1.0, 1.0)
    var = s**2
    ratio = var[:2] / jnp.maximum(var.sum(), 1e-12)
    if axes.shape[0] < 2:  # one-dimensional states: a zero second axis
        axes = jnp.concatenate([axes, jnp.zeros_like(axes)])
        ratio = jnp.concatenate([ratio, jnp.zeros(1)])
    return axes, centre, ratio


@jax.jit
def nearest(queries, points):
    """Index (Q,) of the nearest row of `points` (M, D) for each query (Q, D), and
    the Euclidean distance."""
    d2 = (
        (queries**2).sum(1)[:, None]
        + (points**2).sum(1)[None, :]
        - 2.0 * queries @ points.T
    )
    d2 = jnp.maximum(d2, 0.0)
    idx = jnp.argmin(d2, 1)
    return idx, jnp.sqrt(jnp.take_along_axis(d2, idx[:, None], 1)[:, 0])


@jax.jit
def typical_spacing(points):
    """Median distance from a point to its nearest other point (M, D)."""
    d2 = (
        (points**2).sum(1)[:, None]
        + (points**2).sum(1)[None, :]
        - 2 * points @ points.T
    )
    d2 = jnp.maximum(d2, 0.0) + jnp.eye(points.shape[0]) * jnp.inf
    return jnp.median(jnp.sqrt(d2.min(1)))


# Results -----------------------------------------------------------------------------
@dataclass
class ExplainResult:
    env: str
    size: int
    full_return: float
    pairs: list[dict]
    full_per_init: list[float]
    inits: int
    fixed_init: bool
    seed: int
    label_kind: str
    policy_map: dict = field(default_factory=dict)
    coverage: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """The `hades explain --json` object: env, size, full_return, pairs, plus a
        few small extras (inits, fixed_init, full_per_init, most_important)."""
        return {
            "env": self.env,
            "size": self.size,
            "full_return": self.full_return,
            "pairs": self.pairs,
            "inits": self.inits,
            "fixed_init": self.fixed_init,
            "full_per_init": self.full_per_init,
            "most_important": most_important(self.pairs),
            "seconds": self.timings.get("total"),
        }

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, d: dict) -> ExplainResult:
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ExplainError("not an explain result (format field missing)")
        names = {f.name for f in dataclasses.fields(cls)}
        missing = {"env", "size", "full_return", "pairs"} - set(d)
        if missing:
            raise ExplainError(f"explain result misses {sorted(missing)}")
        return cls(**{k: v for k, v in d.items() if k in names})


def most_important(pairs: list[dict]) -> int | None:
    """The pair whose removal lowers the mean return most."""
    if not pairs:
        return None
    return int(min(pairs, key=lambda p: p["without_return"])["index"])


def _floats(a) -> list[float]:
    return [float(x) for x in np.asarray(a, np.float64).reshape(-1)]


# The whole explanation --------------------------------------------------------------
def explain_dataset(
    ds: Dataset,
    ecfg: ExplainConfig | None = None,
    overrides: dict | None = None,
    progress_fn: Callable[[float, str], None] | None = None,
) -> ExplainResult:
    """Pair importance, label sensitivity, policy map and coverage of `ds`.

    `overrides` change the stored inner-loop/fitness settings (as `hades evaluate
    --set`); `progress_fn(fraction, message)` is called between the stages.
    """
    ecfg = ecfg or ExplainConfig()
    check(ds, ecfg)
    say = progress_fn or (lambda frac, msg: None)
    t0 = time.perf_counter()
    cfg = config_for_dataset(ds, overrides)
    prog = program_for(cfg)
    spec = ds.spec
    n = ds.size
    targets, weights, desc = build_variants(ds, ecfg)
    v = len(desc)
    say(0.02, f"training {v} variants x {ecfg.inits} inits (one batched call)")
    mean, var = _norm_stats(ds)
    states = jnp.asarray(ds.states, jnp.float32)
    k_init, k_roll = jax.random.split(jax.random.PRNGKey(ecfg.seed))
    init_keys, fixed = init_keys_for(ds, k_init, ecfg.inits, ecfg.random_inits)
    with legacy_rng(uses_legacy_rng(ds, fixed)):
        roll_keys = jax.random.split(k_roll, ecfg.inits)
        rets, _ = prog.variant_returns(
            mean,
            var,
            states,
            jnp.asarray(targets),
            jnp.asarray(weights),
            init_keys,
            roll_keys,
        )
        rets = np.asarray(rets, np.float64)  # (V, K)
        t_var = time.perf_counter()
        say(0.6, "rolling out policies trained on the whole dataset (coverage)")
        c = min(ecfg.coverage_inits, ecfg.inits)
        params, vis, raw, owner, take, (n_mean, n_var) = prog.visited(
            mean,
            var,
            states,
            jnp.asarray(targets[0]),
            init_keys[:c],
            roll_keys[:c],
            ecfg.max_points,
        )
    pairs = _pairs(ds, desc, rets)
    say(0.8, "projecting states (PCA) and mapping the policy")
    coverage, proj = _coverage(ds, vis, raw, owner, take, n_mean, n_var)
    policy_map = _policy_map(ds, ecfg, prog, params, vis, take, owner, proj)
    # The first policy's action at each nearest visited state (drawn as its label).
    first = jax.tree.map(lambda x: x[0], params)
    act, out = prog.policy_outputs(first, vis[jnp.asarray(coverage["nearest_index"])])
    coverage["nearest_action"] = (
        np.asarray(act).tolist()
        if spec.discrete
        else np.asarray(out, np.float64).round(4).tolist()
    )
    t_end = time.perf_counter()
    say(1.0, "done")
    return ExplainResult(
        env=ds.env,
        size=n,
        full_return=float(rets[0].mean()),
        pairs=pairs,
        full_per_init=_floats(rets[0]),
        inits=ecfg.inits,
        fixed_init=bool(fixed),
        seed=ecfg.seed,
        label_kind=ds.label_kind,
        policy_map=policy_map,
        coverage=coverage,
        timings={
            "variants": round(t_var - t0, 3),
            "coverage_and_map": round(t_end - t_var, 3),
            "total": round(t_end - t0, 3),
            "variant_count": v,
        },
        settings={
            **{
                k: list(x) if isinstance(x, tuple) else x
                for k, x in dataclasses.asdict(ecfg).items()
            },
            "overrides": dict(overrides or {}),
            "feature_names": [spec.feature_name(j) for j in range(spec.obs_size)]
            if spec.family != "minatar"
            else [],
            "action_names": [spec.action_name(a) for a in range(spec.action_dim)],
        },
    )


def _norm_stats(ds: Dataset):
    d = ds.spec.obs_size
    if ds.obs_norm == "constant":
        return (
            jnp.asarray(ds.obs_mean, jnp.float32).reshape(ds.spec.obs_shape),
            jnp.asarray(ds.obs_var, jnp.float32).reshape(ds.spec.obs_shape),
        )
    return jnp.zeros(d, jnp.float32), jnp.ones(d, jnp.float32)


def _pairs(ds: Dataset, desc, rets: np.ndarray) -> list[dict]:
    n = ds.size
    out = []
    for i in range(n):
        without = 1 + i
        alone = 1 + n + i
        labels = {}
        per_label = {}
        for v, (kind, j, name) in enumerate(desc):
            if kind == "label" and j == i:
                labels[name] = float(rets[v].mean())
                per_label[name] = _floats(rets[v])
        out.append(
            {
                "index": i,
                "without_return": float(rets[without].mean()),
                "alone_return": float(rets[alone].mean()),
                "label_sensitivity": labels,
                "without_per_init": _floats(rets[without]),
                "alone_per_init": _floats(rets[alone]),
                "label_per_init": per_label,
            }
        )
    return out


def _coverage(ds, vis, raw, owner, take, n_mean, n_var):
    """Coverage dict and the projection (axes, centre) it used."""
    synth = jnp.asarray(ds.states, jnp.float32).reshape((ds.size, -1))
    sub = vis[take]
    axes, centre, ratio = pca_2d(jnp.concatenate([sub, synth]))
    idx, dist = nearest(synth, vis)
    spacing = typical_spacing(sub)
    project = lambda x: (x - centre) @ axes.T  # noqa: E731
    synth_raw = synth * jnp.sqrt(n_var + normalize.EPS) + n_mean
    cov = {
        "space": "normalised observations (the policy's input)",
        "norm": ds.obs_norm,
        "visited_count": int(vis.shape[0]),
        "visited_2d": np.asarray(project(sub), np.float64).round(5).tolist(),
        "visited_policy": np.asarray(owner[take]).tolist(),
        "synthetic_2d": np.asarray(project(synth), np.float64).round(5).tolist(),
        "nearest_2d": np.asarray(project(vis[idx]), np.float64).round(5).tolist(),
        "explained_variance": _floats(ratio),
        "nearest_index": np.asarray(idx).tolist(),
        "nearest_distance": _floats(dist),
        "typical_spacing": float(spacing),
        "synthetic_raw": np.asarray(synth_raw, np.float64).round(5).tolist(),
        "nearest_raw": np.asarray(raw[idx], np.float64).round(5).tolist(),
        "nearest_normalised": np.asarray(vis[idx], np.float64).round(5).tolist(),
    }
    return cov, (axes, centre)


def _label_actions(ds: Dataset) -> list:
    """Each pair's label as the map colours it: action index, or the first
    action dimension's value."""
    t = base_targets(ds)
    if ds.spec.discrete:
        return [int(a) for a in np.argmax(t, -1)]
    return _floats(t[:, 0])


def _policy_map(ds, ecfg, prog, params, vis, take, owner, proj) -> dict:
    spec = ds.spec
    first = jax.tree.map(lambda x: x[0], params)
    names = [spec.action_name(a) for a in range(spec.action_dim)]
    if spec.family != "classic":
        # Each visited state coloured by the action of the policy that visited it.
        sub = vis[take]
        who = owner[take]

        def outputs(k):
            pk = jax.tree.map(lambda x: x[k], params)
            return prog.policy_outputs(pk, sub)

        acts, outs = [], []
        for k in range(int(jax.tree.leaves(params)[0].shape[0])):
            a, o = outputs(k)
            acts.append(np.asarray(a))
            outs.append(np.asarray(o))
        sel = np.asarray(who)
        rows = np.arange(len(sel))
        action = np.stack(acts)[sel, rows]
        out = np.stack(outs)[sel, rows]
        return {
            "kind": "visited",
            "discrete": spec.discrete,
            "action_names": names,
            "action": action.tolist() if spec.discrete else [],
            "synthetic_action": _label_actions(ds),
            "value": out.round(4).tolist(),
            "note": "each visited state (coverage projection) coloured by the "
            "greedy action, or the action mean, of the policy that visited it",
        }
    synth = np.asarray(ds.states, np.float64).reshape((ds.size, -1))
    sub = np.asarray(vis[take], np.float64)
    if ecfg.dims:
        i, j = (int(x) for x in ecfg.dims)
    else:
        spread = synth.std(0) / (sub.std(0) + 1e-6)
        i, j = (int(x) for x in np.sort(np.argsort(-spread, kind="stable")[:2]))
    hold = synth[ecfg.hold] if ecfg.hold >= 0 else sub.mean(0)
    axes_vals = []
    for d in (i, j):
        lo = min(synth[:, d].min(), sub[:, d].min())
        hi = max(synth[:, d].max(), sub[:, d].max())
        pad = 0.05 * (hi - lo) if hi > lo else 1.0
        axes_vals.append(np.linspace(lo - pad, hi + pad, ecfg.grid))
    xs, ys = axes_vals
    gx, gy = np.meshgrid(xs, ys)  # (G, G): rows follow y
    pts = np.repeat(hold[None, :], gx.size, 0)
    pts[:, i] = gx.reshape(-1)
    pts[:, j] = gy.reshape(-1)
    act, out = prog.policy_outputs(first, jnp.asarray(pts, jnp.float32))
    g = ecfg.grid
    if spec.discrete:
        z = np.asarray(act).reshape(g, g)
        zkind = "action"
    else:
        z = np.asarray(out)[:, 0].reshape(g, g)
        zkind = f"action mean ({names[0]})"
    return {
        "kind": "grid",
        "discrete": spec.discrete,
        "dims": [i, j],
        "dim_names": [spec.feature_name(i), spec.feature_name(j)],
        "x": _floats(xs),
        "y": _floats(ys),
        "z": np.asarray(z).round(4).tolist(),
        "z_kind": zkind,
        "hold": _floats(hold),
        "hold_source": f"pair {ecfg.hold}" if ecfg.hold >= 0 else "mean visited state",
        "synthetic": synth[:, [i, j]].round(5).tolist(),
        "synthetic_action": _label_actions(ds),
        "visited": sub[:, [i, j]].round(5).tolist(),
        "action_names": names,
        "note": "policy trained on the whole dataset (first init); axes in the "
        "policy's normalised input space",
    }
