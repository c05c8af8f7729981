"""Import the datasets published with "Behaviour Distillation" (ICLR 2024).

The authors published their distilled datasets as Python pickles of a dict holding the
final evosax 0.1.4 ES state (``state.mean`` is the dataset), the training log and the
run's configuration. Those pickles reference classes of evosax 0.1.4 and jax 0.4 that
no longer exist, and a pickle can run arbitrary code, so they are never read with plain
``pickle.load``. `read_paper_pickle` uses a restricted unpickler whose ``find_class``
allows only what the files need:

- classes from ``evosax.*`` modules (pickled as ``cls.__new__(cls)`` plus a state
  dict) become `EvosaxRecord` attribute containers;
- ``jax._src.array._reconstruct_array`` becomes a guarded rebuild to a numpy array;
- ``numpy.core.multiarray._reconstruct`` / ``scalar`` (numpy 2 calls the module
  ``numpy._core.multiarray``), ``numpy.ndarray`` and ``numpy.dtype`` become guarded
  versions that only build plain numeric arrays and dtypes.

Everything else (``posix.system``, ``builtins.eval``, ``subprocess.Popen``, ...) is
refused with `PaperImportError` naming the global, before anything is called.

`import_paper` converts a file to our `engine.dataset.Dataset`:

- Brax: ``state.mean`` = N*|A| action labels (row-major N x |A|), then N*|S| states;
  label kind ``continuous``.
- MinAtar: ``state.mean`` = N x (10*10*C) states; the paper's labels are implicit,
  floor(N/|A|) copies of each action in order 0,0,..,1,1,..; the remaining
  N - |A|*floor(N/|A|) states never entered the paper's training and are dropped
  (with a note). Label kind ``onehot`` with those labels.
  With ``es_config["learn_labels"]`` the mean is {"actions": (N, |A|) logits,
  "states"} (sorted keys), all N states are used, label kind ``soft``.
- MNIST (supervised dataset distillation) files are refused: they are not RL datasets.

HaDES-F (``config["OVERFIT"]`` true): the authors' code initialises the one fixed
policy with ``jax.random.PRNGKey(config["OVERFIT_SEED"])``; HADES.md describes it as
"key 420 + run seed". The published HaDES-F file stores ``OVERFIT_SEED`` = 420 and
``SEED`` = 0, which agree. We record what the file says: ``meta["fixed_init_seed"]``
is ``OVERFIT_SEED`` when present, else ``420 + SEED``; ``meta["fixed_init_source"]``
says which, and ``meta["config"]["fitness"]`` gets ``fixed_init``/``fixed_init_seed``
so a run or evaluation built from it uses the same init key. Reproducing the exact
flax init additionally needs ``jax_threefry_partitionable=False`` (see HADES.md).
"""

from __future__ import annotations

import functools
import io
import math
import os
import pickle
import pickletools
import re
from typing import Any

import numpy as np

from engine.dataset import Dataset, save
from engine.envs.registry import ENV_NAMES, get_spec
from engine.safe_files import UnsafeFileError, regular_file_size

MAX_FILE_BYTES = 16 * 2**20
"""Refuse pickles larger than this (the published files are about 0.3 MB)."""
MAX_OPCODES = 500_000
"""Refuse pickles of more opcodes (the published ones have about 125,000): each
opcode makes at most one object, so this bounds what unpickling allocates."""
MAX_ARRAY_BYTES = 64 * 2**20
"""Refuse a pickle whose arrays hold more bytes than this in all."""
MAX_VALUES = 200_000
"""Refuse a pickle whose object tree (shared objects counted each time they are
reached) has more values than this (the published ones have about 4,000)."""
_NUMERIC_KINDS = "biufc"
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MODULE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class PaperImportError(ValueError):
    """A published pickle cannot be (safely) read or converted; says why."""


# --------------------------------------------------------------------------------------
# Restricted unpickling
# --------------------------------------------------------------------------------------


