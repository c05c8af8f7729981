"""The explicit runtime setup: call `setup()` once, before the first JAX computation.

Importing `engine` changes no environment variable and no JAX setting. Entry points
(the `hades` CLI, the dashboard, the test configuration, benchmarks) call `setup()`;
a library user gets the same speed by calling it too:

- One XLA CPU device per core. The population axis is sharded over local devices,
  and on CPU that is what runs members on all cores at once (a single CPU device
  runs a vmapped generation mostly on one core). `cpu_devices` or
  $HADES_CPU_DEVICES picks the count; 1 turns it off.
- Eigen's intra-op thread pool off when there are several CPU devices: each device
  then runs its program on one core, and the pool would only oversubscribe them.
- XLA's concurrency-optimised CPU scheduler off: it deadlocks (threads parked in
  futex wait) on vmapped train-and-roll-out programs (MinAtar and Brax, 2 cores).
- The persistent compilation cache ($HADES_JAX_CACHE, else
  $XDG_CACHE_HOME/hades/jax; HADES_JAX_CACHE=0 turns it off).

XLA flags the user already set in $XLA_FLAGS stay in charge. The XLA flags only act
if `setup()` runs before JAX starts its CPU client; `RuntimeInfo.late` says when it
did not (the cache still applies).
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass

from engine.jax_setup import enable_compilation_cache

SCHEDULER_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler"
DEVICES_FLAG = "--xla_force_host_platform_device_count"
EIGEN_FLAG = "--xla_cpu_multi_thread_eigen"


@dataclass(frozen=True)
class RuntimeInfo:
    """What `setup()` did."""

    cpu_devices: int  # CPU devices asked for (the flag in force)
    xla_flags: str  # $XLA_FLAGS after setup
    compilation_cache: str | None  # cache directory, or None when off
    late: bool  # JAX's backends had already started: the XLA flags did not apply

    def to_dict(self) -> dict:
        return asdict(self)


_INFO: RuntimeInfo | None = None


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _backends_started() -> bool:
    """True once JAX has created its backends (the XLA flags are read then)."""
    xb = sys.modules.get("jax._src.xla_bridge")
    return bool(xb is not None and getattr(xb, "_backends", None))


def xla_flags_for(cpu_devices: int, flags: str = "") -> str:
    """`flags` with ours added where the user set none of the same name."""
    want = [(SCHEDULER_FLAG, "false"), (DEVICES_FLAG, cpu_devices)]
    if cpu_devices > 1:
        want.append((EIGEN_FLAG, "false"))
    for name, value in want:
        if name not in flags:
            flags = f"{flags} {name}={value}".strip()
    return flags


def setup(
    cpu_devices: int | None = None, compilation_cache: bool = True
) -> RuntimeInfo:
    """Set the process up for HaDES (idempotent: later calls return the first
    result). Call it before any JAX computation."""
    global _INFO
    if _INFO is not None:
        return _INFO
    n = cpu_devices or int(os.environ.get("HADES_CPU_DEVICES", 0) or cpu_count())
    late = _backends_started()
    # JAX's own import default (engine/__init__.py undoes it for importers).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    if not late:
        os.environ["XLA_FLAGS"] = xla_flags_for(n, os.environ.get("XLA_FLAGS", ""))
    cache = enable_compilation_cache() if compilation_cache else None
    _INFO = RuntimeInfo(n, os.environ.get("XLA_FLAGS", ""), cache, late)
    return _INFO


def info() -> RuntimeInfo | None:
    """The result of `setup()`, or None when it was not called."""
    return _INFO
