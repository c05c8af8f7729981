"""HaDES engine: behaviour distillation in pure JAX (no UI code here).

Lupu, Lu, Liesen, Lange, Foerster. "Behaviour Distillation". ICLR 2024.
"""

import os as _os

# XLA's concurrency-optimised CPU scheduler deadlocks (threads parked in futex wait)
# on vmapped train-and-roll-out programs (seen with MinAtar and Brax on 2 cores).
# Turn it off before the CPU client starts; flags the user set stay in charge.
_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler"
# One XLA CPU device per core: the population axis is sharded over local devices, and
# on CPU that is what runs members on all cores at once (a single CPU device runs a
# vmapped generation mostly on one core). HADES_CPU_DEVICES overrides the count.
_DEVICES = "--xla_force_host_platform_device_count"


def _cpu_count() -> int:
    try:
        return len(_os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return _os.cpu_count() or 1


def _add_flag(name: str, value) -> None:
    flags = _os.environ.get("XLA_FLAGS", "")
    if name not in flags:
        _os.environ["XLA_FLAGS"] = f"{flags} {name}={value}".strip()


# With a device per core each device runs its program on one core, so Eigen's
# intra-op thread pool would only oversubscribe the cores. (It is not what fixed the
# multi-device hang: see `Distiller.mean_solution`.)
_EIGEN = "--xla_cpu_multi_thread_eigen"
_add_flag(_FLAG, "false")
_n_devices = int(_os.environ.get("HADES_CPU_DEVICES", 0) or _cpu_count())
_add_flag(_DEVICES, _n_devices)
if _n_devices > 1:
    _add_flag(_EIGEN, "false")

__version__ = "0.1.0"
