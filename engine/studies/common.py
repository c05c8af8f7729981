"""What every study shares: its directory in the run store, CSV and figure files,
progress events and a chunked evolution-strategy loop.

A study is a run kind. Its directory lives under the runs root, beside the HaDES
runs, in ``<root>/studies/<study>-<YYYYmmdd-HHMMSS>-<6 hex>/``::

    config.json     format "hades-study", kind "study", the study name, its
                    parameters, package versions, devices, host
    status.json     running / finished / failed (with the writer's pid: a study whose
                    writer died reads as failed, "process died")
    results.json    the headline numbers and the paths below (what `run_*` returns)
    <study>.csv     the numbers behind the plots, one row per measurement
    figures/        <name>.json (a plotly figure spec, `engine.figures`) and
                    <name>.png
    datasets/       datasets distilled inside the study (`engine.dataset` .npz)

Studies sit in their own sub-folder so that `RunStore.list` (HaDES runs with a
dataset and checkpoints) is unchanged; `list_studies(root)` lists them.

Figures are built by `engine.figures` (plain plotly specs, no plotly import) and
saved with `save_figure`: the spec as JSON and a PNG drawn with matplotlib.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import math
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine.atomic import atomic_write
from engine.figures import save_figure  # noqa: F401 - the studies' `common.save_figure`
from engine.runs.ids import new_run_dir
from engine.runs.lock import holder_alive, process_record
from engine.runs.store import (
    default_root,
    device_info,
    jsonable,
    package_versions,
    read_json,
    write_json,
)

FORMAT = "hades-study"
FORMAT_VERSION = 1
STUDIES_DIR = "studies"
ProgressFn = Callable[[dict], Any]


from engine.studies.params import StudyError  # noqa: E402,F401 (one definition)


# Progress ----------
def report(
    progress_fn: ProgressFn | None,
    study: str,
    stage: str,
    done: int = 0,
    total: int = 0,
    **extra,
) -> None:
    """Send one progress event: {study, stage, done, total, time, ...extra}."""
    if progress_fn is None:
        return
    progress_fn(
        {
            "study": study,
            "stage": stage,
            "done": done,
            "total": total,
            "time": time.time(),
            **extra,
        }
    )


# Who executes the studies' runs ----------
_EXECUTOR: contextvars.ContextVar[Callable[[list[str]], Any] | None] = (
    contextvars.ContextVar("hades_study_executor", default=None)
)


@contextlib.contextmanager
def runs_executed_by(executor: Callable[[list[str]], Any] | None):
    """Inside the block, studies hand their runs to `executor` (a callable taking
    run ids of the study's runs root, e.g. `engine.sweeps.execute.Executor` on
    Ray) instead of running them one after another in this process."""
    token = _EXECUTOR.set(executor)
    try:
        yield
    finally:
        _EXECUTOR.reset(token)


# The study directory ----------
def studies_root(runs_root: str | os.PathLike | None = None) -> Path:
    root = Path(runs_root).expanduser() if runs_root is not None else default_root()
    return root / STUDIES_DIR


class StudyDir:
    """One study's directory: created at start, finished or failed at the end.

    Use as a context manager: an exception marks the study failed (and re-raises).
    """

    def __init__(
        self,
        study: str,
        params: dict,
        runs_root=None,
        name: str = "",
        study_id: str | None = None,
    ):
        self.study = study
        self.runs_root = runs_root
        self.started = time.time()
        if study_id is not None:  # resume: the same directory, the same runs
            self._reopen(study_id, params)
            return
        sid, path = new_run_dir(studies_root(runs_root), prefix=study)
        self.study_id = sid
        self.path = path
        self.figures = path / "figures"
        self.figures.mkdir()
        write_json(
            path / "config.json",
            {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "kind": "study",
                "study": study,
                "study_id": sid,
                "name": name,
                "params": params,
                "created": self.started,
                "created_iso": time.strftime(
                    "%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started)
                ),
                "versions": package_versions(),
                "devices": device_info(),
                "host": socket.gethostname(),
            },
        )
        self.status("running")

    def _reopen(self, study_id: str, params: dict) -> None:
        path = studies_root(self.runs_root) / study_id
        cfg = read_json(path / "config.json")
        if not cfg or cfg.get("format") != FORMAT or cfg.get("study") != self.study:
            raise StudyError(
                f"no {self.study} study {study_id!r} under "
                f"{studies_root(self.runs_root)}"
            )
        if jsonable(cfg.get("params")) != jsonable(params):
            raise StudyError(
                f"study {study_id} was started with other parameters; resume it "
                "with `hades study resume` (it reads them from the study)"
            )
        st = read_study_status(path)
        if st.get("status") == "running":
            raise StudyError(
                f"study {study_id} is running in pid {st.get('pid')} on "
                f"{st.get('host')}: one process at a time"
            )
        self.study_id, self.path = study_id, path
        self.figures = path / "figures"
        self.figures.mkdir(exist_ok=True)
        self.started = float(cfg.get("created") or self.started)
        self.status("running", message="resumed")

    # The study's distillations: runs in the store ----------
    def _runner(self, store, cfg, label: str):
        """The study's run of slot `label` (checked against `cfg`), or a new one."""
        from engine.runs import Runner

        for row in store.list(study=self.study_id):
            meta = store.read_config(row["run_id"])
            if (meta.get("labels") or {}).get("slot") == label:
                if meta.get("config") != cfg.to_dict():
                    raise StudyError(
                        f"run {row['run_id']} of study {self.study_id} ({label}) "
                        "has another config than this study computes now"
                    )
                return Runner.open(row["run_id"], root=store)
        return Runner.create(
            cfg,
            root=store,
            name=f"{self.study} {label}".strip(),
            labels={"study": self.study_id, "slot": label},
        )

    def prepare(self, configs: dict, progress_fn: ProgressFn | None = None) -> None:
        """Create the study's runs ({label: cfg}) up front and, inside
        `runs_executed_by(executor)`, execute them all now (finished runs are not
        redone), so that `distil` then only reads them. Without an executor the
        runs execute one by one in `distil`, as before."""
        executor = _EXECUTOR.get()
        if executor is None:
            return
        from engine.runs import RunStore

        store = RunStore(self.runs_root)
        ids = [self._runner(store, cfg, label).run_id for label, cfg in configs.items()]
        todo = [i for i in ids if store.read_status(i).get("status") != "finished"]
        report(progress_fn, self.study, "execute runs", 0, len(todo), run_ids=todo)
        if todo:
            executor(todo)

    def distil(self, cfg, progress_fn: ProgressFn | None = None, label: str = ""):
        """Distil `cfg` as a run of the store tagged with this study (``slot`` =
        `label`), or take the study's run of that slot: a finished one is not
        redone, an interrupted one resumes from its checkpoint. Inside
        `runs_executed_by(executor)` the executor runs it (e.g. on Ray).

        Returns (distiller, es_state, rows, evals, run_id) of the finished run:
        `rows` one dict per generation, `evals` (generation, mean-dataset return)
        pairs.
        """
        from engine.runs import RunStore

        store = RunStore(self.runs_root)
        runner = self._runner(store, cfg, label)
        total = cfg.outer.generations
        stage = f"distil {label}".strip()

        def on_event(ev: dict) -> None:
            if ev.get("kind") == "chunk":
                report(
                    progress_fn,
                    self.study,
                    stage,
                    ev["generation"],
                    total,
                    mean_dataset_return=ev.get("mean_dataset_return"),
                    run_id=runner.run_id,
                )

        status = store.read_status(runner.run_id)
        executor = _EXECUTOR.get()
        if status.get("status") != "finished" and executor is not None:
            executor([runner.run_id])
            status = store.read_status(runner.run_id)
            if status.get("status") != "finished":
                raise StudyError(
                    f"run {runner.run_id} ({label}) ended {status.get('status')}: "
                    f"{status.get('message') or 'see hades runs show'}"
                )
        if status.get("status") != "finished":
            summary = runner.run(progress_fn=on_event)
            if summary["status"] != "finished":
                raise StudyError(
                    f"run {runner.run_id} ({label}) ended {summary['status']}: "
                    f"{summary.get('message') or 'see hades runs show'}"
                )
        else:
            report(progress_fn, self.study, stage, total, total, run_id=runner.run_id)
        d, es_state, _ = runner.final_state()
        metrics = store.read_metrics(runner.run_id)
        rows = [r for r in metrics if "event" not in r]
        evals = [
            (int(r["generation"]), float(r["mean_dataset_return"]))
            for r in rows
            if r.get("mean_dataset_return") is not None
        ]
        return d, es_state, rows, evals, runner.run_id

    def status(self, status: str, message: str = "", **extra) -> None:
        write_json(
            self.path / "status.json",
            {
                "study_id": self.study_id,
                "study": self.study,
                "status": status,
                "message": message,
                "created": self.started,
                "updated": time.time(),
                **process_record(),
                **extra,
            },
        )

    def file(self, name: str) -> Path:
        return self.path / name

    def datasets_dir(self) -> Path:
        d = self.path / "datasets"
        d.mkdir(exist_ok=True)
        return d

    def finish(self, results: dict) -> dict:
        """Write results.json and status finished; returns the results (with paths)."""
        results = {
            "study": self.study,
            "study_id": self.study_id,
            "study_dir": str(self.path),
            "seconds": round(time.time() - self.started, 2),
            **results,
        }
        write_json(self.path / "results.json", results)
        self.status("finished", seconds=results["seconds"])
        return jsonable(results)

    def __enter__(self) -> StudyDir:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            msg = (
                "interrupted"
                if exc_type is KeyboardInterrupt
                else (f"{exc_type.__name__}: {exc}")
            )
            with contextlib.suppress(OSError):
                self.status("failed", msg)


