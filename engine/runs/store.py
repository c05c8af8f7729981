"""The run store: one directory per run under a runs root, plus an SQLite index.

Layout of ``<root>/<run_id>/``::

    config.json      the frozen config, package versions, devices, seed, lineage
    status.json      status, message, generation, timings (replaced atomically)
    metrics.jsonl    one JSON object a line, appended and flushed every chunk
    checkpoints/     ckpt_<generation>.npz: ES state, params, key, generation
    dataset.npz      the current ES mean dataset (`engine.dataset` format)
    obs_stats.npz    constant normalisation statistics of the run (if any)
    media/           renders written by other tools
    lock             pid of the one process writing the run (see `lock.py`)

Statuses: queued, compiling, running, paused, stopped, finished, failed. A run whose
status is active but whose writer is gone reads as ``failed`` with the message
``process died`` (`resumable` true); nothing is rewritten by the reader.

Rows of ``metrics.jsonl`` (non-finite numbers are written as null):

- generation rows, no ``event`` key: ``generation`` (generations completed, 1-based),
  ``fitness_mean``, ``fitness_max``, ``fitness_min``, ``fitness_std``,
  ``best_fitness``, ``sigma``, ``lr``, ``nan_count``, ``bc_loss`` (from the engine),
  ``seconds_per_generation`` (wall time of the chunk, its mean-dataset
  evaluation included, per generation), ``time`` (unix seconds), ``compiled``
  (the chunk or its first mean-dataset evaluation compiled: its time includes
  compilation), and on the last row of a chunk whose mean dataset was evaluated
  ``mean_dataset_return``.
- event rows, with ``event``: ``"control"`` (a live change: ``generation`` = the
  generations completed when it was applied, so rows with a larger generation used
  the new values; the changed keys among ``lr``, ``sigma``, ``temperature``, their
  ``previous`` values, and a ``rejected`` dict {knob: reason} for changes the
  strategy cannot take), ``"start"``, ``"resume"`` (``from``: checkpoint, parent
  or scratch; ``dropped_rows``, ``stale_lock`` {pid, host} when any), ``"pause"``,
  ``"unpause"``, ``"stop"``, ``"finish"``, ``"fail"`` (``message``). Every event
  row has ``generation`` and ``time``.

Readers get complete lines only (`RunStore.read_metrics`): a line is written with a
single ``write`` to a file opened in append mode, and a tail without its newline
(a writer killed mid-line, or caught mid-write) is never returned. On resume the
writer drops rows past the checkpoint it restarts from (rewriting the file with a
rename), so the file has one row per generation.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import socket
import sqlite3
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write, jsonable, write_json
from engine.runs import checkpoint as ckpt_lib
from engine.runs.errors import RunError
from engine.runs.ids import new_run_dir
from engine.runs.index import COLUMNS, SORT_KEYS, RunIndex
from engine.runs.lock import LOCK_NAME, holder_alive, lock_alive, read_lock

STATUSES = ("queued", "compiling", "running", "paused", "stopped", "finished", "failed")
DAMAGED = "damaged"
"""The listed status of a run directory whose config.json cannot be used."""
RUN_FILES = ("config.json", "status.json", "metrics.jsonl")
"""A directory of the runs root holding any of these is a run (maybe damaged)."""
MAX_JSON_BYTES = 16 * 2**20
NUMERIC_KEYS = (
    "fitness_mean",
    "fitness_max",
    "fitness_min",
    "fitness_std",
    "best_fitness",
    "sigma",
    "lr",
    "nan_count",
    "bc_loss",
    "seconds_per_generation",
    "time",
    "compiled",
    "mean_dataset_return",
)
"""Values of a generation row that readers compute with (see the rows above)."""
ACTIVE = ("queued", "compiling", "running", "paused")
DIED = "process died"
FORMAT = "hades-run"
FORMAT_VERSION = 1
_PACKAGES = (
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "evosax",
    "gymnax",
    "brax",
    "numpy",
    "hades-studio",
)


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def default_root() -> Path:
    """``$HADES_HOME/runs`` when HADES_HOME is set, else ``~/.hades/runs``."""
    home = os.environ.get("HADES_HOME")
    if home:
        return Path(home).expanduser() / "runs"
    return Path("~/.hades/runs").expanduser()


# Files ----------
@dataclass(frozen=True)
class RunPaths:
    """The files of one run directory."""

    dir: Path

    @property
    def config(self) -> Path:
        return self.dir / "config.json"

    @property
    def status(self) -> Path:
        return self.dir / "status.json"

    @property
    def metrics(self) -> Path:
        return self.dir / "metrics.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.dir / "checkpoints"

    @property
    def dataset(self) -> Path:
        return self.dir / "dataset.npz"

    @property
    def obs_stats(self) -> Path:
        return self.dir / "obs_stats.npz"

    @property
    def parent_checkpoint(self) -> Path:
        return self.dir / "parent_checkpoint.npz"

    @property
    def parent_dataset(self) -> Path:
        return self.dir / "parent_dataset.npz"

    @property
    def media(self) -> Path:
        return self.dir / "media"

    def as_dict(self) -> dict[str, str]:
        return {
            k: str(getattr(self, k))
            for k in (
                "dir",
                "config",
                "status",
                "metrics",
                "checkpoints",
                "dataset",
                "media",
            )
        }


@dataclass(frozen=True)
class RunInfo:
    """A created run: its id and directory (usable as a path)."""

    run_id: str
    path: Path

    def __fspath__(self) -> str:
        return str(self.path)


NO_SPACE = "no space left on device"


def disk_full(e: BaseException) -> bool:
    """An OSError of a full disk (or an exhausted quota)."""
    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)


def load_json(path: Path) -> tuple[dict | None, str]:
    """(the JSON object in `path`, "") or (None, why it cannot be used)."""
    name = Path(path).name
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_JSON_BYTES + 1)
    except FileNotFoundError:
        return None, f"{name} is missing"
    except OSError as e:
        return None, f"{name} cannot be read: {e.strerror or e}"
    if len(data) > MAX_JSON_BYTES:
        return None, f"{name} is larger than {MAX_JSON_BYTES >> 20} MiB"
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError) as e:
        return None, f"{name} is not valid JSON ({e})"
    if not isinstance(obj, dict):
        return None, f"{name} holds a JSON {type(obj).__name__}, not an object"
    return obj, ""


def read_json(path: Path) -> dict | None:
    """The JSON object in `path`, or None when it is missing or unusable."""
    return load_json(path)[0]


def append_lines(path: Path, rows: list[dict]) -> None:
    """Append rows as JSON lines with one write (readers never see half a line)."""
    if not rows:
        return
    data = "".join(json.dumps(jsonable(r), sort_keys=True) + "\n" for r in rows)
    buf = memoryview(data.encode())
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        while buf:
            n = os.write(fd, buf)
            buf = buf[n:]
    except OSError as e:  # name the file (a full disk says where it struck)
        raise OSError(e.errno, e.strerror, str(path)) from None
    finally:
        os.close(fd)


class DamagedLineWarning(UserWarning):
    """A line of metrics.jsonl is not a valid row; it was skipped."""


def row_problem(row: Any) -> str:
    """Why a parsed line is not a metrics row ("" when it is one): an object whose
    ``generation`` is a whole number >= 0, ``event`` (if any) text, and a
    generation row's `NUMERIC_KEYS` numbers, booleans or null."""
    if not isinstance(row, dict):
        return f"a JSON {type(row).__name__}, not an object"
    gen = row.get("generation", 0)
    if isinstance(gen, bool) or not isinstance(gen, int) or gen < 0:
        return f"generation {gen!r} is not a whole number >= 0"
    if "event" in row:
        return "" if isinstance(row["event"], str) else "event is not text"
    for k in NUMERIC_KEYS:
        v = row.get(k)
        if v is not None and not isinstance(v, int | float):
            return f"{k} {v!r} is not a number"
    return ""