class EvosaxRecord:
    """Plain attribute container standing in for an evosax 0.1.4 dataclass.

    ``evosax_class`` names the original class, e.g.
    ``evosax.strategies.snes.EvoState``. The pickled state dict becomes the instance's
    attributes; `record_fields` returns them as a dict.
    """

    evosax_class = "evosax"

    def __new__(cls, *args, **kwargs):
        if args or kwargs:
            raise PaperImportError(
                f"{cls.evosax_class} was pickled with constructor arguments; "
                "only state-dict pickles are supported"
            )
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise PaperImportError(
                f"{self.evosax_class} cannot be called with arguments in a pickle"
            )

    def __setstate__(self, state):
        slots = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slots = state
        merged: dict = {}
        for part in (state, slots):
            if part is None:
                continue
            if not isinstance(part, dict) or not all(isinstance(k, str) for k in part):
                raise PaperImportError(
                    f"{self.evosax_class}: pickled state is not a dict of fields"
                )
            merged.update(part)
        self.__dict__.update(merged)

    def __repr__(self) -> str:
        return f"<{self.evosax_class} {sorted(self.__dict__)}>"


def record_fields(obj: Any) -> dict:
    """The fields of an `EvosaxRecord` (or a dict) as a plain dict."""
    if isinstance(obj, EvosaxRecord):
        return dict(obj.__dict__)
    if isinstance(obj, dict):
        return dict(obj)
    raise PaperImportError(f"expected an evosax state, got {type(obj).__name__}")


class _NDArrayType:
    """Token for ``numpy.ndarray`` (only usable as the subtype of `_reconstruct`)."""

    def __init__(self, *args, **kwargs):
        raise PaperImportError("numpy.ndarray may not be called directly in a pickle")

    @staticmethod
    def __setstate__(*args):
        raise PaperImportError("refused pickle BUILD on numpy.ndarray")


class _Guard:
    """An allowed callable; a pickle BUILD on it (attribute injection) is refused."""

    __slots__ = ("fn", "name")

    def __init__(self, fn, name: str):
        self.fn = fn
        self.name = name

    def __call__(self, *args):
        return self.fn(*args)

    def __setstate__(self, state):
        raise PaperImportError(f"refused pickle BUILD on {self.name}")


def _check_dtype(dt: Any) -> np.dtype:
    if not isinstance(dt, np.dtype):
        raise PaperImportError(f"expected a numpy dtype, got {type(dt).__name__}")
    if dt.kind not in _NUMERIC_KINDS or dt.fields is not None or dt.subdtype:
        raise PaperImportError(f"refused non-numeric array dtype {dt!s}")
    return dt


def _safe_dtype(spec, align=False, copy=False):
    """``numpy.dtype`` restricted to plain numeric type codes such as 'f4'."""
    if not isinstance(spec, str) or not re.fullmatch(r"[<>|=]?[biufc]\d{0,2}", spec):
        raise PaperImportError(f"refused numpy dtype {spec!r} (numeric dtypes only)")
    return _check_dtype(np.dtype(spec, bool(align), bool(copy)))


def _safe_reconstruct(budget: _Budget, subtype, shape, dtype_code):
    """``numpy.core.multiarray._reconstruct`` restricted to empty plain ndarrays."""
    if subtype is not _NDArrayType:
        raise PaperImportError("numpy _reconstruct is only allowed for numpy.ndarray")
    if shape not in ((0,), [0]) or dtype_code not in (b"b", "b"):
        raise PaperImportError("unexpected arguments to numpy _reconstruct")
    arr = _GuardedArray((0,), np.int8)
    arr._budget = budget
    return arr


class _Budget:
    """Bytes of array data one unpickling may still build."""

    def __init__(self, nbytes: int):
        self.left = nbytes

    def take(self, nbytes: int) -> None:
        if nbytes > self.left:
            raise PaperImportError(
                f"the pickle's arrays exceed {MAX_ARRAY_BYTES >> 20} MiB in all"
            )
        self.left -= nbytes


class _GuardedArray(np.ndarray):
    """Empty array whose ``__setstate__`` (pickle BUILD) checks dtype and size
    against its unpickling's `_Budget`."""

    def __setstate__(self, state):
        _check_array_state(state)
        self._budget.take(len(state[4]))
        super().__setstate__(state)


def _check_array_state(state) -> None:
    if not isinstance(state, tuple) or len(state) != 5:
        raise PaperImportError("malformed numpy array state in pickle")
    _version, shape, dt, _fortran, raw = state
    if not isinstance(shape, tuple) or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape
    ):
        raise PaperImportError(f"malformed numpy array shape {shape!r}")
    dt = _check_dtype(dt)
    nbytes = math.prod(shape) * dt.itemsize
    if nbytes > MAX_ARRAY_BYTES:
        raise PaperImportError(f"array of {nbytes} bytes exceeds the limit")
    if not isinstance(raw, bytes | bytearray) or len(raw) != nbytes:
        raise PaperImportError("numpy array data has the wrong length")


