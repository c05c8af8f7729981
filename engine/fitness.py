"""Fitness of candidate datasets: train a fresh policy on each, roll it out.

`Problem` holds everything static about a run (env, policy, labels, normalisation)
and gives three pure functions:
- `candidate_return(solution, init_key, rollout_key)`: one dataset, one init.
- `population_fitness(key, population)`: the whole population, vmapped over init
  seeds and members, the member axis sharded over all local devices (shard_map),
  or every device of every process in a distributed run.
- `dataset_returns(key, solution, init_keys)`: one dataset under several inits.
"""

from __future__ import annotations

import contextlib
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec

from engine import dataset as ds_lib
from engine import policy as policy_lib
from engine.config import HadesConfig
from engine.envs.registry import get_spec, make_env
from engine.inner import make_bc_train
from engine.rollout import ObsNorm, reduce_returns, rollout


class Problem:
    """The static parts of a HaDES fitness evaluation."""

    def __init__(
        self,
        cfg: HadesConfig,
        obs_mean: np.ndarray | None = None,
        obs_var: np.ndarray | None = None,
        fixed_labels: np.ndarray | None = None,
        devices=None,
    ):
        self.cfg = cfg
        self.spec = get_spec(cfg.env.name)
        self.env = make_env(cfg.env.name, cfg.env.backend, cfg.env.episode_length)
        self.policy = policy_lib.make_policy(self.spec, cfg.inner)
        self.label_kind = ds_lib.resolve_label_kind(self.spec, cfg.dataset.labels)
        self.train = make_bc_train(self.policy, self.spec, cfg.inner)
        mode = cfg.env.normalize
        if mode == "constant":
            if obs_mean is None or obs_var is None:
                raise ValueError("constant normalisation needs obs_mean and obs_var")
            shape = self.spec.obs_shape
            self.norm = ObsNorm(
                mode,
                jnp.asarray(obs_mean, jnp.float32).reshape(shape),
                jnp.asarray(obs_var, jnp.float32).reshape(shape),
            )
        else:
            self.norm = ObsNorm(mode)
        if fixed_labels is None:
            fixed_labels = ds_lib.round_robin_labels(
                cfg.dataset.size, self.spec.action_dim
            )
        self.fixed_labels = np.asarray(fixed_labels, np.int32)
        self.member_batch = auto_member_batch(
            cfg.fitness.member_batch,
            policy_lib.param_count(
                jax.eval_shape(self.init_params, jax.random.PRNGKey(0))
            ),
        )
        self.devices = (
            list(devices)
            if devices is not None
            else population_devices(cfg.outer.population)
        )
        # The population mesh (None on one device); the ES state is kept replicated
        # on it (`Distiller`).
        self.mesh = (
            jax.sharding.Mesh(np.array(self.devices), ("pop",))
            if len(self.devices) > 1
            else None
        )
        self.template = ds_lib.solution_template(
            self.spec,
            len(self.fixed_labels) if self.label_kind == "onehot" else cfg.dataset.size,
            self.label_kind,
        )

    # One candidate ----------------------------------------------------------------
    def targets(self, solution) -> jax.Array:
        if self.label_kind == "continuous":
            return solution["actions"]
        if self.label_kind == "soft":
            return jax.nn.softmax(solution["labels"], axis=-1)
        return jax.nn.one_hot(self.fixed_labels, self.spec.action_dim)

    def init_params(self, init_key):
        return policy_lib.init_params(self.policy, self.spec, init_key)

    def train_policy(self, solution, init_key):
        """Fresh policy from `init_key`, behaviour-cloned on the candidate."""
        params = self.init_params(init_key)
        return self.train(params, solution["states"], self.targets(solution))

    def policy_fn(self, params):
        greedy = self.cfg.fitness.greedy

        def fn(key, obs):
            return policy_lib.act(self.policy, self.spec, params, key, obs, greedy)

        return fn

    def score_params(self, params, rollout_key) -> jax.Array:
        f = self.cfg.fitness
        stats, _ = rollout(
            rollout_key,
            self.env,
            self.policy_fn(params),
            f.num_envs,
            f.num_steps,
            self.norm,
        )
        return reduce_returns(stats, f.reduction)

    def candidate_return(self, solution, init_key, rollout_key, train: bool = True):
        """(return, final BC loss) of one candidate under one init.

        `train=False`: `solution` is a policy's parameters, rolled out as they are
        (loss 0): the benchmarks' raw rollout, and ES on the weights."""
        if not train:
            return self.score_params(solution, rollout_key), jnp.zeros(())
        params, loss = self.train_policy(solution, init_key)
        return self.score_params(params, rollout_key), loss

    # Keys -----------------------------------------------------------------------------
    def _keys(self, key, population_size: int):
        """(init, rollout) keys: (inits, 2) each with common random numbers (shared
        by every member), else (population, inits, 2)."""
        f = self.cfg.fitness
        k_init, k_roll = jax.random.split(key)
        shape = (f.inits,)
        if not f.common_random_numbers:
            shape = (population_size, f.inits)
        n = int(np.prod(shape))
        roll = jax.random.split(k_roll, n).reshape(*shape, 2)
        if f.fixed_init:
            init = jnp.broadcast_to(
                jax.random.PRNGKey(self.cfg.fixed_init_seed), (*shape, 2)
            )
        else:
            init = jax.random.split(k_init, n).reshape(*shape, 2)
        return init, roll

    def generation_keys(self, key, population_size: int):
        """Init and rollout keys of every member, each (population, inits, 2)."""
        init, roll = self._keys(key, population_size)
        if init.ndim == 2:
            tile = lambda k: jnp.broadcast_to(k, (population_size, *k.shape))  # noqa: E731
            return tile(init), tile(roll)
        return init, roll

    # Population ---------------------------------------------------------------------
    def _members(self, population, init_keys, roll_keys, train: bool = True):
        """Fitness (mean over inits) and mean final BC loss of each member.

        A scan over the inits, each a vmap (or `lax.map` over groups) over the
        members: vmapping the inits inside the member vmap gives every matmul two
        batch dimensions, which XLA's CPU backend runs far slower (hopper: 23 s
        instead of 13 s per generation, even with one init). Shared (common random
        numbers) keys are closed over rather than vmapped, so the per-step random
        bits of the rollouts are drawn once for the whole population.
        """
        mb = self.member_batch
        n = jax.tree.leaves(population)[0].shape[0]

        def over_members(fn, xs):
            if mb and mb < n:
                return jax.lax.map(lambda x: fn(*x), xs, batch_size=mb)
            return jax.vmap(fn)(*xs)

        if init_keys.ndim == 2:  # shared by all members: (inits, 2)

            def one_init(keys):
                ik, rk = keys
                fn = lambda sol: self.candidate_return(sol, ik, rk, train)  # noqa: E731
                return over_members(fn, (population,))

            keys = (init_keys, roll_keys)
        else:  # per member: (population, inits, 2) -> scan over inits first

            def one_init(keys):
                fn = partial(self.candidate_return, train=train)
                return over_members(fn, (population, *keys))

            keys = (init_keys.swapaxes(0, 1), roll_keys.swapaxes(0, 1))
        rets, losses = jax.lax.map(one_init, keys)  # (inits, population)
        return rets.mean(0), losses.mean(0)

    def population_fitness(self, key, population, train: bool = True):
        """Mean return (population,) and mean final BC loss (population,).

        `train=False`: `population` holds policy parameters, rolled out with the
        same devices, member groups and keys (see `candidate_return`)."""
        n = jax.tree.leaves(population)[0].shape[0]
        init_keys, roll_keys = self._keys(key, n)
        if self.mesh is not None:
            spec = PartitionSpec("pop")
            key_spec = PartitionSpec() if init_keys.ndim == 2 else spec

            # One gather of every member's (fitness, loss) inside the map: what
            # follows (the tell, the metrics) then runs on replicated values, with
            # no collective of its own (benchmarks/README.md, "A run over two
            # processes").
            def gathered(*args):
                out = self._members(*args, train=train)
                return jax.lax.all_gather(out, "pop", tiled=True)

            fn = jax.shard_map(
                gathered,
                mesh=self.mesh,
                in_specs=(spec, key_spec, key_spec),
                out_specs=(PartitionSpec(), PartitionSpec()),
                check_vma=False,
            )
            return fn(population, init_keys, roll_keys)
        return self._members(population, init_keys, roll_keys, train)

    # A single dataset -------------------------------------------------------------
    def dataset_returns(self, key, solution, init_keys, batch_size: int = 2):
        """Return of the dataset for each init key (inits,), and BC losses.

        Inits run in small vmapped groups (`lax.map`): one vmap over many inits of a
        Brax train-and-roll-out was seen to hang on a 2-core CPU. Not sharded over the
        per-core CPU devices: a sharded brax evaluation hung (0% CPU) every time.
        """
        roll_keys = jax.random.split(key, init_keys.shape[0])
        return jax.lax.map(
            lambda k: self.candidate_return(solution, *k),
            (init_keys, roll_keys),
            batch_size=batch_size,
        )

    @partial(jax.jit, static_argnums=(0,))
    def dataset_returns_jit(self, key, solution, init_keys):
        return self.dataset_returns(key, solution, init_keys)


