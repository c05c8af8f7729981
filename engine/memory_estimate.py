"""Estimate of the memory a config needs on this device, and the check that
refuses a config whose estimate exceeds the device's memory before anything
compiles.

The ES state, one environment state and the policy's parameters are sized exactly
by `jax.eval_shape` (tracing, no compilation); the population, the members that
train at once (parameters, gradients and Adam moments, behaviour-cloning
activations) and their rollouts analytically. Against measured peaks on the 2-core
CPU machine (benchmarks/README.md) it errs high, by up to 1.4x.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from engine.envs.registry import get_spec

MEMORY_CHECK_ENV = "HADES_MEMORY_CHECK"
"""Set to 0 to run a config whose memory estimate exceeds the device's."""
RUNTIME_BYTES = 768 * 2**20
"""Host memory of the process itself (Python, JAX, compiling): a tiny CartPole
run peaks at 0.73 GiB on the 2-core CPU machine."""
F32 = 4


class MemoryEstimateError(ValueError):
    """A config's estimated memory exceeds the device's; the message has both."""


@dataclass(frozen=True)
class MemoryEstimate:
    per_device_bytes: int
    """Peak bytes of one generation on one device."""
    devices: int
    """Devices the population is sharded over."""
    needed_bytes: int
    """What must fit in `available_bytes`: all devices and the runtime on a CPU
    host (its devices share the RAM), one device on an accelerator."""
    available_bytes: int | None
    """The device's memory (host RAM on a CPU); None when unknown."""
    where: str
    """What `available_bytes` is, in words."""
    parts: dict
    """Bytes per device by part: es_state, population, members, rollouts."""

    @property
    def fits(self) -> bool:
        return self.available_bytes is None or self.needed_bytes <= self.available_bytes


def _tree_bytes(tree) -> int:
    import jax

    return int(sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(tree)))


def device_memory(devices) -> tuple[int | None, str]:
    """(bytes, description) of the memory the population's devices can use."""
    d = devices[0]
    if d.platform == "cpu":
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return int(ram), f"host RAM (shared by {len(devices)} CPU device(s))"
    stats = d.memory_stats() or {}
    limit = stats.get("bytes_limit")
    return (int(limit) if limit else None), f"memory of one {d.device_kind}"


def memory_estimate(cfg, devices=None) -> MemoryEstimate:
    """Peak memory of one generation of `cfg` (see the module docstring)."""
    import jax

    from engine import dataset as ds_lib
    from engine import policy as policy_lib
    from engine.envs.registry import make_env
    from engine.fitness import auto_member_batch, population_devices
    from engine.strategies import Strategy

    spec = get_spec(cfg.env.name)
    devices = list(devices or population_devices(cfg.outer.population))
    label_kind = ds_lib.resolve_label_kind(spec, cfg.dataset.labels)
    template = ds_lib.solution_template(spec, cfg.dataset.size, label_kind)
    dims = sum(int(v.size) for v in template.values())
    strategy = Strategy(cfg.outer, template)
    key = jax.random.PRNGKey(0)
    es_state = jax.eval_shape(strategy.init, key, template, strategy.default_params())
    env = make_env(cfg.env.name, cfg.env.backend, cfg.env.episode_length)
    env_state = jax.eval_shape(env.reset, key)
    policy = policy_lib.make_policy(spec, cfg.inner)
    params = (
        _tree_bytes(
            jax.eval_shape(lambda k: policy_lib.init_params(policy, spec, k), key)
        )
        // F32
    )
    per_device_pop = cfg.outer.population // len(devices)
    live = auto_member_batch(cfg.fitness.member_batch, params) or per_device_pop
    live = min(live, per_device_pop)
    w, depth, n = cfg.inner.width, cfg.inner.depth, cfg.dataset.size
    activations = spec.obs_size + depth * w + spec.action_dim
    # Params, gradients and Adam's two moments, twice (the scan's carry in and out)
    train = 8 * params * F32 + 3 * n * activations * F32 + 2 * dims * F32
    rollout = cfg.fitness.num_envs * (_tree_bytes(env_state) + 2 * activations * F32)
    parts = {
        "es_state": _tree_bytes(es_state),
        "population": 2 * cfg.outer.population * dims * F32,
        "members": live * train,
        "rollouts": live * rollout,
    }
    per_device = sum(parts.values())
    available, where = device_memory(devices)
    cpu = devices[0].platform == "cpu"
    needed = per_device * len(devices) + RUNTIME_BYTES if cpu else per_device
    return MemoryEstimate(per_device, len(devices), needed, available, where, parts)


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_memory(cfg, devices=None) -> MemoryEstimate:
    """The estimate; raises MemoryEstimateError when it exceeds the device's
    memory (unless HADES_MEMORY_CHECK=0)."""
    est = memory_estimate(cfg, devices)
    if est.fits or os.environ.get(MEMORY_CHECK_ENV, "1") == "0":
        return est
    p = est.parts
    raise MemoryEstimateError(
        f"this config needs about {_gib(est.needed_bytes)} of memory, more than "
        f"the {_gib(est.available_bytes)} of {est.where} (estimate per device: "
        f"ES state {_gib(p['es_state'])}, population {_gib(p['population'])}, "
        f"members training at once {_gib(p['members'])}, rollouts "
        f"{_gib(p['rollouts'])}). Lower outer.population, fitness.member_batch, "
        f"dataset.size or inner.width, or set {MEMORY_CHECK_ENV}=0 to run anyway"
    )
