"""HaDES engine: behaviour distillation in pure JAX (no UI code here).

Lupu, Lu, Liesen, Lange, Foerster. "Behaviour Distillation". ICLR 2024.

Importing `engine` changes no process-wide setting. Call `engine.setup()` once,
before the first JAX computation, for the runtime the CLI and dashboard use (a CPU
device per core, the compilation cache, safe XLA CPU flags): `engine.runtime`.
"""

import os as _os

# JAX writes TF_CPP_MIN_LOG_LEVEL and TPU_SKIP_MDS_QUERY into os.environ when it is
# imported; import it here once and put the environment back, so that importing any
# engine module leaves the importer's environment as it was (`setup()` sets what
# the entry points want).
_env = dict(_os.environ)
import jax as _jax  # noqa: E402, F401

for _added in set(_os.environ) - set(_env):
    _os.environ.pop(_added)
del _env

__version__ = "0.1.0"


def setup(
    cpu_devices: int | None = None,
    compilation_cache: bool = True,
    distributed: bool = False,
):
    """The explicit runtime setup (see `engine.runtime.setup`)."""
    from engine.runtime import setup as _setup

    return _setup(cpu_devices, compilation_cache, distributed)
