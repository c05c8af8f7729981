"""Runner: one run of HaDES written into the run store, resumable and forkable.

`Runner.run` holds the run's lock, then loops over jitted chunks
(`Distiller.step_chunk`). Between chunks it reads its `Control` (pause, stop, live
lr/sigma/temperature), appends the chunk's metrics, writes a checkpoint, the mean
dataset and status.json, updates the index and calls `progress_fn`. A generation's
key is fold_in(run_key, g), so a run stopped at g and resumed from the checkpoint
at g gives the same dataset as one never stopped.

Distillers are shared per (config, observation statistics) inside a process, so a
resumed or re-opened run reuses the compiled chunk instead of compiling again.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import math
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine import multihost
from engine.atomic import atomic_write
from engine.memory_estimate import check_memory
from engine.runs import checkpoint as ckpt_lib
from engine.runs.control import (
    RUN,
    STOP,
    WAIT,
    Control,
    read_commands,
    sync_from_store,
)
from engine.runs.errors import RunError
from engine.runs.lock import STALE_MIN_SECONDS, RunLock, process_record
from engine.runs.store import (
    NO_SPACE,
    RunPaths,
    RunStore,
    append_lines,
    disk_full,
    estimate_bytes,
    jsonable,
    read_json,
    read_metrics_file,
    scan_metrics_file,
    write_json,
)

DEFAULT_SETTINGS: dict[str, Any] = {
    "checkpoint_every": 1,  # chunks between checkpoints
    "keep_last": 3,  # checkpoints always kept
    "keep_every": 10,  # also keep every this many-th checkpoint (0: none)
    "nan_patience": 3,  # whole population NaN this many generations: stop
    "index_interval": 2.0,  # seconds between index updates while running
    "fsync": False,  # fsync checkpoints (power-loss safety; kill -9 needs none)
    "stale_min": STALE_MIN_SECONDS,  # least heartbeat age of a stale lock (s)
    "heartbeat_interval": 2.0,  # seconds between heartbeats while paused
}

# Shared distillers ----------
_DISTILLERS: collections.OrderedDict[str, Any] = collections.OrderedDict()
_DISTILLERS_LOCK = threading.Lock()
_MAX_DISTILLERS = 8


def _stats_digest(obs_stats) -> str:
    if obs_stats is None or obs_stats[0] is None:
        return "none"
    h = hashlib.sha1()
    for a in obs_stats:
        h.update(np.ascontiguousarray(np.asarray(a, np.float32)).tobytes())
    return h.hexdigest()


def shared_distiller(cfg, obs_stats=None):
    """A `Distiller` for `cfg`, reused across runs of this process (its compiled
    chunks with it). `obs_stats` (mean, var) fixes constant normalisation."""
    from engine.outer import Distiller

    if obs_stats is not None and obs_stats[0] is None:
        obs_stats = None
    key = cfg.to_json() + "|" + _stats_digest(obs_stats)
    with _DISTILLERS_LOCK:
        d = _DISTILLERS.get(key)
        if d is not None:
            _DISTILLERS.move_to_end(key)
            return d
    d = Distiller(cfg, obs_stats=obs_stats)
    if obs_stats is None and d.obs_mean is not None:
        key2 = cfg.to_json() + "|" + _stats_digest((d.obs_mean, d.obs_var))
    else:
        key2 = key
    with _DISTILLERS_LOCK:
        d = _DISTILLERS.setdefault(key2, d)
        if key2 != key:
            _DISTILLERS.setdefault(key, d)
        while len(_DISTILLERS) > _MAX_DISTILLERS:
            _DISTILLERS.popitem(last=False)
    return d


def load_obs_stats(paths: RunPaths):
    """(mean, var) saved with a run, or None."""
    from engine.obs_stats import read_npz
    from engine.safe_files import UnsafeFileError

    if not paths.obs_stats.is_file():
        return None
    try:
        return read_npz(paths.obs_stats)
    except UnsafeFileError as e:
        raise RunError(f"{e} (delete it to re-estimate the statistics)") from None


def save_obs_stats(paths: RunPaths, mean, var) -> None:
    if mean is None:
        return
    with atomic_write(paths.obs_stats) as f:
        np.savez(f, mean=np.asarray(mean, np.float32), var=np.asarray(var, np.float32))


def _float(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


# The runner ----------
class Runner:
    """Runs (and resumes) one run directory; see the module docstring."""

    executor = "python"
    """Who executes the run, shown by the dashboard: cli, dashboard, worker..."""

    def __init__(self, store: RunStore, run_dir: str | os.PathLike):
        self.store = store
        self.run_dir = Path(run_dir)
        self.paths = RunPaths(self.run_dir)
        self.meta = store.read_config(self.run_dir)  # RunError: damaged
        from engine.config import HadesConfig

        self.cfg = HadesConfig.from_dict(self.meta["config"])
        self.settings = {**DEFAULT_SETTINGS, **(self.meta.get("runner") or {})}
        self.control: Control | None = None
        self.distiller = None
        self.latest: dict | None = None  # the last progress event
        self.temperature = (
            self.cfg.outer.temperature if self.cfg.outer.strategy == "SNES" else None
        )
        self._lock = RunLock(self.run_dir)

    @property
    def run_id(self) -> str:
        return self.run_dir.name

    def __repr__(self) -> str:
        return f"Runner({self.run_id!r}, {str(self.store.root)!r})"

    # Construction ----------
    @classmethod
    def create(
        cls,
        cfg,
        root=None,
        name: str = "",
        parent=None,
        labels: dict | None = None,
        **settings,
    ) -> Runner:
        """A new run (status queued). `settings` override DEFAULT_SETTINGS;
        `labels` tag it (study, sweep, slot: see `RunStore.create`).

        Raises `MemoryEstimateError`, before the run directory is made, when the
        config's memory estimate exceeds this device's memory."""
        unknown = set(settings) - set(DEFAULT_SETTINGS)
        if unknown:
            raise TypeError(
                f"unknown runner settings {sorted(unknown)}; known: "
                f"{sorted(DEFAULT_SETTINGS)}"
            )
        store = root if isinstance(root, RunStore) else RunStore(root)
        cls.check_launch(cfg, store, {**DEFAULT_SETTINGS, **settings})
        info = store.create(
            cfg,
            name=name,
            parent=parent,
            runner={**DEFAULT_SETTINGS, **settings},
            labels=labels,
            check=False,  # check_launch did
        )
        return cls(store, info.path)

    @staticmethod
    def check_launch(cfg, store: RunStore, settings: dict | None = None) -> None:
        """What refuses a run before anything is written or compiled: a runs
        root that is not writable or too full for it (RunError), a config whose
        memory estimate exceeds this device's (MemoryEstimateError). The CLI calls
        it before printing its time estimate."""
        s = {**DEFAULT_SETTINGS, **(settings or {})}
        store.check_writable(estimate_bytes(cfg, s["keep_last"], s["keep_every"]))
        check_memory(cfg)

    def check_start(self, restart: bool = False) -> None:
        """`check_launch` for this run, and (unless `restart`) the refusal of a
        start over that would delete its history: what `run` refuses, checked
        before anything is printed or written."""
        self.check_launch(self.cfg, self.store, self.settings)
        if not restart:
            self._refuse_history_loss()

    @classmethod
    def open(cls, run, root=None) -> Runner:
        """An existing run (to resume): id, id prefix, name or directory."""
        if isinstance(root, RunStore):
            store = root
        else:
            p = Path(os.fspath(run)).expanduser()
            if (
                root is None
                and (p / "config.json").is_file()
                and (os.sep in os.fspath(run) or p.is_absolute())
            ):
                store = RunStore(p.resolve().parent)
            else:
                store = RunStore(root)
        return cls(store, store.resolve(run))

    @classmethod
    def fork(
        cls,
        parent,
        overrides: dict,
        root=None,
        name: str = "",
        generation: int | None = None,
        **settings,
    ) -> Runner:
        """A new run from `parent`'s checkpoint with config `overrides`.

        Same ES state shapes (e.g. another population or network for OpenES): the
        child starts from the parent's full ES state at its generation; lr, sigma
        and temperature given in `overrides` are applied to it. Other shapes but the
        same dataset shape: only the ES mean is carried over. A parent without a
        readable checkpoint but with a dataset of that shape: the ES mean starts at
        its dataset, at the dataset's generation (inherit "dataset"). Otherwise the
        child starts from scratch at generation 0. config.json records the parent's
        id, generation, overrides and what was inherited.
        """
        parent_runner = cls.open(parent, root)
        store = parent_runner.store
        overrides = dict(overrides or {})
        cfg = parent_runner.cfg.with_overrides(overrides)
        pcfg = parent_runner.cfg
        ckpts = ckpt_lib.list_checkpoints(parent_runner.paths.checkpoints)
        if generation is not None:
            ckpts = [c for c in ckpts if c[0] == generation]
            if not ckpts:
                raise RunError(
                    f"run {parent_runner.run_id} has no checkpoint at "
                    f"generation {generation}"
                )
        flat, gen, src = None, 0, None
        for g, path in reversed(ckpts):
            try:  # the parent may prune it meanwhile: take the next one
                flat, gen, src = ckpt_lib.read(path), g, path
                break
            except RunError:
                continue
        same_space = (
            cfg.env.name == pcfg.env.name and cfg.env.normalize == pcfg.env.normalize
        )
        obs_stats = load_obs_stats(parent_runner.paths) if same_space else None
        inherit = "none"
        if flat is not None:
            from flax import serialization

            d = shared_distiller(cfg, obs_stats)
            state_t, _ = d.init()
            tmpl = serialization.to_state_dict(state_t)
            same_data = same_space and cfg.dataset == pcfg.dataset
            if (
                same_data
                and cfg.outer.strategy == pcfg.outer.strategy
                and ckpt_lib.compatible(tmpl, flat, "state")
            ):
                inherit = "state"
            elif (
                same_data
                and "mean" in tmpl
                and "state/mean" in flat
                and flat["state/mean"].shape == np.shape(tmpl["mean"])
            ):
                inherit = "mean"
        if flat is None and generation is None:
            gen, src = _dataset_start(parent_runner, cfg, same_space)
            inherit = "dataset" if src is not None else "none"
        start = gen if inherit != "none" else 0
        if cfg.outer.generations <= start:
            raise RunError(
                f"the fork starts at generation {start} of run "
                f"{parent_runner.run_id}; set outer.generations above {start} "
                f"(e.g. --set outer.generations={start + pcfg.outer.generations})"
            )
        record = {
            "run_id": parent_runner.run_id,
            "generation": gen if src else None,
            "name": parent_runner.meta.get("name", ""),
            "overrides": jsonable(overrides),
            "inherit": inherit,
        }
        runner_settings = {**parent_runner.settings, **settings}
        child = cls.create(
            cfg,
            root=store,
            name=name,
            parent=record,
            **{k: v for k, v in runner_settings.items() if k in DEFAULT_SETTINGS},
        )
        if inherit == "dataset":
            shutil.copyfile(src, child.paths.parent_dataset)
        elif inherit != "none":
            shutil.copyfile(src, child.paths.parent_checkpoint)
        if obs_stats is not None:
            save_obs_stats(child.paths, *obs_stats)
        return child

    # Running ----------
    def run(
        self,
        progress_fn: Callable[[dict], Any] | None = None,
        control: Control | None = None,
        generations: int | None = None,
        restart: bool = False,
        peers=None,
    ) -> dict:
        """Run (or resume) to `generations` (default: the run's target).

        A run with metrics rows or a dataset but no usable checkpoint is refused
        (RunError naming `hades fork` and `--restart`) unless `restart`: then it
        starts over on purpose, its rows and checkpoints deleted.
        `peers`: an `engine.runs.distributed.Leader` when this process leads a run
        over several processes (it tells them the start and every decision).

        Returns a summary dict: run_dir, run_id, generations, total_generations,
        best_fitness, mean_dataset_return, seconds, status, message, dataset,
        compile_seconds, nan_total, stale_lock. Raises RunError, before writing
        anything, when the root is unwritable or (nearly) full, or when another
        live process (or thread) writes the run; `MemoryEstimateError` when the
        config's memory estimate exceeds the device's. A full disk during the run
        ends it with status failed ("no space left on device"). An exception
        inside the run marks it failed (with the message) and is re-raised;
        Ctrl-C marks it stopped.
        A run whose whole population has NaN/inf fitness for `nan_patience`
        consecutive generations ends with status failed (no exception).
        """
        self.control = control if control is not None else Control()
        self._peers = peers
        # Launch check (a resume too: this device may have less memory or disk)
        self.check_launch(self.cfg, self.store, self.settings)
        if not self._lock.held:
            self._lock.acquire()
        try:
            self._restart = bool(restart)
            if not restart:
                self._refuse_history_loss()
            return self._run(progress_fn, self.control, generations)
        finally:
            self._lock.release()

    def _refuse_history_loss(self) -> None:
        """RunError when starting would delete metrics rows or the dataset because
        no checkpoint of the run can be read (a restart must be asked for)."""
        for _, path in reversed(ckpt_lib.list_checkpoints(self.paths.checkpoints)):
            try:
                ckpt_lib.read(path)
                return  # resumable (a shape mismatch later fails loudly)
            except RunError:
                continue
        start = self._parent_start()
        rows, _ = scan_metrics_file(self.paths.metrics)
        lost = [
            r["generation"]
            for r in rows
            if "event" not in r and r.get("generation", 0) > start
        ]
        dataset = self.paths.dataset.is_file() and (start == 0 or lost)
        if not lost and not dataset:
            return
        what = []
        if lost:
            what.append(
                f"{len(lost)} metrics rows (generations {min(lost)}-{max(lost)})"
            )
        if dataset:
            what.append("a dataset")
        raise RunError(
            f"run {self.run_id} has {' and '.join(what)} but no usable checkpoint: "
            f"resuming would start again from generation {start} and delete "
            f"them. Continue from its dataset in a new run with `hades fork "
            f"{self.run_id}`, or start this run over on purpose with `hades resume "
            f"{self.run_id} --restart`"
        )

    def _parent_start(self) -> int:
        """The generation a run without checkpoints starts from (its fork point)."""
        parent = self.meta.get("parent") or {}
        inherit = parent.get("inherit", "none") if isinstance(parent, dict) else "none"
        if inherit in ("state", "mean") and self.paths.parent_checkpoint.is_file():
            return int(ckpt_lib.read(self.paths.parent_checkpoint)["generation"])
        if inherit == "dataset" and self.paths.parent_dataset.is_file():
            return int(parent.get("generation") or 0)
        return 0

    def final_state(self):
        """(distiller, es_state, generation) of the run's last checkpoint: what a
        finished run ended with (a study reads its distillations this way)."""
        d = self.distiller = self._distiller()
        state_t, params_t = d.init()
        for g, path in reversed(ckpt_lib.list_checkpoints(self.paths.checkpoints)):
            try:
                state, _, gen = ckpt_lib.restore(ckpt_lib.read(path), state_t, params_t)
            except RunError:
                continue
            return d, state, gen
        raise RunError(f"run {self.run_id} has no readable checkpoint")

    # Reservation (a queue holds the run before it starts) ------------------------
    def reserve(self) -> None:
        """Take the run's lock now and mark it queued (`run` then keeps the lock)."""
        self._lock.acquire()
        try:
            st = read_json(self.paths.status) or {}
            st.update(
                process_record(), status="queued", message="", updated=time.time()
            )
            self.store.write_status(self.run_dir, st)
            self.store.update_index(self.run_dir, st)
        except BaseException:
            self._lock.release()
            raise

    def cancel(self, message: str = "cancelled before it started") -> None:
        """Mark a reserved, never started run stopped and release it."""
        if not self._lock.held:
            return
        try:
            st = read_json(self.paths.status) or {}
            st.update(status="stopped", message=message, updated=time.time())
            self.store.write_status(self.run_dir, st)
            self.store.update_index(self.run_dir, st)
        finally:
            self._lock.release()

    # Status helpers ----------
    def _write_status(
        self, status: str | None = None, force_index: bool = False, **fields
    ) -> None:
        st = self.status
        changed = status is not None and status != st.get("status")
        if status is not None:
            st["status"] = status
        st.update(fields)
        st.update(self._heartbeat())
        st["updated"] = st["heartbeat"]
        self.store.write_status(self.run_dir, st)
        now = time.monotonic()
        if (
            changed
            or force_index
            or now - self._index_t >= self.settings["index_interval"]
        ):
            self._index_t = now
            self.store.update_index(self.run_dir, st)

    def _event(self, kind: str, **row) -> None:
        append_lines(self.paths.metrics, [{"event": kind, "time": time.time(), **row}])

    def _emit(self, progress_fn, kind: str, **fields) -> None:
        st = self.status
        ev = {
            "kind": kind,
            "run_id": self.run_id,
            "status": st["status"],
            "message": st.get("message", ""),
            "generation": st.get("generation", 0),
            "total_generations": st.get("total_generations"),
            "metrics": [],
            "mean_dataset_return": None,
            "best_fitness": st.get("best_fitness"),
            "seconds_per_generation": st.get("seconds_per_generation"),
            "eta_seconds": st.get("eta_seconds"),
            "compile_seconds": None,
            "compiled": False,
            "lr": st.get("lr"),
            "sigma": st.get("sigma"),
            "temperature": st.get("temperature"),
            **fields,
        }
        self.latest = ev
        if progress_fn is not None:
            progress_fn(ev)

    # State ----------
    def _distiller(self):
        stats = load_obs_stats(self.paths)
        d = shared_distiller(self.cfg, stats)
        if stats is None and d.obs_mean is not None:
            save_obs_stats(self.paths, d.obs_mean, d.obs_var)
        return d

    def _initial_state(self, d):
        """(es_state, es_params, generation, origin) to start from."""
        state_t, params_t = d.init()
        ckpts = ckpt_lib.list_checkpoints(self.paths.checkpoints)
        if self._restart:  # asked for: the run's own checkpoints go
            for _, path in ckpts:
                path.unlink(missing_ok=True)
            ckpts = []
        run_key = np.asarray(d.run_key, np.uint32)
        for g, path in reversed(ckpts):
            try:
                flat = ckpt_lib.read(path)
            except RunError:
                continue  # unreadable (should not happen: writes are atomic)
            if "run_key" in flat and not np.array_equal(flat["run_key"], run_key):
                raise RunError(
                    f"checkpoint {path.name} was written with another run "
                    "key (seed); it does not belong to this run"
                )
            state, params, gen = ckpt_lib.restore(flat, state_t, params_t)
            if params is None:
                params = d.strategy.default_params(
                    temperature=ckpt_lib.meta(flat).get("temperature")
                )
            if ckpt_lib.meta(flat).get("temperature") is not None:
                self.temperature = ckpt_lib.meta(flat)["temperature"]
            assert gen == g
            return state, params, gen, "checkpoint"
        parent = self.meta.get("parent") or {}
        inherit = parent.get("inherit", "none") if isinstance(parent, dict) else "none"
        if inherit in ("state", "mean") and self.paths.parent_checkpoint.is_file():
            flat = ckpt_lib.read(self.paths.parent_checkpoint)
            pmeta = ckpt_lib.meta(flat)
            gen = int(flat["generation"])
            overrides = parent.get("overrides") or {}
            if (
                pmeta.get("temperature") is not None
                and self.temperature is not None
                and "outer.temperature" not in overrides
            ):
                self.temperature = pmeta["temperature"]
            if inherit == "state":
                state, params, _ = ckpt_lib.restore(flat, state_t, params_t)
                if params is None or "outer.temperature" in overrides:
                    params = d.strategy.default_params(temperature=self.temperature)
                state = _child_hyperparams(state, state_t)
                if "outer.lr" in overrides and d.strategy.has_lr:
                    state = d.strategy.set_lr(state, self.cfg.outer.lr)
                if "outer.sigma" in overrides and hasattr(state, "std"):
                    state = d.strategy.set_sigma(state, self.cfg.outer.sigma)
            else:
                import jax
                import jax.numpy as jnp
                from jax.flatten_util import ravel_pytree

                _, unravel = ravel_pytree(d.problem.template)
                mean = unravel(jnp.asarray(flat["state/mean"]))
                params = d.strategy.default_params(temperature=self.temperature)
                state = d.strategy.init(
                    d.init_key, jax.tree.map(jnp.asarray, mean), params
                )
            return state, params, gen, "parent"
        if inherit == "dataset" and self.paths.parent_dataset.is_file():
            import jax
            import jax.numpy as jnp

            from engine import dataset as ds_lib

            mean = ds_lib.load(self.paths.parent_dataset).to_solution()
            params = d.strategy.default_params(temperature=self.temperature)
            state = d.strategy.init(d.init_key, jax.tree.map(jnp.asarray, mean), params)
            return state, params, self._parent_start(), "parent"
        return state_t, params_t, 0, "scratch"

    def _clean_temp_files(self) -> None:
        """Remove temp files a killed writer left behind (we hold the lock)."""
        for d in (self.run_dir, self.paths.checkpoints):
            with contextlib.suppress(OSError):
                for p in d.iterdir():
                    if p.name.endswith(".tmp") and p.is_file():
                        p.unlink(missing_ok=True)

    def _drop_rows_after(self, gen: int) -> int:
        """Drop metrics rows past generation `gen` and a torn tail; returns count."""
        path = self.paths.metrics
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return 0
        rows = read_metrics_file(path)
        keep = [r for r in rows if int(r.get("generation") or 0) <= gen]
        torn = bool(data) and not data.endswith(b"\n")
        if len(keep) == len(rows) and not torn:
            return 0
        with atomic_write(path) as f:
            f.writelines(json.dumps(r).encode() + b"\n" for r in keep)
        return len(rows) - len(keep)

    def _checkpoint(self, d, es_state, es_params, gen: int) -> None:
        if gen == self._ckpt_gen:
            return
        meta = {
            "run_id": self.run_id,
            "time": time.time(),
            "lr": self.status.get("lr"),
            "sigma": self.status.get("sigma"),
            "temperature": self.temperature,
        }
        self._save_dataset(
            d, es_state, gen, self.paths.checkpoints / ckpt_lib.dataset_name(gen)
        )
        ckpt_lib.save(
            self.paths.checkpoints / ckpt_lib.checkpoint_name(gen),
            es_state,
            es_params,
            gen,
            d.run_key,
            meta=jsonable(meta),
            fsync=self.settings["fsync"],
        )
        s = self.settings
        every = s["keep_every"] * s["checkpoint_every"] * self.cfg.outer.chunk
        ckpt_lib.prune(self.paths.checkpoints, s["keep_last"], every)
        self._ckpt_gen = gen
        self.status["checkpoint_generation"] = gen

    def _save_dataset(self, d, es_state, gen: int, path) -> None:
        from engine import dataset as ds_lib

        ds = d.mean_dataset(
            es_state,
            run_id=self.run_id,
            generation=gen,
            mean_dataset_return=self.status.get("mean_dataset_return"),
        )
        ds_lib.save(ds, path)

    def _write_dataset(self, d, es_state, gen: int) -> None:
        self._save_dataset(d, es_state, gen, self.paths.dataset)
        self._dataset_gen = gen

    def _apply_changes(self, d, es_state, es_params, changes: dict, gen: int):
        applied, rejected, previous = {}, {}, {}
        strategy = d.strategy
        # This process's copy (a distributed run's state is a global array; the
        # next chunk places the changed copy again).
        es_state, es_params = multihost.local((es_state, es_params))
        for k, v in changes.items():
            try:
                if k == "lr":
                    previous[k] = _float(strategy.lr(es_state))
                elif k == "sigma":
                    previous[k] = _float(strategy.sigma(es_state))
                es_state, es_params = strategy.set_knob(es_state, es_params, k, v)
                if k == "temperature":
                    previous[k] = self.temperature
                    self.temperature = v
                applied[k] = v
            except ValueError as e:
                rejected[k] = str(e)
        row = {"generation": gen, **applied, "previous": previous}
        if rejected:
            row["rejected"] = rejected
        self._event("control", **row)
        if "lr" in applied:
            self.status["lr"] = applied["lr"]
        if "sigma" in applied:
            self.status["sigma"] = applied["sigma"]
        self.status["temperature"] = self.temperature
        ack = self.status.setdefault("control", {})
        ack.update(applied=applied, rejected=rejected, applied_generation=gen)
        self._write_status()
        return es_state, es_params, applied, rejected

    # The loop ----------
    def _run(self, progress_fn, control: Control, generations: int | None) -> dict:
        t_start = time.time()
        self._index_t = -math.inf
        self._ckpt_gen = None
        self._dataset_gen = None
        self._state = None
        self.temperature = (
            self.cfg.outer.temperature if self.cfg.outer.strategy == "SNES" else None
        )
        old = read_json(self.paths.status) or {}
        # Commands sent before this start (a stop that ended the last session)
        # are history: only newer ones apply.
        self._control_seq = int(read_commands(self.run_dir).get("seq") or 0)
        self.status = {
            **old,
            **process_record(),
            "executor": self.executor,
            "control": {"seq": self._control_seq, "paused": False, "stopped": False},
            "run_id": self.run_id,
            "message": "",
            "started": time.time(),
            "finished": None,
            "compile_seconds": 0.0,
        }
        self.status.setdefault("created", self.meta.get("created"))
        stale = self._lock.stale
        total = int(
            generations or old.get("total_generations") or self.cfg.outer.generations
        )
        if total <= 0:
            raise RunError(f"generations={total} must be positive")
        self.status["total_generations"] = total
        d = es_state = es_params = None
        gen = 0
        try:
            self._write_status("running", message="starting")
            self._clean_temp_files()
            d = self.distiller = self._distiller()
            es_state, es_params, gen, origin = self._initial_state(d)
            if self._peers is not None:
                es_state, es_params = self._peers.start(
                    self.run_id, d, es_state, es_params, gen, total
                )
                self.status["distributed"] = dict(self._peers.info)
            if gen == 0 or origin != "checkpoint":
                self._ckpt_gen = None
            else:
                self._ckpt_gen = gen
            dropped = self._drop_rows_after(gen)
            start_row = {
                "generation": gen,
                "from": origin,
                "total_generations": total,
                "pid": os.getpid(),
            }
            if dropped:
                start_row["dropped_rows"] = dropped
            if self._restart:
                start_row["restart"] = True
            if stale:
                start_row["stale_lock"] = {k: stale.get(k) for k in ("pid", "host")}
            self._event(
                "start" if origin == "scratch" and gen == 0 else "resume", **start_row
            )
            self.status.update(
                generation=gen,
                lr=_float(d.strategy.lr(es_state)),
                sigma=_float(d.strategy.sigma(es_state)),
                temperature=self.temperature,
            )
            return self._loop(
                d, es_state, es_params, gen, total, control, progress_fn, t_start, stale
            )
        except (KeyboardInterrupt, SystemExit):
            gen = self.status.get("generation", 0)
            with contextlib.suppress(Exception):
                if self._state is not None:
                    self._checkpoint(d, *self._state)
            with contextlib.suppress(Exception):
                self._event("stop", generation=gen, reason="interrupted")
            self._write_status(
                "stopped", force_index=True, message="interrupted", finished=time.time()
            )
            raise
        except BaseException as e:
            msg = (
                self._no_space_message(e)
                if disk_full(e)
                else f"{type(e).__name__}: {e}"
            )
            if isinstance(e, multihost.PeerLostError):
                msg += (
                    f"; resume from the last checkpoint with: hades resume "
                    f"{self.run_id} --distributed"
                )
            gen = self.status.get("generation", 0)
            with contextlib.suppress(Exception):
                if self._state is not None:
                    self._checkpoint(d, *self._state)
            with contextlib.suppress(Exception):
                self._event("fail", generation=gen, message=msg)
            with contextlib.suppress(Exception):
                self._write_status(
                    "failed", force_index=True, message=msg, finished=time.time()
                )
            with contextlib.suppress(Exception):
                self._emit(progress_fn, "status")
            raise

    _state: tuple | None = None
    _restart = False
    _peers = None

    def _tell(self, kind: int, knobs: dict | None = None) -> bool:
        """The decision before a chunk, to the other processes of a distributed run.
        True when one of them was interrupted: then every process stops here, and
        the run's end says which."""
        if self._peers is None:
            return False
        asked = self._peers.decide(kind, knobs)
        if asked and kind != STOP:
            names = ", ".join(str(i) for i in asked)
            self._end = ("stopped", f"interrupted (process {names})")
        return bool(asked)

    # Between chunks ----------
    def _sync_control(self, control: Control) -> None:
        """Apply commands written to the store (`hades control`, another
        dashboard) since the last chunk; acknowledge them in status.json."""
        seq, rec = sync_from_store(self.run_dir, control, self._control_seq)
        if rec:
            self._control_seq = seq
            self.status["control"] = {
                "seq": seq,
                "command": rec.get("command"),
                "paused": control.paused,
                "stopped": control.stopped,
                "sender": rec.get("sender"),
                "acknowledged": time.time(),
            }
            self._write_status()

    def _heartbeat(self) -> dict:
        return {"heartbeat": time.time(), "stale_min": self.settings["stale_min"]}

    def _stop_on_full_disk(self, hook, stop_result):
        """`hook` that turns a full disk into the end of the run (status failed,
        "no space left on device") instead of an exception: the driver stops at
        this chunk boundary and the checkpoints written so far stay as they are."""

        def guarded(*args):
            try:
                return hook(*args)
            except OSError as e:
                if not disk_full(e):
                    raise
                self._disk_full = e
                self._end = ("failed", self._no_space_message(e))
                return stop_result(*args)

        return guarded

    def _no_space_message(self, e: OSError) -> str:
        where = f" (writing {Path(e.filename).name})" if e.filename else ""
        kept = self._ckpt_gen if self._ckpt_gen is not None else "none"
        return (
            f"{NO_SPACE}{where}: the run stopped; checkpoints up to generation "
            f"{kept} are kept. Free space, then `hades resume {self.run_id}`"
        )

    def _before_chunk(self, control: Control, progress_fn):
        """The driver's `control` hook: store commands, pause, stop, live knobs."""
        return self._stop_on_full_disk(
            self._control_hook(control, progress_fn), lambda s, p, g: (s, p, True)
        )

    def _control_hook(self, control: Control, progress_fn):
        def hook(es_state, es_params, gen):
            self._sync_control(control)
            if self._end is not None or control.stopped:
                self._end = self._end or ("stopped", control.reason)
                self._tell(STOP)
                return es_state, es_params, True
            if control.paused:
                self._event("pause", generation=gen)
                self._write_status("paused", eta_seconds=None)
                self._emit(progress_fn, "status")
                wait = float(self.settings["heartbeat_interval"])
                while control.paused and not control.stopped:
                    control.wait_while_paused(timeout=min(wait, 0.5))
                    self._sync_control(control)
                    # The other processes wait in short rounds (no collective
                    # stays open for the whole pause) and see a death at once.
                    if self._tell(WAIT):
                        return es_state, es_params, True
                    if time.time() - self.status.get("heartbeat", 0) >= wait:
                        self._write_status(force_index=False)
                if control.stopped:
                    self._end = ("stopped", control.reason)
                    self._tell(STOP)
                    return es_state, es_params, True
                self._event("unpause", generation=gen)
            changes = control.take_pending()
            applied = {}
            if changes:
                es_state, es_params, applied, _ = self._apply_changes(
                    self.distiller, es_state, es_params, changes, gen
                )
                self._state = (es_state, es_params, gen)
            if self._tell(RUN, applied):
                return es_state, es_params, True
            length = min(self.cfg.outer.chunk, self._total - gen)
            compiling = length not in self.distiller.compiled_lengths
            want = "compiling" if compiling else "running"
            if want != self.status.get("status") or self.status.get("message"):
                self._write_status(want, message="")
            if self._chunks == 0:
                self._emit(progress_fn, "status", stale_lock=self._stale)
            self._t_chunk = time.perf_counter()
            return es_state, es_params, False

        return hook

    def _after_chunk(self, progress_fn):
        """The driver's `progress_fn`: metrics, NaN policy, checkpoint, dataset,
        status (with heartbeat and ETA) and the progress event."""
        return self._stop_on_full_disk(self._progress_hook(progress_fn), lambda r: None)

    def _progress_hook(self, progress_fn):
        d = self.distiller
        cfg = self.cfg
        population = cfg.outer.population
        patience = int(self.settings["nan_patience"])

        def hook(res):
            gen = res.generation
            es_state, es_params = res.es_state, res.es_params
            length = len(res.metrics)
            wall = time.perf_counter() - self._t_chunk
            self._chunks += 1
            spg = wall / length
            compile_s = None
            if res.compiled:
                compile_s = max(0.0, wall - (self._spg_est or 0.0) * length)
                self.status["compile_seconds"] = (
                    self.status.get("compile_seconds") or 0.0
                ) + compile_s
            now = time.time()
            rows = []
            for r in res.metrics:
                r = dict(r)
                r["seconds_per_generation"] = spg
                r["time"] = now
                r["compiled"] = res.compiled
                rows.append(jsonable(r))
            if res.evaluation is not None:
                rows[-1]["mean_dataset_return"] = _float(res.evaluation)
                self.status["mean_dataset_return"] = _float(res.evaluation)
                self.status["mean_dataset_generation"] = gen
            append_lines(self.paths.metrics, rows)
            self._state = (es_state, es_params, gen)
            # NaN containment
            chunk_nans = 0
            for r in rows:
                nc = int(r.get("nan_count") or 0)
                chunk_nans += nc
                self._nan_run = self._nan_run + 1 if nc >= population else 0
            self.status["nan_total"] = (self.status.get("nan_total") or 0) + chunk_nans
            last = rows[-1]
            self.status.update(
                generation=gen,
                best_fitness=last.get("best_fitness"),
                fitness_mean=last.get("fitness_mean"),
                fitness_max=last.get("fitness_max"),
                lr=last.get("lr"),
                sigma=last.get("sigma"),
                temperature=self.temperature,
                chunk_seconds=wall,
            )
            if self._chunks % int(self.settings["checkpoint_every"]) == 0:
                self._checkpoint(d, es_state, es_params, gen)
            self._write_dataset(d, es_state, gen)
            t_after = time.perf_counter()
            if not res.compiled:  # s/gen and ETA from chunks that did not compile
                step = (t_after - self._t_chunk) / length
                est = self._spg_est
                self._spg_est = step if est is None else 0.7 * est + 0.3 * step
            eta = None if self._spg_est is None else (self._total - gen) * self._spg_est
            self._write_status(
                "running", eta_seconds=eta, seconds_per_generation=self._spg_est
            )
            self._emit(
                progress_fn,
                "chunk",
                metrics=rows,
                mean_dataset_return=_float(res.evaluation),
                compile_seconds=compile_s,
                compiled=res.compiled,
                chunk_seconds=wall,
                nan_count=chunk_nans,
            )
            if patience > 0 and self._nan_run >= patience:
                self._end = (
                    "failed",
                    f"fitness was NaN or inf for the whole population ({population} "
                    f"members) for {self._nan_run} consecutive generations (up to "
                    f"generation {gen}): the run diverged. Fork or resume from an "
                    "earlier checkpoint with a smaller outer.lr, outer.sigma or "
                    "inner.lr.",
                )

        return hook

    # The loop ----------
    def _loop(
        self, d, es_state, es_params, gen, total, control, progress_fn, t_start, stale
    ) -> dict:
        self._total = total
        self._stale = stale
        self._chunks = 0
        self._nan_run = 0
        self._spg_est = None
        self._end: tuple[str, str] | None = None
        self._disk_full: OSError | None = None
        self._t_chunk = time.perf_counter()
        self._state = (es_state, es_params, gen)
        es_state, es_params, gen = d.run(
            es_state,
            es_params,
            gen,
            total,
            progress_fn=self._after_chunk(progress_fn),
            control=self._before_chunk(control, progress_fn),
        )
        end_status, message = self._end or ("finished", "")
        # The end: checkpoint, dataset, status (on a full disk the status only)
        full = self._disk_full is not None
        if not full:
            self._checkpoint(d, es_state, es_params, gen)
            if self._dataset_gen != gen or not self.paths.dataset.is_file():
                self._write_dataset(d, es_state, gen)
        if self._peers is not None:
            digests = self._peers.finish(es_state)
            agree = len(set(digests)) == 1
            self.status["distributed"].update(state_digests=digests, agree=agree)
            if not agree:
                end_status, message = (
                    "failed",
                    f"the processes' copies of the ES state differ at generation "
                    f"{gen} (digests {', '.join(x[:8] for x in digests)}): a bug; "
                    "the leader's copy was saved",
                )
        self.status["generation"] = gen
        kind = {"finished": "finish", "stopped": "stop", "failed": "fail"}[end_status]
        row = {"generation": gen}
        if message:
            row["message"] = message
        with contextlib.suppress(OSError) if full else contextlib.nullcontext():
            self._event(kind, **row)
        self._write_status(
            end_status,
            force_index=True,
            message=message,
            finished=time.time(),
            eta_seconds=None,
        )
        self._emit(progress_fn, "status")
        return {
            "run_dir": str(self.run_dir),
            "run_id": self.run_id,
            "generations": gen,
            "total_generations": total,
            "best_fitness": self.status.get("best_fitness"),
            "mean_dataset_return": self.status.get("mean_dataset_return"),
            "seconds": time.time() - t_start,
            "status": end_status,
            "message": message,
            "dataset": str(self.paths.dataset)
            if self.paths.dataset.is_file()
            else None,
            "compile_seconds": self.status.get("compile_seconds"),
            "nan_total": self.status.get("nan_total", 0),
            "stale_lock": stale,
        }


def _dataset_start(parent: Runner, cfg, same_space: bool):
    """(generation, path) of the parent's dataset when a fork of config `cfg` can
    start its ES mean there, else (0, None)."""
    from engine import dataset as ds_lib

    path = parent.paths.dataset
    if not (same_space and cfg.dataset == parent.cfg.dataset and path.is_file()):
        return 0, None
    try:
        ds = ds_lib.load(path)
    except ds_lib.DatasetError:
        return 0, None
    return int(ds.meta.get("generation") or 0), path


def _child_hyperparams(state, template):
    """Optimizer hyperparameters (b1, b2, eps...) of the child's config, the live
    learning rate of the parent (a fork that overrides outer.adam_b1 gets it)."""
    hp = getattr(getattr(state, "opt_state", None), "hyperparams", None)
    hp_t = getattr(getattr(template, "opt_state", None), "hyperparams", None)
    if hp is None or hp_t is None:
        return state
    new = {k: (v if k == "learning_rate" else hp_t.get(k, v)) for k, v in hp.items()}
    return state.replace(opt_state=state.opt_state._replace(hyperparams=new))


def write_config_file(cfg, path: str | os.PathLike) -> None:
    """Write a config as JSON (for `python -m engine.runs.worker`)."""
    write_json(Path(path), cfg.to_dict())