def read_study_status(path: str | os.PathLike) -> dict:
    """status.json; a running study whose writer is gone reads as failed."""
    st = dict(
        read_json(Path(path) / "status.json")
        or {"status": "failed", "message": "status.json is missing or unreadable"}
    )
    if st.get("status") == "running" and not holder_alive(st):
        st.update(status="failed", message="process died")
    return st


def list_studies(runs_root=None, study: str | None = None) -> list[dict]:
    """Studies under the runs root, newest first: config, status and results."""
    base = studies_root(runs_root)
    out = []
    if not base.is_dir():
        return out
    for d in sorted(base.iterdir(), reverse=True):
        cfg = read_json(d / "config.json")
        if not cfg or cfg.get("format") != FORMAT:
            continue
        if study is not None and cfg.get("study") != study:
            continue
        out.append(
            {
                "study_id": d.name,
                "study": cfg.get("study"),
                "dir": str(d),
                "created": cfg.get("created"),
                "params": cfg.get("params"),
                "status": read_study_status(d),
                "results": read_json(d / "results.json"),
            }
        )
    out.sort(key=lambda r: r.get("created") or 0, reverse=True)
    return out


# Tables ----------
def write_csv(path: str | os.PathLike, rows: list[dict]) -> str:
    """Rows of dicts to CSV (columns in order of first appearance)."""
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    with atomic_write(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: _cell(r.get(k)) for k in cols})
    return str(path)