LARGE_POLICY = 100_000
"""Parameters from which `member_batch` 0 means groups of 2 on CPU."""


def auto_member_batch(member_batch: int, num_params: int) -> int:
    """The member group size to use: `member_batch`, or 0's automatic choice.

    Measured on 2 CPU cores (benchmarks/README.md): with width-512 policies,
    vectorising all 64 members streams every member's weights (and Adam state) from
    memory at every step; pairs stay in cache. Accelerators want everything at once.
    """
    if member_batch:
        return member_batch
    if jax.default_backend() == "cpu" and num_params >= LARGE_POLICY:
        return 2
    return 0


def population_devices(population: int) -> list:
    """Devices the population axis is sharded over by default.

    Accelerators: all local devices (the population must divide evenly; `Distiller`
    says so). CPU devices stand for cores (see `engine/__init__.py`): use as many as
    divide the population evenly, so any population size runs. A run over several
    processes (`engine.multihost`): every device of every process, all of them.
    """
    if jax.process_count() > 1:
        return jax.devices()
    devices = jax.local_devices()
    if devices[0].platform != "cpu":
        return devices
    k = max(d for d in range(1, len(devices) + 1) if population % d == 0)
    return devices[:k]


@contextlib.contextmanager
def legacy_rng(enabled: bool):
    """jax < 0.5 random bits (threefry not partitionable), to reproduce old inits.

    JAX's thread-local config context: it applies to what this thread traces and
    runs (and is part of the jit cache key), not to other threads compiling now.
    """
    if not enabled:
        yield
        return
    with jax.threefry_partitionable(False):
        yield
