"""HaDES engine: behaviour distillation in pure JAX (no UI code here).

Lupu, Lu, Liesen, Lange, Foerster. "Behaviour Distillation". ICLR 2024.

Importing `engine` changes no process-wide setting. Call `engine.setup()` once,
before the first JAX computation, for the runtime the CLI and dashboard use (a CPU
device per core, the compilation cache, safe XLA CPU flags): `engine.runtime`.

The Python API (each name is imported when first used; see the README's "Python
API" section):

- `setup()`: the runtime setup above.
- `presets` (`presets.make(preset, env, size, seed)`), `config` (`HadesConfig`,
  `ConfigError`): documented, validated configs.
- `distill(cfg, progress_fn=None, runs=None, name="", log=(), tensorboard_dir=None)`
  -> `DistillResult` (run id, folder, status, the mean `dataset`); `Runner`,
  `RunStore` for resume, fork and the run store.
- `evaluate_dataset(ds, inits=8, seed=0, ...)` -> `EvalResult` (mean_return, ...).
- `load_dataset(path)`, `save_dataset(ds, path)`, `Dataset`; `import_paper(pkl)`
  -> (dataset, notes): the published pickles, read without unpickling code.
- `render_states(ds, "states.png")`, `render_rollout(ds, "rollout.mp4")`.
- `make_trackers(names, run)`: W&B / TensorBoard for a run's progress events.
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


# The public names, imported on first use (importing `engine` stays cheap):
# name -> (module, attribute or None for the module itself)
_API = {
    "presets": ("engine.presets", None),
    "config": ("engine.config", None),
    "HadesConfig": ("engine.config", "HadesConfig"),
    "ConfigError": ("engine.config", "ConfigError"),
    "distill": ("engine.api", "distill"),
    "DistillResult": ("engine.api", "DistillResult"),
    "Runner": ("engine.runs", "Runner"),
    "RunStore": ("engine.runs", "RunStore"),
    "RunError": ("engine.runs", "RunError"),
    "evaluate_dataset": ("engine.evaluate", "evaluate_dataset"),
    "EvalResult": ("engine.evaluate", "EvalResult"),
    "Dataset": ("engine.dataset", "Dataset"),
    "load_dataset": ("engine.dataset", "load"),
    "save_dataset": ("engine.dataset", "save"),
    "import_paper": ("engine.paper_import", "import_paper"),
    "render_states": ("engine.render", "render_states"),
    "render_rollout": ("engine.render", "render_rollout"),
    "make_trackers": ("engine.trackers", "make_trackers"),
}
__all__ = ["setup", *_API]


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    import importlib

    module, attr = _API[name]
    value = importlib.import_module(module)
    if attr is not None:
        value = getattr(value, attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_API))