def scan_lines(data: bytes) -> tuple[list[dict], list[tuple[int, str]]]:
    """(rows, damaged) of the complete (newline-terminated) lines of `data`.

    `damaged` holds (line number from 1, reason) of lines that are not JSON or not
    a metrics row (`row_problem`). An unterminated last line is a write in
    progress (or torn by a killed writer): neither a row nor damaged.
    """
    end = data.rfind(b"\n")
    rows: list[dict] = []
    damaged: list[tuple[int, str]] = []
    if end < 0:
        return rows, damaged
    for number, line in enumerate(data[:end].split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            damaged.append((number, "not JSON"))
            continue
        why = row_problem(row)
        if why:
            damaged.append((number, why))
        else:
            rows.append(row)
    return rows, damaged


def parse_lines(data: bytes) -> list[dict]:
    """The valid rows of the complete lines of `data` (see `scan_lines`)."""
    return scan_lines(data)[0]


def scan_metrics_file(path: Path) -> tuple[list[dict], list[tuple[int, str]]]:
    """(rows, damaged lines) of a metrics file; both empty when it is missing."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return [], []
    return scan_lines(data)


def damage_message(path: Path, damaged: list[tuple[int, str]]) -> str:
    """One line naming the damaged lines of a metrics file."""
    shown = "; ".join(f"line {n}: {why}" for n, why in damaged[:5])
    more = f"; and {len(damaged) - 5} more" if len(damaged) > 5 else ""
    return f"{path} has {len(damaged)} damaged line(s), skipped ({shown}{more})"


def read_metrics_file(path: Path, since_line: int = 0) -> list[dict]:
    """Rows of a metrics file from row `since_line` on; damaged lines are skipped
    with a `DamagedLineWarning` that gives their line numbers."""
    rows, damaged = scan_metrics_file(path)
    if damaged:
        warnings.warn(damage_message(path, damaged), DamagedLineWarning, stacklevel=2)
    return rows[since_line:]


def tail_rows(
    path: Path, n: int = 1, generation_rows: bool = True, block: int = 65536
) -> list[dict]:
    """The last `n` rows (generation rows only by default) without reading it all."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return []
    with open(path, "rb") as f:
        start = max(0, size - block)
        while True:
            f.seek(start)
            data = f.read(size - start)
            if start > 0:
                data = data[data.find(b"\n") + 1 :]
            rows = [
                r for r in parse_lines(data) if not generation_rows or "event" not in r
            ]
            if len(rows) >= n or start == 0:
                return rows[-n:]
            start = max(0, start - 4 * block)


def package_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for p in _PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[p] = metadata.version(p)
    if "hades-studio" not in out:
        import engine

        out["hades-studio"] = engine.__version__
    import platform

    out["python"] = platform.python_version()
    return out


def device_info() -> dict:
    import jax

    devs = jax.devices()
    return {
        "backend": jax.default_backend(),
        "devices": [str(d) for d in devs],
        "device_kinds": sorted({getattr(d, "device_kind", "") for d in devs}),
    }


def estimate_bytes(cfg, keep_last: int = 3, keep_every: int = 10) -> int:
    """Rough disk need of a run: checkpoints, metrics, dataset."""
    from engine.envs.registry import get_spec

    spec = get_spec(cfg.env.name)
    n = cfg.dataset.size
    dims = n * spec.obs_size + (
        0
        if spec.discrete and cfg.dataset.labels in ("auto", "onehot")
        else n * spec.action_dim
    )
    ckpt = 6 * 4 * dims + 16384
    chunks = max(1, cfg.outer.generations // cfg.outer.chunk)
    kept = keep_last + 1 + (chunks // keep_every if keep_every else 0)
    return ckpt * kept + 600 * cfg.outer.generations + 2 * 4 * dims + 65536


def is_run_dir(path: Path) -> bool:
    """A directory holding one of `RUN_FILES` (its config.json may be damaged)."""
    return any((Path(path) / n).is_file() for n in RUN_FILES)


# The store ----------
class RunStore:
    """Runs under one root directory (created on the first write)."""

    PROBE_BYTES = 65536
    MARGIN_BYTES = 32 * 2**20

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root).expanduser() if root is not None else default_root()
        self.index = RunIndex(self.root)
        self.index_problem: str | None = None
        """Why the last `list` could not use the index (None: it could)."""

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    # Launch checks ----------
    def check_root(self) -> None:
        """Raise RunError when the root exists but is not a directory."""
        if self.root.exists() and not self.root.is_dir():
            raise RunError(
                f"runs root {self.root} is a file, not a directory (choose another "
                "with --runs or HADES_HOME)"
            )

    def check_writable(self, need_bytes: int = 0) -> None:
        """Raise RunError unless the root can be created and written, with room."""
        self.check_root()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunError(
                f"runs root {self.root} cannot be created: {e.strerror or e}"
                " (choose another with --runs or HADES_HOME)"
            ) from None
        probe = self.root / f".probe-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            with open(probe, "wb") as f:
                f.write(b"\0" * self.PROBE_BYTES)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            full = e.errno in (errno.ENOSPC, errno.EDQUOT)
            raise RunError(
                f"runs root {self.root} is "
                + ("full" if full else "not writable")
                + f": {e.strerror or e} (free space or choose another root with "
                "--runs or HADES_HOME)"
            ) from None
        finally:
            with contextlib.suppress(OSError):
                probe.unlink()
        free = shutil.disk_usage(self.root).free
        if free < need_bytes + self.MARGIN_BYTES:
            raise RunError(
                f"runs root {self.root} has {free / 2**20:.0f} MiB free; this run "
                f"needs about {(need_bytes + self.MARGIN_BYTES) / 2**20:.0f} MiB "
                "(free space or choose another root with --runs or HADES_HOME)"
            )

    # Create ----------
    def create(
        self,
        cfg,
        name: str = "",
        parent: dict | str | None = None,
        runner: dict | None = None,
        check: bool = True,
        labels: dict | None = None,
    ) -> RunInfo:
        """A new run directory: config.json, status queued, empty metrics.

        `parent` is a run id or a dict {"run_id", "generation", ...} (a fork).
        `runner` holds the runner's settings (checkpoint policy, NaN patience).
        `labels` tag the run with the group it belongs to: ``study`` (a study id),
        ``sweep`` (a sweep id) and ``slot`` (its place in that group).
        Raises RunError when the root is unwritable or the disk is (nearly) full.
        """
        runner = dict(runner or {})
        if check:
            self.check_writable(
                estimate_bytes(
                    cfg, runner.get("keep_last", 3), runner.get("keep_every", 10)
                )
            )
        if isinstance(parent, str):
            parent = {"run_id": parent}
        run_id, run_dir = new_run_dir(self.root)
        paths = RunPaths(run_dir)
        try:
            paths.checkpoints.mkdir()
            paths.media.mkdir()
            now = time.time()
            config = {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "run_id": run_id,
                "name": str(name or ""),
                "created": now,
                "created_iso": time.strftime(
                    "%Y-%m-%dT%H:%M:%S%z", time.localtime(now)
                ),
                "config": cfg.to_dict(),
                "seed": cfg.seed,
                "env": cfg.env.name,
                "parent": parent,
                "runner": runner,
                "labels": jsonable(dict(labels or {})),
                "versions": package_versions(),
                "devices": device_info(),
                "host": socket.gethostname(),
            }
            write_json(paths.config, config)
            self.write_status(
                paths.dir,
                {
                    "run_id": run_id,
                    "status": "queued",
                    "message": "",
                    "generation": 0,
                    "total_generations": cfg.outer.generations,
                    "created": now,
                    "updated": now,
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                },
            )
            paths.metrics.touch()
        except BaseException:
            shutil.rmtree(paths.dir, ignore_errors=True)
            raise
        self._index_run(paths.dir)
        return RunInfo(run_id, paths.dir)

    # Paths ----------
    def run_dirs(self) -> list[Path]:
        try:
            names = sorted(os.listdir(self.root))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [
            self.root / n
            for n in names
            if not n.startswith(".") and is_run_dir(self.root / n)
        ]

    def resolve(self, ref: str | os.PathLike) -> Path:
        """Run directory from an id, a unique id prefix, a path or a unique name."""
        ref_s = os.fspath(ref)
        p = Path(ref_s).expanduser()
        if is_run_dir(p) and (
            os.sep in ref_s or p.is_absolute() or not (self.root / ref_s).exists()
        ):
            return p.resolve()
        if not ref_s or os.sep in ref_s or ref_s.startswith("."):
            raise RunError(f"no run at {ref_s!r}")
        exact = self.root / ref_s
        if is_run_dir(exact):
            return exact
        dirs = self.run_dirs()
        hits = [d for d in dirs if d.name.startswith(ref_s)]
        if not hits:
            hits = [
                d
                for d in dirs
                if (read_json(RunPaths(d).config) or {}).get("name") == ref_s
            ]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            raise RunError(
                f"no run {ref_s!r} under {self.root} (see `hades runs list`)"
            )
        raise RunError(
            f"{ref_s!r} matches {len(hits)} runs: "
            + ", ".join(d.name for d in hits[:10])
            + "; give more of the id"
        )

    def paths(self, run: str | os.PathLike) -> RunPaths:
        return RunPaths(self.resolve(run))

    # Status ----------
    def write_status(self, run_dir: Path, status: dict) -> None:
        """Replace status.json atomically; on a full disk, where no temp copy
        fits, overwrite it in place (its own blocks are reused), so that a run
        stopped by the full disk can still say so."""
        path = RunPaths(Path(run_dir)).status
        try:
            write_json(path, status)
        except OSError as e:
            if not disk_full(e):
                raise
            data = json.dumps(jsonable(status), indent=1, sort_keys=True).encode()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
            try:  # pad with spaces over a longer old text (valid JSON)
                buf = memoryview(data + b" " * (os.fstat(fd).st_size - len(data)))
                while buf:
                    buf = buf[os.write(fd, buf) :]
            finally:
                os.close(fd)

    def read_status(self, run: str | os.PathLike) -> dict:
        """status.json with liveness: a dead writer reads as failed: process died.

        Extra keys: ``alive`` (a live process owns the run), ``resumable``,
        ``recorded_status`` (what status.json says).
        """
        return self._status(self.resolve(run))

    def _status(self, run_dir: Path) -> dict:
        paths = RunPaths(run_dir)
        st = read_json(paths.status)
        if st is None:
            st = {
                "status": "failed",
                "message": "status.json is missing or unreadable",
                "generation": 0,
            }
        st = dict(st)
        st.setdefault("run_id", run_dir.name)
        recorded = st.get("status")
        st["recorded_status"] = recorded
        alive = False
        if recorded in ACTIVE:
            if recorded == "queued":
                alive = holder_alive(st)
            else:
                info = read_lock(run_dir)
                if info is None:
                    # The writer may just have finished: read status once more.
                    st2 = read_json(paths.status) or st
                    if st2.get("status") not in ACTIVE:
                        return self._status(run_dir)
                alive = lock_alive(info, st)
            if not alive:
                st["status"] = "failed"
                st["message"] = DIED
        st["alive"] = alive
        st["resumable"] = st["status"] in ("stopped", "failed") or (
            st["status"] == "finished"
        )
        return st

    # Metrics ----------
    def read_metrics(self, run: str | os.PathLike, since_line: int = 0) -> list[dict]:
        """Rows of metrics.jsonl from line `since_line` on; only complete lines.

        Lines are counted over complete rows; a reader that keeps `since_line` should
        restart from 0 when the run was resumed (the file may then be shorter).
        """
        return read_metrics_file(self.paths(run).metrics, since_line)

    def scan_metrics(self, run: str | os.PathLike) -> tuple[list[dict], str]:
        """(rows, "" or a message naming the damaged lines), without a warning:
        for readers that show the message themselves (the dashboard)."""
        path = self.paths(run).metrics
        rows, damaged = scan_metrics_file(path)
        return rows, damage_message(path, damaged) if damaged else ""

    def latest(self, run: str | os.PathLike) -> dict:
        """Status and the last generation row, as a reader in any process sees it."""
        run_dir = self.resolve(run)
        st = self._status(run_dir)
        rows = tail_rows(RunPaths(run_dir).metrics, 1)
        return {
            "run_id": run_dir.name,
            "status": st["status"],
            "message": st.get("message", ""),
            "generation": st.get("generation", 0),
            "total_generations": st.get("total_generations"),
            "metrics": rows[-1] if rows else None,
            "status_record": st,
        }

    # Read ----------
    def read_config(self, run: str | os.PathLike) -> dict:
        paths = self.paths(run)
        meta, problem = load_json(paths.config)
        if meta is None:
            raise RunError(
                f"run {paths.dir.name} is damaged: {problem} (repair {paths.config} "
                f"or delete the run with `hades runs delete {paths.dir.name}`)"
            )
        return meta

    def hades_config(self, run: str | os.PathLike):
        from engine.config import HadesConfig

        return HadesConfig.from_dict(self.read_config(run)["config"])

    def get(self, run: str | os.PathLike) -> dict:
        """Everything about one run: config.json, status, paths, checkpoints."""
        run_dir = self.resolve(run)
        paths = RunPaths(run_dir)
        meta = self.read_config(run_dir)
        rows = tail_rows(paths.metrics, 1)
        return {
            "run_id": run_dir.name,
            "name": meta.get("name", ""),
            "created": meta.get("created"),
            "run_dir": str(run_dir),
            "config": meta.get("config"),
            "meta": meta,
            "parent": meta.get("parent"),
            "status": self._status(run_dir),
            "paths": paths.as_dict(),
            "checkpoints": [g for g, _ in self.checkpoints(run_dir)],
            "has_dataset": paths.dataset.is_file(),
            "latest_metrics": rows[-1] if rows else None,
        }

    def checkpoints(self, run: str | os.PathLike) -> list[tuple[int, Path]]:
        """(generation, path) of the run's checkpoints, oldest first."""
        return ckpt_lib.list_checkpoints(self.paths(run).checkpoints)

    def load_dataset(self, run: str | os.PathLike, generation: int | None = None):
        """The mean dataset: dataset.npz, or the one kept beside the checkpoint of
        `generation` (file I/O only: nothing is rebuilt or compiled)."""
        from engine import dataset as ds_lib

        run_dir = self.resolve(run)
        paths = RunPaths(run_dir)
        if generation is None:
            if not paths.dataset.is_file():
                raise RunError(
                    f"run {run_dir.name} has no dataset yet (no chunk finished)"
                )
            return ds_lib.load(paths.dataset)
        path = paths.checkpoints / ckpt_lib.dataset_name(generation)
        if not path.is_file():
            have = sorted(self.dataset_generations(run_dir))
            raise RunError(
                f"run {run_dir.name} keeps no dataset of generation {generation}; "
                f"available: {have or 'none'}"
            )
        return ds_lib.load(path)

    def dataset_generations(self, run: str | os.PathLike) -> list[int]:
        """Generations whose mean dataset is kept beside a checkpoint."""
        d = RunPaths(self.resolve(run)).checkpoints
        return sorted(
            g
            for g, _ in self.checkpoints(d.parent)
            if (d / ckpt_lib.dataset_name(g)).is_file()
        )

    # Index ----------
    def _row(self, run_dir: Path, status: dict | None = None) -> dict:
        """The run's index row; a run whose config.json cannot be used is listed
        with status `DAMAGED` and the reason as its message."""
        meta, problem = load_json(RunPaths(run_dir).config)
        if meta is None:
            return {
                **dict.fromkeys(COLUMNS),
                "id": run_dir.name,
                "created": _mtime(run_dir),
                "status": DAMAGED,
                "message": f"{problem} (the run cannot be resumed; its files are "
                "kept: repair config.json or delete the run)",
            }
        st = status or self._status(run_dir)
        cfg = meta.get("config") or {}
        outer = cfg.get("outer") or {}
        parent = meta.get("parent") or {}
        labels = meta.get("labels") or {}
        return {
            "id": run_dir.name,
            "name": meta.get("name", ""),
            "created": meta.get("created"),
            "updated": st.get("updated"),
            "env": (cfg.get("env") or {}).get("name"),
            "size": (cfg.get("dataset") or {}).get("size"),
            "strategy": outer.get("strategy"),
            "population": outer.get("population"),
            "seed": cfg.get("seed"),
            "preset": cfg.get("preset"),
            "status": st.get("status"),
            "message": st.get("message", ""),
            "generation": st.get("generation"),
            "total_generations": st.get("total_generations"),
            "best_fitness": st.get("best_fitness"),
            "mean_dataset_return": st.get("mean_dataset_return"),
            "parent": parent.get("run_id") if isinstance(parent, dict) else None,
            "study": labels.get("study"),
            "sweep": labels.get("sweep"),
            "host": st.get("host") or meta.get("host"),
        }

    def _index_run(self, run_dir: Path, status: dict | None = None) -> None:
        self.index.upsert(self._row(run_dir, status))

    def update_index(self, run_dir: Path, status: dict) -> None:
        """Called by the writer after a status change (never fails the run)."""
        with contextlib.suppress(Exception):
            self._index_run(Path(run_dir), {**status})

    def reindex(self) -> int:
        """Rebuild the index from the run directories; returns the number of runs."""
        self.check_root()
        if not self.root.is_dir():
            return 0
        self.index.clear()
        n = 0
        for d in self.run_dirs():
            self.index.upsert(self._row(d))
            n += 1
        return n

    def _sync(self) -> None:
        """Add runs missing from the index, drop rows whose directory is gone."""
        dirs = {d.name: d for d in self.run_dirs()}
        have = self.index.ids()
        for rid in have - dirs.keys():
            self.index.delete(rid)
        for rid in dirs.keys() - have:
            self._index_run(dirs[rid])

    def list(
        self,
        env: str | None = None,
        status: str | None = None,
        sort: str = "created",
        desc: bool = True,
        study: str | None = None,
        sweep: str | None = None,
    ) -> list[dict]:
        """Rows of the run table, active and damaged runs refreshed from their
        directories; `study` / `sweep` keep the runs of one study or sweep.

        When the index cannot be read or updated (a full or read-only disk), the
        rows come from the run directories alone and `index_problem` says why;
        nothing is written then.
        """
        if sort not in SORT_KEYS:
            raise RunError(f"sort={sort!r}: use one of {', '.join(SORT_KEYS)}")
        self.check_root()
        self.index_problem = None
        if not self.root.is_dir():
            return []
        try:
            self._sync()
            rows = self.index.query(
                env=env, sort=sort, desc=desc, study=study, sweep=sweep
            )
        except sqlite3.Error as e:
            self.index_problem = (
                f"the run index {self.index.path} cannot be used ({e}); runs are "
                "listed from their directories, read-only"
            )
            rows = [
                r
                for r in map(self._row, self.run_dirs())
                if all(
                    v is None or r[k] == v
                    for k, v in (("env", env), ("study", study), ("sweep", sweep))
                )
            ]
        out = []
        for r in rows:
            if r["status"] in (*ACTIVE, DAMAGED, None):
                run_dir = self.root / r["id"]
                fresh = self._row(run_dir)
                if self.index_problem is None and any(
                    fresh[k] != r[k]
                    for k in ("status", "message", "generation", "best_fitness")
                ):
                    with contextlib.suppress(Exception):
                        self.index.upsert(fresh)
                r = fresh
            r["run_id"] = r["id"]
            r["resumable"] = r["status"] in ("stopped", "failed", "finished")
            out.append(r)
        if status:
            out = [r for r in out if r["status"] == status]
        present = [r for r in out if r.get(sort) is not None]
        missing = [r for r in out if r.get(sort) is None]
        present.sort(key=lambda r: r[sort], reverse=desc)
        return present + missing

    # Delete and export ----------
    def delete(self, run: str | os.PathLike) -> None:
        """Remove a run (refused while a live process writes it)."""
        run_dir = self.resolve(run)
        st = self._status(run_dir)
        if st.get("alive"):
            raise RunError(
                f"run {run_dir.name} is {st['status']} in pid "
                f"{st.get('pid')}: stop it before deleting"
            )
        shutil.rmtree(run_dir)
        with contextlib.suppress(Exception):
            self.index.delete(run_dir.name)

    def export(
        self,
        run: str | os.PathLike,
        out_zip: str | os.PathLike,
        checkpoints: str = "last",
    ) -> Path:
        """Zip a run directory (checkpoints: last, all or none); returns the path."""
        if checkpoints not in ("last", "all", "none"):
            raise RunError(f"checkpoints={checkpoints!r}: use last, all or none")
        run_dir = self.resolve(run)
        out = Path(out_zip).expanduser()
        out.parent.mkdir(parents=True, exist_ok=True)
        ckpts = ckpt_lib.list_checkpoints(RunPaths(run_dir).checkpoints)
        keep = {
            p.name
            for _, p in (
                ckpts
                if checkpoints == "all"
                else ckpts[-1:]
                if checkpoints == "last"
                else []
            )
        }
        with (
            atomic_write(out) as f,
            zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z,
        ):
            for path in sorted(run_dir.rglob("*")):
                rel = path.relative_to(run_dir)
                if not path.is_file() or path.name == LOCK_NAME:
                    continue
                if path.name.endswith(".tmp"):
                    continue
                if rel.parts[0] == "checkpoints" and path.name not in keep:
                    continue
                z.write(path, f"{run_dir.name}/{rel.as_posix()}")
        return out