def _plain(arr: np.ndarray) -> np.ndarray:
    """A plain (non-subclass) copy of a guarded array."""
    return np.array(arr.view(np.ndarray), copy=True)


def _safe_reconstruct_array(fun, args, arr_state, aval_state=None):
    """``jax._src.array._reconstruct_array``: rebuild the numpy array, drop the jax."""
    if not (isinstance(fun, _Guard) and fun.name == _RECONSTRUCT_NAME):
        raise PaperImportError("jax _reconstruct_array with an unexpected function")
    if not isinstance(args, tuple):
        raise PaperImportError("malformed jax array in pickle")
    arr = fun(*args)
    arr.__setstate__(arr_state)
    return arr  # still guarded against a later BUILD; made plain by _sanitize


def _safe_scalar(dt, data=None):
    """``numpy.core.multiarray.scalar`` restricted to numeric dtypes."""
    dt = _check_dtype(dt)
    if not isinstance(data, bytes) or len(data) != dt.itemsize:
        raise PaperImportError("malformed numpy scalar in pickle")
    return np.frombuffer(data, dtype=dt)[0].copy()


_RECONSTRUCT_NAME = "numpy _reconstruct"
_MULTIARRAY = {"scalar": _Guard(_safe_scalar, "numpy scalar")}
_ALLOWED: dict[tuple[str, str], Any] = {
    ("jax._src.array", "_reconstruct_array"): _Guard(
        _safe_reconstruct_array, "jax _reconstruct_array"
    ),
    ("numpy", "ndarray"): _NDArrayType,
    ("numpy", "dtype"): _Guard(_safe_dtype, "numpy.dtype"),
    **{("numpy.core.multiarray", k): v for k, v in _MULTIARRAY.items()},
    **{("numpy._core.multiarray", k): v for k, v in _MULTIARRAY.items()},
}


class PaperUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals the published pickles need.

    evosax classes become fresh `EvosaxRecord` subclasses made per unpickler, so
    nothing one file does to them can reach another load.
    """

    def __init__(self, file, **kwargs):
        super().__init__(file, **kwargs)
        self._records: dict[str, type] = {}
        budget = _Budget(MAX_ARRAY_BYTES)
        self._reconstruct = _Guard(
            functools.partial(_safe_reconstruct, budget), _RECONSTRUCT_NAME
        )

    def _record_class(self, module: str, name: str) -> type:
        key = f"{module}.{name}"
        if key not in self._records:
            self._records[key] = type(name, (EvosaxRecord,), {"evosax_class": key})
        return self._records[key]

    def find_class(self, module: str, name: str):
        if not isinstance(module, str) or not isinstance(name, str):
            raise PaperImportError("refused global with a non-string name")
        hit = _ALLOWED.get((module, name))
        if hit is not None:
            return hit
        if name == "_reconstruct" and module in (
            "numpy.core.multiarray",
            "numpy._core.multiarray",
        ):
            return self._reconstruct
        if (
            (module == "evosax" or module.startswith("evosax."))
            and _MODULE_RE.match(module)
            and _NAME_RE.match(name)
            and not name.startswith("_")
        ):
            return self._record_class(module, name)
        raise PaperImportError(
            f"refused global {module}.{name}: not needed by the published HaDES "
            "pickles (nothing was executed)"
        )

    def persistent_load(self, pid):
        raise PaperImportError("refused persistent id in pickle")


def _sanitize(x: Any) -> Any:
    """Plain numeric numpy arrays everywhere (guarded arrays become plain copies,
    one per array however often it is referenced).

    The result is a tree: an object the pickle shares is copied each time it is
    reached, so more than MAX_VALUES values (a few shared lists nested deep
    expand exponentially) or 64 levels are refused before they are built.
    """
    arrays: dict[int, np.ndarray] = {}
    seen = [0]

    def walk(x: Any, depth: int) -> Any:
        seen[0] += 1
        if seen[0] > MAX_VALUES:
            raise PaperImportError(
                f"the pickle holds more than {MAX_VALUES} values (counting shared "
                "objects each time they are referenced)"
            )
        if depth > 64:
            raise PaperImportError("pickle nests too deeply")
        if isinstance(x, np.ndarray):
            _check_dtype(x.dtype)
            if type(x) is np.ndarray:
                return x
            if id(x) not in arrays:
                arrays[id(x)] = _plain(x)
            return arrays[id(x)]
        if isinstance(x, dict):
            return {walk(k, depth + 1): walk(v, depth + 1) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v, depth + 1) for v in x]
        if isinstance(x, tuple):
            return tuple(walk(v, depth + 1) for v in x)
        if isinstance(x, EvosaxRecord):
            x.__dict__.update(walk(dict(x.__dict__), depth + 1))
            return x
        if isinstance(x, set | frozenset):
            return type(x)(walk(v, depth + 1) for v in x)
        return x

    return walk(x, 0)


def _scan(data: bytes, name: str) -> None:
    """Refuse, before unpickling, a pickle of more than MAX_OPCODES opcodes or
    with a memo index beyond them (the C unpickler sizes its memo by the index)."""
    try:
        for n, (op, arg, _pos) in enumerate(pickletools.genops(data)):
            if n >= MAX_OPCODES:
                raise PaperImportError(
                    f"{name}: more than {MAX_OPCODES} pickle opcodes (the published "
                    "files have about 125,000)"
                )
            if op.name in ("PUT", "BINPUT", "LONG_BINPUT") and int(arg) > MAX_OPCODES:
                raise PaperImportError(f"{name}: pickle memo index {arg} is too large")
    except PaperImportError:
        raise
    except Exception as e:  # noqa: BLE001 -- genops raises many types on bad data
        raise PaperImportError(
            f"{name} is not a readable HaDES pickle ({type(e).__name__}: {e})"
        ) from None


def read_paper_pickle(path: str | os.PathLike) -> dict:
    """Read one published pickle safely: the raw dict, arrays as numpy.

    evosax objects come back as `EvosaxRecord` attribute containers (``state.mean``).
    Anything that is not a readable, allowed pickle of a dict raises PaperImportError.
    """
    path = os.fspath(path)
    try:
        regular_file_size(path, MAX_FILE_BYTES, "a published HaDES pickle")
    except UnsafeFileError as e:
        raise PaperImportError(str(e)) from None
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise PaperImportError(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise PaperImportError(f"{path} is larger than {MAX_FILE_BYTES >> 20} MiB")
    _scan(data, os.path.basename(path))
    try:
        payload = PaperUnpickler(io.BytesIO(data)).load()
    except PaperImportError as e:
        raise PaperImportError(f"{os.path.basename(path)}: {e}") from None
    except RecursionError:
        raise PaperImportError(f"{path}: pickle nests too deeply") from None
    except Exception as e:  # noqa: BLE001 -- malformed pickles raise any type
        raise PaperImportError(
            f"{path} is not a readable HaDES pickle ({type(e).__name__}: {e})"
        ) from None
    if not isinstance(payload, dict):
        raise PaperImportError(
            f"{path}: expected a pickled dict (state, config, ...), got "
            f"{type(payload).__name__}"
        )
    try:
        return _sanitize(payload)
    except PaperImportError as e:
        raise PaperImportError(f"{os.path.basename(path)}: {e}") from None


# --------------------------------------------------------------------------------------
# Conversion to our Dataset
# --------------------------------------------------------------------------------------

_SUPERVISED_NAMES = ("mnist", "fashion_mnist", "fashionmnist", "fmnist", "cifar10")


def _refuse_supervised(name: Any) -> None:
    raise PaperImportError(
        f"{name} is a supervised dataset-distillation file (images and class labels), "
        "not an RL dataset: supervised MNIST/FashionMNIST datasets have no "
        "environment states or actions and cannot be imported as a HaDES behaviour "
        "dataset"
    )


def _map_env(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise PaperImportError(f"config ENV_NAME {name!r} is not an environment name")
    low = name.lower().replace("-", "_")
    if low in _SUPERVISED_NAMES or "mnist" in low:
        _refuse_supervised(name)
    if name in ENV_NAMES:  # brax "hopper", MinAtar "Breakout-MinAtar", ...
        return name
    for known in ENV_NAMES:
        if known.lower() == name.lower():
            return known
    raise PaperImportError(
        f"environment {name!r} of the paper file is not in our registry "
        f"({', '.join(ENV_NAMES)})"
    )


_SKIP = object()


def _scalar(x: Any) -> Any:
    """A JSON scalar for config values (numpy scalars and 0-d arrays included)."""
    if isinstance(x, np.ndarray) and x.ndim == 0:
        x = x.item()
    if isinstance(x, np.generic):
        x = x.item()
    if x is None or isinstance(x, bool | int | str):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else str(x)
    return _SKIP


def _jsonable_scalars(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        s = _scalar(v)
        if s is not _SKIP:
            out[str(k)] = s
    return out


def _int(cfg: dict, key: str, where: str) -> int:
    v = _scalar(cfg.get(key))
    if isinstance(v, bool) or not isinstance(v, int | float) or v != int(v):
        raise PaperImportError(f"{where} {key}={cfg.get(key)!r} is not an integer")
    return int(v)


def _float(cfg: dict, key: str, default: float | None = None) -> float:
    v = _scalar(cfg.get(key))
    if v is None and default is not None:
        return default
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise PaperImportError(f"config {key}={cfg.get(key)!r} is not a number")
    return float(v)


def _flag(cfg: dict, key: str) -> bool:
    return bool(_scalar(cfg.get(key)) or False)


def _stats(cfg: dict, key: str, size: int) -> np.ndarray:
    if key not in cfg:
        raise PaperImportError(f"constant normalisation is on but config lacks {key}")
    arr = _array(cfg[key], np.float32)
    if arr.size != size:
        raise PaperImportError(f"config {key} has {arr.size} values, expected {size}")
    return arr


def _count(x: Any, limit: int) -> int:
    """Values np.asarray(x) would hold, counting no further than `limit`."""
    if isinstance(x, np.ndarray):
        return x.size
    if not isinstance(x, list | tuple):
        return 1
    n = 0
    for v in x:
        n += _count(v, limit - n)
        if n > limit:
            break
    return n


def _array(x: Any, dtype) -> np.ndarray:
    """np.asarray(x, dtype).reshape(-1), refused before it is built when it would
    hold more than MAX_ARRAY_BYTES (a list repeating one large array, say)."""
    limit = MAX_ARRAY_BYTES // np.dtype(dtype).itemsize
    if _count(x, limit) > limit:
        raise PaperImportError(f"an array of the pickle exceeds {limit} values")
    return np.asarray(x, dtype=dtype).reshape(-1)


def _last(x: Any) -> float | None:
    if x is None:
        return None
    arr = _array(x, np.float64)
    return float(arr[-1]) if arr.size else None


def import_paper(path: str | os.PathLike) -> tuple[Dataset, list[str]]:
    """Convert a published HaDES pickle to a `Dataset`; returns it and notes.

    The notes (also stored in ``meta["notes"]``) say what was changed or assumed.
    ``meta["config"]`` is a partial nested dict for
    `engine.config.HadesConfig.from_dict` with the paper's inner-loop and fitness
    settings; ``meta["training_log"]`` has the final population-mean fitness,
    the number of generations and the best fitness seen.
    """
    base = os.path.basename(os.fspath(path))
    raw = read_paper_pickle(path)
    try:
        return _convert(raw, base)
    except PaperImportError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        raise PaperImportError(
            f"{base}: unexpected content ({type(e).__name__}: {e})"
        ) from None
    except OverflowError as e:
        raise PaperImportError(f"{base}: value out of range ({e})") from None


def _convert(raw: dict, base: str) -> tuple[Dataset, list[str]]:
    for key in ("state", "config", "es_config"):
        if key not in raw:
            raise PaperImportError(f"{base}: missing key {key!r} (found {sorted(raw)})")
    cfg, es_cfg = raw["config"], raw["es_config"]
    if not isinstance(cfg, dict) or not isinstance(es_cfg, dict):
        raise PaperImportError(f"{base}: config and es_config must be dicts")
    if cfg.get("ENV_NAME") is None and cfg.get("DATASET") is not None:
        _refuse_supervised(cfg.get("DATASET"))  # MNIST / FashionMNIST files
    env = _map_env(cfg.get("ENV_NAME"))
    spec = get_spec(env)
    state = record_fields(raw["state"])
    if "mean" not in state:
        raise PaperImportError(f"{base}: the ES state has no mean")
    mean = _array(state["mean"], np.float32)
    if not np.all(np.isfinite(mean)):
        raise PaperImportError(f"{base}: the ES mean contains NaN or inf")
    n = _int(es_cfg, "dataset_size", "es_config")
    if n < 1:
        raise PaperImportError(f"{base}: dataset_size {n} must be positive")
    notes: list[str] = []
    a, s = spec.action_dim, spec.obs_size

    if spec.family == "brax":
        expected = n * (a + s)
        if mean.size != expected:
            raise PaperImportError(
                f"{base}: state.mean has {mean.size} numbers; {env} with N={n} needs "
                f"N*(|A|+|S|) = {n}*({a}+{s}) = {expected}"
            )
        labels = mean[: n * a].reshape(n, a).copy()
        states = mean[n * a :].reshape(n, s).copy()
        label_kind = "continuous"
        reduction = "mean_completed"
    elif spec.family == "minatar" and _flag(es_cfg, "learn_labels"):
        # evolved labels: {"actions": (N, |A|) logits, "states": ...}, sorted keys;
        # the paper trained on softmax(actions), which is our "soft" label kind
        expected = n * (a + s)
        if mean.size != expected:
            raise PaperImportError(
                f"{base}: state.mean has {mean.size} numbers; {env} with N={n} and "
                f"learned labels needs N*(|A|+10*10*C) = {expected}"
            )
        labels = mean[: n * a].reshape(n, a).copy()
        states = mean[n * a :].reshape(n, *spec.obs_shape).copy()
        label_kind = "soft"
        reduction = "last_completed"
        notes.append("learned labels (es_config learn_labels): imported as soft labels")
    elif spec.family == "minatar":
        if mean.size != n * s:
            raise PaperImportError(
                f"{base}: state.mean has {mean.size} numbers; {env} with N={n} needs "
                f"N*10*10*C = {n * s}"
            )
        per = n // a
        if per < 1:
            raise PaperImportError(
                f"{base}: N={n} is smaller than the {a} actions: the paper's "
                "floor(N/|A|) labelling gives no state a label"
            )
        used = per * a
        states = mean.reshape(n, *spec.obs_shape)[:used].copy()
        labels = np.repeat(np.arange(a, dtype=np.int32), per)
        if used < n:
            k = n - used
            notes.append(
                f"dropped {k} unused state{'s' if k > 1 else ''} (paper's "
                f"floor(N/|A|) labelling: {per} per action x {a} actions = {used} "
                f"of N={n} states were trained on)"
            )
        label_kind = "onehot"
        reduction = "last_completed"
    else:
        raise PaperImportError(
            f"{base}: {env} ({spec.family}) datasets were not published by the paper"
        )

    obs_mean = obs_var = None
    if _flag(cfg, "CONST_NORMALIZE_OBS"):
        obs_norm = "constant"
        obs_mean = _stats(cfg, "OBS_MEAN", s)
        obs_var = _stats(cfg, "OBS_VAR", s)
    elif _flag(cfg, "NORMALIZE_OBS"):
        obs_norm = "running"
        notes.append(
            "running observation normalisation: statistics are re-estimated in "
            "every evaluation (the paper's were not stored)"
        )
    else:
        obs_norm = "none"

    max_grad_norm = _float(cfg, "MAX_GRAD_NORM", 0.0)
    if spec.family == "minatar" and max_grad_norm:
        # The authors' MinAtar inner loop has optax.clip_by_global_norm commented out.
        notes.append(
            f"config MAX_GRAD_NORM={max_grad_norm:g} was not applied by the paper's "
            "MinAtar inner loop (clipping commented out): max_grad_norm=0"
        )
        max_grad_norm = 0.0
    if _flag(cfg, "ANNEAL_LR"):
        notes.append(
            "config ANNEAL_LR=True is a no-op in the paper's inner loop (its schedule "
            "uses step // UPDATE_EPOCHS, always 0): constant inner lr"
        )
    if _scalar(cfg.get("DATA_NOISE")) not in (None, 0, 0.0):
        notes.append(
            f"config DATA_NOISE={cfg.get('DATA_NOISE')!r}: the paper added Gaussian "
            "noise to the data during BC; our inner loop does not"
        )
    net = _scalar(cfg.get("NET"))
    if isinstance(net, str) and net.lower() != "mlp":
        notes.append(
            f"the paper trained a {net} policy on this dataset; our inner loop is "
            "an MLP"
        )
    activation = _scalar(cfg.get("ACTIVATION"))
    if activation is None:
        activation = "tanh"
    if activation not in ("tanh", "relu"):
        raise PaperImportError(f"{base}: unknown ACTIVATION {activation!r}")
    inner = {
        "width": _int(cfg, "WIDTH", "config"),
        "depth": 2,
        "activation": activation,
        "steps": _int(cfg, "UPDATE_EPOCHS", "config"),
        "lr": _float(cfg, "LR"),
        "optimizer": "adam",
        "adam_eps": 1e-5,
        "max_grad_norm": max_grad_norm,
    }
    fitness: dict[str, Any] = {
        "num_envs": _int(cfg, "NUM_ENVS", "config"),
        "num_steps": _int(cfg, "NUM_STEPS", "config"),
        "greedy": _flag(cfg, "GREEDY_ACT"),
        "reduction": reduction,
    }
    if es_cfg.get("rollouts_per_candidate") is not None:
        fitness["inits"] = _int(es_cfg, "rollouts_per_candidate", "es_config")
    meta: dict[str, Any] = {}
    if _flag(cfg, "OVERFIT"):
        if cfg.get("OVERFIT_SEED") is not None:
            seed = _int(cfg, "OVERFIT_SEED", "config")
            source = "config OVERFIT_SEED"
        else:
            seed = 420 + _int(cfg, "SEED", "config")
            source = "420 + config SEED"
        if "SEED" in cfg and cfg.get("SEED") is not None:
            run_seed = _int(cfg, "SEED", "config")
            if seed != 420 + run_seed:
                notes.append(
                    f"HaDES-F init seed {seed} differs from 420 + SEED "
                    f"({420 + run_seed}); using the file's OVERFIT_SEED"
                )
        meta["fixed_init_seed"] = seed
        meta["fixed_init_source"] = source
        fitness["fixed_init"] = True
        fitness["fixed_init_seed"] = seed
        if fitness.get("inits", 1) != 1:
            notes.append(
                f"HaDES-F file had rollouts_per_candidate={fitness['inits']}; "
                "a fixed init uses inits=1"
            )
        fitness["inits"] = 1
        notes.append(
            f"HaDES-F dataset: trained for the one fixed init key {seed}; with random "
            "inits it scores much lower"
        )

    gens = _last(state.get("gen_counter"))
    log = {
        "generations": int(_array(raw["fitness_over_gen"], np.float64).size)
        if raw.get("fitness_over_gen") is not None
        else None,
        "final_mean_fitness": _last(raw.get("fitness_over_gen")),
        "final_max_fitness": _last(raw.get("max_fitness_over_gen")),
        "best_fitness": _last(state.get("best_fitness")),
        "es_generations": None if gens is None else int(gens),
    }
    config_part: dict[str, Any] = {
        "env": {"name": env, "normalize": obs_norm},
        "inner": inner,
        "fitness": fitness,
    }
    run_seed = _scalar(cfg.get("SEED"))
    if isinstance(run_seed, int) and not isinstance(run_seed, bool) and run_seed >= 0:
        config_part["seed"] = run_seed
    meta.update(
        {
            "source": "paper-import",
            "file": base,
            "notes": list(notes),
            "paper_config": {
                "config": _jsonable_scalars(cfg),
                "es_config": _jsonable_scalars(es_cfg),
            },
            "config": config_part,
            "training_log": log,
            "best_fitness": log["best_fitness"],
            "paper_dataset_size": n,
        }
    )
    try:
        ds = Dataset(
            env=env,
            states=states.astype(np.float32),
            labels=labels,
            label_kind=label_kind,
            obs_norm=obs_norm,
            obs_mean=obs_mean,
            obs_var=obs_var,
            meta=meta,
        )
    except ValueError as e:  # DatasetError
        raise PaperImportError(f"{base}: {e}") from None
    return ds, notes


def import_to_file(
    src: str | os.PathLike, out: str | os.PathLike
) -> tuple[str, list[str]]:
    """Import a published pickle and save it as our `.npz`; returns (path, notes)."""
    ds, notes = import_paper(src)
    return save(ds, out), notes
