"""Studies in the dashboard: what each one shows, its headline numbers, and a
manager that queues one study at a time beside the dashboard's runs.

Lupu, Lu, Liesen, Lange, Foerster. "Behaviour Distillation". ICLR 2024.

The studies themselves are `engine.studies` (``run_<name>(params, runs_root,
progress_fn, resume) -> dict``; their distillations are runs of the store tagged
with the study, their analysis goes to ``<runs>/studies/<id>/``). The form is
derived from each study's `Params` in `dashboard.study_form`. This module is pure
(no Streamlit): `headline` picks the numbers a person looks at first;
`StudyManager` queues a study (new or resumed) as a task of the dashboard's one
`JobManager`; the task never calls Streamlit and keeps its latest progress event
for the page to read.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from dashboard import metrics as m

log = logging.getLogger(__name__)

DESCRIPTIONS = {
    "transfer": "Transfer: fresh policies of other widths, inner steps and learning "
    "rates trained on one distilled dataset (does the dataset generalise beyond "
    "the architecture and hyperparameters it was evolved for?).",
    "baseline": "Baseline: HaDES-R and HaDES-F against the same evolution strategy "
    "searching the policy weights directly (neuroevolution), with the same budget.",
    "size-sweep": "Size sweep: final return against the dataset size N (how few "
    "state-action pairs are enough?).",
    "multitask": "Multi-task: single-task datasets merged into one dataset; one "
    "policy trained on it zero-shot, scored on every task against single-task and "
    "random policies.",
    "supervised": "Supervised: one synthetic image per class distilled with the "
    "same ES (digits, MNIST or FashionMNIST); test accuracy of fresh networks.",
    "published": "Published: the authors' released datasets re-evaluated with fresh "
    "policies, against reference returns.",
}
"""One line per study: what it shows (the page's study picker)."""

TITLES = {
    "transfer": "Transfer",
    "baseline": "Baseline (ES on weights)",
    "size-sweep": "Size sweep",
    "multitask": "Multi-task",
    "supervised": "Supervised (images)",
    "published": "Published datasets",
}


def canonical(name: str | None) -> str:
    """A study name as the registry spells it (directories say size_sweep)."""
    return (name or "").replace("_", "-")


# Headline numbers ----------
def _num(x, digits: int = 4) -> str:
    return m.fmt_num(x, digits)


def headline(study: str | None, results: dict | None) -> list[tuple[str, str]]:
    """(label, value) pairs: the numbers a study is about, formatted."""
    if not isinstance(results, dict):
        return []
    study = canonical(study or results.get("study"))
    try:
        out = _headline(study, results)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        out = []
    if not out:  # unknown or malformed: the top-level numbers
        out = [
            (k.replace("_", " "), _num(v))
            for k, v in results.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        ][:6]
    return out


def _headline(study: str, r: dict) -> list[tuple[str, str]]:
    if study == "supervised":
        return [
            ("test accuracy", _num(r["test_accuracy"], 3)),
            ("train accuracy", _num(r["train_accuracy"], 3)),
            ("class-mean start (test)", _num(r["start_test_accuracy"], 3)),
            ("chance", _num(r["chance"], 3)),
        ]
    if study == "baseline":
        from engine.studies.baseline import LABELS

        return [
            (f"{LABELS.get(k, k)} return", _num(v["final_return"]))
            for k, v in r["methods"].items()
        ]
    if study == "size-sweep":
        pairs = list(zip(r["sizes"], r["final_return"], strict=True))
        out = [("best N", str(r["best_size"]))]
        return out + [(f"N={n} return", _num(v)) for n, v in pairs][:7]
    if study == "multitask":
        out = []
        for env, t in r["tasks"].items():
            out.append(
                (
                    f"{env} multitask / random",
                    f"{_num(t['multitask'])} / {_num(t['random'])}",
                )
            )
        out.append(("beats random", "yes" if r.get("beats_random") else "no"))
        return out
    if study == "transfer":
        return [
            ("in-distribution return", _num(r["in_distribution_return"])),
            ("lowest setting", _num(r["min_setting_return"])),
            ("highest setting", _num(r["max_setting_return"])),
            ("mean over settings", _num(r["mean_return"])),
        ]
    if study == "published":
        deltas = [
            abs(x["delta"])
            for x in r.get("rows", [])
            if isinstance(x, dict) and isinstance(x.get("delta"), int | float)
        ]
        out = [("evaluated", str(r["evaluated"])), ("skipped", str(r["skipped"]))]
        if deltas:
            out.append(("mean |delta| to reference", _num(sum(deltas) / len(deltas))))
        return out
    return []


def headline_text(study: str | None, results: dict | None, n: int = 3) -> str:
    """The first headline numbers on one line (the studies table)."""
    return "; ".join(f"{k} {v}" for k, v in headline(study, results)[:n])


def table_rows(studies: list[dict]) -> dict[str, list]:
    """Columns of the past-studies table from `list_studies` rows."""
    import datetime as dt

    def when(t):
        return dt.datetime.fromtimestamp(t) if isinstance(t, int | float) else None

    def secs(r):
        v = (r.get("results") or {}).get("seconds")
        return m.fmt_seconds(v) if v is not None else ""

    return {
        "study": [canonical(r.get("study")) for r in studies],
        "id": [r["study_id"] for r in studies],
        "status": [(r.get("status") or {}).get("status", "?") for r in studies],
        "created": [when(r.get("created")) for r in studies],
        "time": [secs(r) for r in studies],
        "headline": [headline_text(r.get("study"), r.get("results")) for r in studies],
    }


def progress_text(
    event: dict | None, started: float | None = None
) -> tuple[float, str]:
    """(fraction, text) of the latest progress event for a progress bar."""
    elapsed = f" \u00b7 {m.fmt_seconds(time.time() - started)}" if started else ""
    if not event:
        return 0.0, "starting (loading and compiling)" + elapsed
    done, total = event.get("done") or 0, event.get("total") or 0
    frac = m.progress_fraction(done, total)
    text = str(event.get("stage") or "working")
    if total:
        text += f" {done}/{total}"
    for k in ("mean_dataset_return", "mean_return", "train_loss"):
        if isinstance(event.get(k), int | float):
            text += f" \u00b7 {k.replace('_', ' ')} {_num(event[k])}"
            break
    return frac, text + elapsed


# Background runs ----------
class StudyStoppedError(Exception):
    """Raised inside a study's progress callback once a stop was asked for."""


STOPPED = "Stopped from the dashboard: resume it from Past studies."


class StudyManager:
    """Runs one study at a time as a task of the dashboard's `JobManager` (never
    calls Streamlit).

    The study takes one slot of the same queue as the dashboard's runs: on a CPU
    (one slot) it waits while a run computes, and a run launched meanwhile waits
    for it. `start` validates nothing itself (see `dashboard.study_form`); the
    task lowers its priority with `nice_fn` (called at its start and at each
    progress event, as the runs do) and keeps the latest progress event. `info`
    returns a copy of the current (or last) study's state for pages to draw,
    with ``queued`` (and ``waiting_for``, the jobs that hold the slots) while it
    waits for a slot.

    `stop` asks the study to stop: a distillation in progress (a run of the store)
    gets a stop command through its control file, so it ends "stopped" with a
    checkpoint at its next chunk; any other stage stops at its next progress event;
    a queued study is cancelled. The study is then marked failed, and `resume`
    continues it: finished runs are kept, the stopped run resumes from its
    checkpoint.
    """

    def __init__(self, root, nice_fn: Callable[..., Any] | None = None, jobs=None):
        from engine.runs import JobManager

        self.root = str(root)
        self.nice_fn = nice_fn
        # The dashboard passes its one manager; alone, a study gets its own queue.
        self.jobs = jobs if jobs is not None else JobManager(self.root)
        self._lock = threading.Lock()
        self._job: dict | None = None
        self._task: str | None = None

    def running(self) -> bool:
        """True while the study is queued or computing."""
        if self._task is None:
            return False
        return not self.jobs.job(self._task)["done"]

    def start(self, study: str, params, resume: str | None = None) -> None:
        """Queue `study` with `params` (its `Params`), or the continuation of the
        study `resume` (an id under ``<runs>/studies``); `StudyError` if one is
        still queued or running here."""
        from engine.studies import STUDIES, StudyError

        if study not in STUDIES:
            raise StudyError(f"unknown study {study!r}")
        fn = STUDIES[study]
        with self._lock:
            if self.running():
                raise StudyError(
                    f"a {self._job['study']} study is still running here: one study "
                    "at a time (wait for it or stop it)"
                )
            job = {
                "study": study,
                "preset": params.preset,
                "params": params.to_dict(),
                "resume": resume,
                "started": time.time(),
                "finished": None,
                "event": None,
                "done": False,
                "stopping": False,
                "error": None,
                "study_id": resume,
                "study_dir": None,
            }
            self._job = job
            self._task = self.jobs.submit_task(
                f"study-{study}",
                lambda stop: self._work(fn, params, resume, job, stop),
                on_stop=lambda: self._stop_run((job["event"] or {}).get("run_id")),
            )

    def resume(self, study_row: dict) -> None:
        """Continue an interrupted study (a `list_studies` row) with the
        parameters it was started with."""
        from dashboard.study_form import params_class
        from engine.studies.params import StudyError, from_dict

        name = canonical(study_row.get("study"))
        status = (study_row.get("status") or {}).get("status")
        if status not in ("failed", "stopped"):
            raise StudyError(
                f"study {study_row.get('study_id')} is {status}: only a failed or "
                "stopped study can be resumed"
            )
        try:
            params = from_dict(params_class(name), study_row.get("params") or {})
        except (ModuleNotFoundError, TypeError) as e:
            raise StudyError(f"study {study_row.get('study_id')}: {e}") from None
        self.start(name, params, resume=study_row["study_id"])

    def _nice(self) -> None:
        if self.nice_fn is not None:
            with contextlib.suppress(Exception):  # priority is a courtesy
                self.nice_fn()

    def _stop_run(self, run_id: str | None) -> None:
        """Send a stop command to a run of the study (through the store)."""
        if not run_id:
            return
        from engine.runs import RunError, RunStore
        from engine.runs.control import send

        with contextlib.suppress(RunError, ValueError, OSError):
            send(RunStore(self.root).resolve(run_id), "stop", sender="dashboard")

    def _work(self, fn, params, resume, job, stop) -> None:
        with self._lock:
            job["started"] = time.time()  # the queue wait is not the study's time
        self._nice()
        told: set[str] = set()  # runs sent a stop command

        def progress(event: dict) -> None:
            self._nice()
            with self._lock:
                job["event"] = dict(event)
            if not stop.is_set():
                return
            run_id = event.get("run_id")
            if run_id is None:
                raise StudyStoppedError("stopped from the dashboard")
            if run_id not in told:  # the run stops itself at its next chunk
                told.add(run_id)
                self._stop_run(run_id)

        error = None
        res: dict = {}
        try:
            res = fn(params, runs_root=self.root, progress_fn=progress, resume=resume)
        except StudyStoppedError:
            error = STOPPED
        except (ValueError, OSError, KeyError, RuntimeError) as e:  # StudyError, ...
            error = STOPPED if stop.is_set() else (str(e) or type(e).__name__)
        except Exception as e:  # noqa: BLE001 - reported to the page, not raised
            log.exception("study %s failed", job["study"])
            error = f"{type(e).__name__}: {e}"
        with self._lock:
            job.update(
                done=True,
                finished=time.time(),
                error=error,
                study_id=(res.get("study_id") if isinstance(res, dict) else None)
                or job["study_id"],
                study_dir=res.get("study_dir") if isinstance(res, dict) else None,
            )

    def info(self) -> dict | None:
        """A copy of the current or last study's state (None before the first)."""
        with self._lock:
            if self._job is None:
                return None
            out = dict(self._job)
            out["event"] = dict(out["event"]) if out["event"] else None
            task = self._task
        state = self.jobs.job(task)
        out["queued"] = state["status"] == "queued"
        out["waiting_for"] = self.jobs.ahead_of(task)
        if state["done"] and not out["done"]:  # cancelled before it started
            out.update(done=True, error=out["error"] or STOPPED)
        return out

    def stop(self) -> bool:
        """Ask the study to stop (its current run at the next chunk; a queued
        study is cancelled)."""
        with self._lock:
            if not self.running() or self._job is None:
                return False
            self._job["stopping"] = True
            task = self._task
        self.jobs.stop(task)  # the task's on_stop reaches the current run
        return True

    def wait(self, timeout: float | None = None) -> dict | None:
        """Wait for the study's task to end (for tests and shutdown); returns
        `info()`."""
        if self._task is not None:
            self.jobs.wait(self._task, timeout)
        return self.info()
