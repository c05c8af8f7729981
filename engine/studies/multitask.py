"""Multi-task zero-shot: datasets distilled for single tasks train one policy.

Lupu et al., "Behaviour Distillation" (ICLR 2024): datasets distilled separately for
several environments are merged into one training set; a single policy trained on
it by behaviour cloning acts in every environment, with no further search.

Merging (our choice, documented here):

- Observations: each task's states (already in that task's normalised observation
  space) are flattened, zero-padded to the largest observation size, and a one-hot
  of the task index is appended: input size max|S| + T.
- Actions, discrete tasks: one shared head of max|A| logits. For each task the
  logits of actions it does not have are masked to -inf, in training (so its
  cross-entropy is over its own actions only, divided by its own |A| as the
  single-task loss) and when acting (so the policy only samples valid actions).
  Labels are the datasets' own: fixed one-hot classes or learned soft labels.
- Actions, continuous tasks: one shared Gaussian head of max|A| dimensions; the
  negative log-likelihood of a pair sums only over its task's action dimensions,
  and an env receives the first |A_t| dimensions. Discrete and continuous tasks
  cannot be mixed.
- The pairs of all tasks are trained together, full batch, each pair weighted
  equally (the datasets here have equal sizes); inner loop (width, depth,
  activation, steps, optimiser) from the first task's dataset config unless
  overridden.

Every task is then scored with its own fitness settings (envs, steps, reduction,
observation normalisation) and compared with the single-task policies (each
dataset alone, `evaluate_dataset`) and a uniformly random policy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from engine import dataset as ds_lib
from engine import presets
from engine.config import ConfigError, InnerConfig, parse_overrides
from engine.dataset_ref import load_dataset_ref
from engine.envs.registry import get_spec
from engine.evaluate import config_for_dataset, evaluate_dataset, problem_for_dataset
from engine.figures.multitask import figure
from engine.inner import make_optimizer
from engine.policy import MLPPolicy
from engine.rollout import reduce_returns, rollout
from engine.studies import common
from engine.studies.params import StudyParams, make

NAME = "multitask"
DEFAULT_ENVS = ("CartPole-v1", "Acrobot-v1")
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


@dataclass
class Merged:
    """The merged training set and what is needed to act in each task."""

    envs: tuple[str, ...]
    discrete: bool
    states: np.ndarray  # (N_total, max_obs + T) padded states + task one-hot
    targets: np.ndarray  # (N_total, max_act) class probabilities or actions
    mask: np.ndarray  # (N_total, max_act) 1 where the action exists in the task
    task: np.ndarray  # (N_total,) task index
    obs_sizes: tuple[int, ...]
    action_dims: tuple[int, ...]

    @property
    def max_obs(self) -> int:
        return max(self.obs_sizes)

    @property
    def max_act(self) -> int:
        return max(self.action_dims)

    @property
    def input_size(self) -> int:
        return self.max_obs + len(self.envs)


def check_tasks(envs: tuple[str, ...], specs: list) -> None:
    """StudyError unless the tasks can share one policy: one of each environment,
    all discrete or all continuous."""
    if len({s.discrete for s in specs}) > 1:
        kinds = ", ".join(
            f"{e} ({'discrete' if s.discrete else 'continuous'})"
            for e, s in zip(envs, specs, strict=True)
        )
        raise common.StudyError(
            f"multitask: discrete and continuous tasks cannot be merged: {kinds}"
        )
    if len(set(envs)) != len(envs):
        raise common.StudyError(f"multitask: one dataset per environment, got {envs}")


def merge(datasets: list) -> Merged:
    """Pad, tag and stack single-task datasets (see the module docstring)."""
    specs = [d.spec for d in datasets]
    envs = tuple(d.env for d in datasets)
    check_tasks(envs, specs)
    discrete = specs[0].discrete
    obs_sizes = tuple(s.obs_size for s in specs)
    dims = tuple(s.action_dim for s in specs)
    max_obs, max_act, t = max(obs_sizes), max(dims), len(datasets)
    states, targets, mask, task = [], [], [], []
    for i, d in enumerate(datasets):
        n = d.size
        x = np.zeros((n, max_obs + t), np.float32)
        x[:, : obs_sizes[i]] = d.states.reshape(n, -1)
        x[:, max_obs + i] = 1.0
        y = np.zeros((n, max_act), np.float32)
        y[:, : dims[i]] = d.targets()
        m = np.zeros((n, max_act), np.float32)
        m[:, : dims[i]] = 1.0
        states.append(x)
        targets.append(y)
        mask.append(m)
        task.append(np.full(n, i, np.int32))
    return Merged(
        envs,
        discrete,
        np.concatenate(states),
        np.concatenate(targets),
        np.concatenate(mask),
        np.concatenate(task),
        obs_sizes,
        dims,
    )


class MultiTaskPolicy:
    """One MLP for all tasks: train on the merged set, act in any task."""

    def __init__(self, merged: Merged, inner: InnerConfig):
        self.m = merged
        self.inner = inner
        self.net = MLPPolicy(
            merged.max_act, merged.discrete, inner.width, inner.depth, inner.activation
        )
        self.opt = make_optimizer(inner)
        self.act_dims = jnp.asarray(merged.action_dims, jnp.float32)

    def init(self, key):
        return self.net.init(key, jnp.zeros((self.m.input_size,), jnp.float32))

    def loss(self, params, states, targets, mask, task):
        if self.m.discrete:
            logits = self.net.apply(params, states)
            logits = jnp.where(mask > 0, logits, -1e9)
            logp = jax.nn.log_softmax(logits, axis=-1)
            ce = -jnp.sum(targets * jnp.where(mask > 0, logp, 0.0), axis=-1)
            return jnp.mean(ce / self.act_dims[task])
        mean, log_std = self.net.apply(params, states)
        z = (targets - mean) * jnp.exp(-log_std)
        nll = (0.5 * z**2 + log_std + _HALF_LOG_2PI) * mask
        return nll.sum(-1).mean()

    def train(self, key):
        """(params, final loss) of a policy from init `key` on the merged set."""
        m = self.m
        data = tuple(jnp.asarray(a) for a in (m.states, m.targets, m.mask, m.task))
        params = self.init(key)

        def step(carry, _):
            p, o = carry
            loss, g = jax.value_and_grad(self.loss)(p, *data)
            upd, o = self.opt.update(g, o, p)
            return (optax.apply_updates(p, upd), o), loss

        (params, _), losses = jax.lax.scan(
            step, (params, self.opt.init(params)), None, length=self.inner.steps
        )
        return params, losses[-1]

    def policy_fn(self, params, task: int, greedy: bool = False):
        """`policy_fn(key, obs)` for task `task` (obs already normalised)."""
        m = self.m
        pad = m.max_obs - m.obs_sizes[task]
        onehot = jnp.zeros((len(m.envs),), jnp.float32).at[task].set(1.0)
        valid = jnp.arange(m.max_act) < m.action_dims[task]

        def fn(key, obs):
            x = obs.reshape((obs.shape[0], -1))
            x = jnp.pad(x, ((0, 0), (0, pad)))
            x = jnp.concatenate(
                [x, jnp.broadcast_to(onehot, (x.shape[0], onehot.size))], -1
            )
            if m.discrete:
                logits = jnp.where(valid, self.net.apply(params, x), -1e9)
                if greedy:
                    return jnp.argmax(logits, -1)
                return jax.random.categorical(key, logits, axis=-1)
            mean, log_std = self.net.apply(params, x)
            a = (
                mean
                if greedy
                else mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape)
            )
            return a[:, : m.action_dims[task]]

        return fn


def random_policy_fn(spec):
    """Uniformly random actions (discrete) or uniform in the action box."""

    def fn(key, obs):
        n = obs.shape[0]
        if spec.discrete:
            return jax.random.randint(key, (n,), 0, spec.action_dim)
        return jax.random.uniform(
            key, (n, spec.action_dim), minval=spec.action_low, maxval=spec.action_high
        )

    return fn


def _score_fn(problem, policy_fn):
    f = problem.cfg.fitness

    def score(key):
        stats, _ = rollout(
            key, problem.env, policy_fn, f.num_envs, f.num_steps, problem.norm
        )
        return reduce_returns(stats, f.reduction)

    return score


@dataclass(frozen=True)
class Params(StudyParams):
    """The multi-task study's parameters."""

    envs: tuple[str, ...] = DEFAULT_ENVS
    """Environments distilled (one run each) when no datasets are given."""
    datasets: tuple[str, ...] | None = None
    """Datasets, one per task (.npz, paper .pkl or run id)."""
    eval_inits: int | None = None
    """Policy inits scored per task (default: the preset's)."""
    inner_overrides: tuple[str, ...] = ()
    """Inner-loop fields of the multi-task policy, as field=value (e.g. steps=500)."""

    def __post_init__(self):
        super().__post_init__()
        try:
            parse_overrides(self.inner_overrides, "inner_overrides")
        except ConfigError as e:
            raise common.StudyError(str(e)) from None
        if self.datasets is None:  # before any run is distilled, not after
            check_tasks(tuple(self.envs), [get_spec(e) for e in self.envs])