def _cell(v):
    if isinstance(v, float | np.floating):
        v = float(v)
        return "" if not math.isfinite(v) else f"{v:.6g}"
    if isinstance(v, np.integer):
        return int(v)
    return "" if v is None else v


def summary(values) -> dict:
    """mean, std, median, min, max of a list of numbers (floats)."""
    a = np.asarray(values, np.float64)
    return {
        "mean": float(a.mean()),
        "std": float(a.std()),
        "median": float(np.median(a)),
        "min": float(a.min()),
        "max": float(a.max()),
        "n": int(a.size),
    }


# Evolution of solutions that are not run-store datasets ----------
def evolve(driver, es_state, es_params, generations: int, on_chunk=None):
    """Run an `engine.driver.EsDriver` from generation 0 to `generations`.

    Returns (state, rows, evals): `rows` one metrics dict per generation, `evals`
    (generation, driver.evaluate(state, generation)) at generation 0, every
    `driver.eval_every` generations and the end. `on_chunk(gen, rows, evals)` is
    called after each chunk.
    """
    rows: list[dict] = []
    evals: list[tuple[int, Any]] = []
    if driver.evaluate is not None:
        evals.append((0, driver.evaluate(es_state, 0)))

    def progress(res):
        rows.extend(res.metrics)
        if res.evaluation is not None:
            evals.append((res.generation, res.evaluation))
        if on_chunk is not None:
            on_chunk(res.generation, rows, evals)

    es_state, _, _ = driver.run(es_state, es_params, 0, generations, progress)
    return es_state, rows, evals