def run_multitask(
    params: Params | dict | None = None,
    *,
    runs_root=None,
    progress_fn: common.ProgressFn | None = None,
    resume: str | None = None,
    **values,
) -> dict:
    """Merge single-task datasets, train one policy, score it on every task.

    `datasets`: one per task (.npz, .pkl or run id); None distils each of `envs`
    with `preset` (plus `overrides`) as runs of the store tagged with the study.
    Returns per task the multitask, single-task and random returns,
    ``beats_random`` (multitask > random on every task), and the paths.
    """
    p = make(Params, params, values)
    with common.StudyDir(NAME, p.to_dict(), runs_root, study_id=resume) as sd:
        return _study(p, sd, progress_fn, runs_root)


def _study(p: Params, sd, progress_fn, runs_root) -> dict:
    seed, preset, datasets = p.seed, p.preset, p.datasets
    inits = p.eval_inits
    inner_overrides = parse_overrides(p.inner_overrides, "inner_overrides")
    if datasets is None:
        dss = []
        env_cfgs = {}
        for env in p.envs:
            cfg = presets.make(preset, env, None, seed)
            env_cfgs[env] = (
                cfg.with_overrides(p.override_dict()) if p.overrides else cfg
            )
        sd.prepare(env_cfgs, progress_fn)
        for env in p.envs:
            d, es_state, _, evals, _ = sd.distil(env_cfgs[env], progress_fn, env)
            ds = d.mean_dataset(es_state, study=sd.study_id)
            ds_lib.save(ds, sd.datasets_dir() / f"{env}.npz")
            dss.append(ds)
    else:
        dss = [load_dataset_ref(d, runs_root)[0] for d in datasets]
    envs = tuple(d.env for d in dss)
    merged = merge(dss)
    cfgs = [config_for_dataset(d) for d in dss]
    n_inits = inits or cfgs[0].eval.inits
    inner = cfgs[0].inner
    if inner_overrides:
        base = cfgs[0].with_overrides(
            {f"inner.{k}" if "." not in k else k: v for k, v in inner_overrides.items()}
        )
        inner = base.inner
    mt = MultiTaskPolicy(merged, inner)
    problems = [problem_for_dataset(d, c) for d, c in zip(dss, cfgs, strict=True)]

    key = jax.random.PRNGKey(seed + 50_000)
    k_init, k_roll, k_rand = jax.random.split(key, 3)
    init_keys = jax.random.split(k_init, n_inits)

    @jax.jit
    def multitask_returns(init_key, roll_key):
        params, loss = mt.train(init_key)
        rets = [
            _score_fn(p, mt.policy_fn(params, i, p.cfg.fitness.greedy))(
                jax.random.fold_in(roll_key, i)
            )
            for i, p in enumerate(problems)
        ]
        return jnp.stack(rets), loss

    rows = []
    mt_rets = np.zeros((n_inits, len(envs)))
    for j, (ik, rk) in enumerate(
        zip(init_keys, jax.random.split(k_roll, n_inits), strict=True)
    ):
        common.report(progress_fn, NAME, "evaluate multitask policy", j, n_inits)
        rets, loss = multitask_returns(ik, rk)
        mt_rets[j] = np.asarray(rets)
        for i, env in enumerate(envs):
            rows.append(
                {
                    "policy": "multitask",
                    "env": env,
                    "init": j,
                    "return": float(mt_rets[j, i]),
                    "bc_loss": float(loss),
                }
            )
    single, rand = {}, {}
    for i, (env, ds) in enumerate(zip(envs, dss, strict=True)):
        common.report(progress_fn, NAME, f"evaluate single-task {env}", i, len(envs))
        res = evaluate_dataset(ds, inits=n_inits, seed=seed + 50_000)
        single[env] = np.asarray(res.per_init)
        score = jax.jit(jax.vmap(_score_fn(problems[i], random_policy_fn(ds.spec))))
        rand[env] = np.asarray(
            score(jax.random.split(jax.random.fold_in(k_rand, i), n_inits))
        )
        for j in range(n_inits):
            rows.append(
                {
                    "policy": "single-task",
                    "env": env,
                    "init": j,
                    "return": float(single[env][j]),
                    "bc_loss": float(res.bc_loss[j]),
                }
            )
            rows.append(
                {
                    "policy": "random",
                    "env": env,
                    "init": j,
                    "return": float(rand[env][j]),
                }
            )
    tasks = {}
    for i, env in enumerate(envs):
        tasks[env] = {
            "multitask": float(mt_rets[:, i].mean()),
            "multitask_std": float(mt_rets[:, i].std()),
            "single_task": float(single[env].mean()),
            "single_task_std": float(single[env].std()),
            "random": float(rand[env].mean()),
            "random_std": float(rand[env].std()),
            "dataset_size": dss[i].size,
        }
    csv_path = common.write_csv(sd.file(f"{NAME}.csv"), rows)
    np.savez(
        sd.file("merged_dataset.npz"),
        states=merged.states,
        targets=merged.targets,
        mask=merged.mask,
        task=merged.task,
        envs=np.array(envs),
    )
    figs = {"multitask": common.save_figure(figure(tasks), sd.figures, "multitask")}
    return sd.finish(
        {
            "envs": list(envs),
            "preset": preset,
            "eval_inits": n_inits,
            "tasks": tasks,
            **{f"{env}_multitask": t["multitask"] for env, t in tasks.items()},
            **{f"{env}_random": t["random"] for env, t in tasks.items()},
            "beats_random": all(t["multitask"] > t["random"] for t in tasks.values()),
            "head": "shared padded head, invalid actions masked"
            if merged.discrete
            else "shared padded Gaussian head, unused dimensions masked",
            "input_size": merged.input_size,
            "merged_size": int(merged.states.shape[0]),
            "inner": {
                "width": inner.width,
                "depth": inner.depth,
                "steps": inner.steps,
                "lr": inner.lr,
            },
            "csv": csv_path,
            "merged_dataset": str(sd.file("merged_dataset.npz")),
            "figures": figs,
        }
    )
