"""Background jobs: HaDES runs and studies in daemon threads of this process,
queued and steered.

The dashboard and the engine share one process and one JAX client, so a job is a
thread, not a process. `JobManager` queues runs (`max_concurrent` at a time,
default one per accelerator), gives each a `Control` (pause, resume, stop, live
lr/sigma/temperature) and keeps each job's latest progress in memory. It never
calls Streamlit: pages read `jobs()` / `latest()` (or the run store on disk, which
is what a reader in another process sees).

A study is a `Task` of the same queue (`submit_task`): it takes one of the same
slots, so on a CPU a study waits for the dashboard's run (and a run for the
study) instead of both sharing the cores. The runs a study makes are runs of the
store, steered through their control files like any run.

Every queued run holds its run lock from submission, so no other process can start
writing it meanwhile.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from engine.runs.control import Control
from engine.runs.errors import RunError
from engine.runs.runner import Runner
from engine.runs.store import RunStore

MAX_ROWS = 5000  # generation rows kept in memory per job


def default_concurrency() -> int:
    """One job per accelerator; one on CPU."""
    import jax

    if jax.default_backend() == "cpu":
        return 1
    return max(1, len(jax.local_devices()))


class Job:
    """One queued, running or ended run in this process."""

    kind = "run"

    def __init__(self, runner: Runner, progress_fn, generations: int | None):
        self.runner = runner
        self.run_id = runner.run_id
        self.control = Control()
        self.progress_fn = progress_fn
        self.generations = generations
        self.status = "queued"
        self.message = ""
        self.latest: dict | None = None
        self.rows: collections.deque = collections.deque(maxlen=MAX_ROWS)
        self.rows_lock = threading.Lock()
        self.summary: dict | None = None
        self.error: str | None = None
        self.traceback: str | None = None
        self.callback_error: str | None = None
        self.thread: threading.Thread | None = None
        self.done = threading.Event()
        self.submitted = time.time()

    def last_row(self) -> dict | None:
        with self.rows_lock:
            return self.rows[-1] if self.rows else None

    def info(self) -> dict:
        ev = self.latest or {}
        return {
            "run_id": self.run_id,
            "name": self.runner.meta.get("name", ""),
            "run_dir": str(self.runner.run_dir),
            "env": self.runner.cfg.env.name,
            "status": self.status,
            "message": self.message,
            "generation": ev.get("generation", 0),
            "total_generations": ev.get(
                "total_generations",
                self.generations or self.runner.cfg.outer.generations,
            ),
            "metrics": self.last_row(),
            "mean_dataset_return": ev.get("mean_dataset_return"),
            "best_fitness": ev.get("best_fitness"),
            "seconds_per_generation": ev.get("seconds_per_generation"),
            "eta_seconds": ev.get("eta_seconds"),
            "lr": ev.get("lr"),
            "sigma": ev.get("sigma"),
            "temperature": ev.get("temperature"),
            "paused": self.control.paused,
            "stopping": self.control.stopped,
            "done": self.done.is_set(),
            "summary": self.summary,
            "error": self.error,
            "submitted": self.submitted,
        }


class Task:
    """A job that is not one run (a study): `work(stop)` holds one slot of the
    queue until it returns. `stop` is a `threading.Event` the work checks;
    `on_stop` (optional) is called once when a stop is asked, to reach what the
    work is waiting on (a study's current run)."""

    kind = "task"

    def __init__(
        self,
        task_id: str,
        name: str,
        work: Callable[[threading.Event], Any],
        on_stop: Callable[[], Any] | None = None,
    ):
        self.run_id = task_id  # the manager's key, as for runs
        self.name = name
        self.work = work
        self.on_stop = on_stop
        self.stop_event = threading.Event()
        self.control = Control()  # `stopped` before it starts: cancelled
        self.status = "queued"
        self.message = ""
        self.result: Any = None
        self.error: str | None = None
        self.traceback: str | None = None
        self.thread: threading.Thread | None = None
        self.done = threading.Event()
        self.submitted = time.time()

    def request_stop(self) -> None:
        if self.stop_event.is_set():
            return
        self.stop_event.set()
        self.control.stop()
        if self.on_stop is not None:
            with contextlib.suppress(Exception):  # a courtesy: the work checks stop
                self.on_stop()

    def info(self) -> dict:
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "name": self.name,
            "status": self.status,
            "message": self.message,
            "error": self.error,
            "done": self.done.is_set(),
            "submitted": self.submitted,
        }


class JobManager:
    """A queue of runs executed in background threads (see the module docstring)."""

    def __init__(self, root=None, max_concurrent: int | None = None):
        self.store = root if isinstance(root, RunStore) else RunStore(root)
        self.max_concurrent = int(max_concurrent or default_concurrency())
        if self.max_concurrent < 1:
            raise ValueError("max_concurrent must be >= 1")
        self._jobs: dict[str, Job] = {}
        self._queue: collections.deque[str] = collections.deque()
        self._running: set[str] = set()
        self._lock = threading.RLock()
        self._closed = False
        self._tasks_made = 0

    # Submit ----------
    def submit(
        self,
        cfg,
        name: str = "",
        parent=None,
        progress_fn: Callable[[dict], Any] | None = None,
        generations: int | None = None,
        **settings,
    ) -> str:
        """Create a run and queue it; returns its id (job id == run id)."""
        self._check_open()
        runner = Runner.create(
            cfg, root=self.store, name=name, parent=parent, **settings
        )
        return self._enqueue(runner, progress_fn, generations)

    def resume(
        self,
        run_id: str,
        progress_fn: Callable[[dict], Any] | None = None,
        generations: int | None = None,
    ) -> str:
        """Continue a run: unpause it if paused here, else queue it from its last
        checkpoint (`generations` can extend its target)."""
        self._check_open()
        with self._lock:
            job = self._find(run_id)
            if job is not None and not job.done.is_set():
                if job.control.paused:
                    job.control.resume()
                    return job.run_id
                raise RunError(f"run {job.run_id} is already {job.status} here")
        runner = Runner.open(run_id, root=self.store)
        return self._enqueue(runner, progress_fn, generations)

    def fork(
        self,
        run_id: str,
        overrides: dict,
        name: str = "",
        generation: int | None = None,
        progress_fn: Callable[[dict], Any] | None = None,
        **settings,
    ) -> str:
        """Queue a new run from `run_id`'s checkpoint with config `overrides`
        ({"section.field": value}); returns the new run id (see `Runner.fork`)."""
        self._check_open()
        runner = Runner.fork(
            run_id,
            overrides,
            root=self.store,
            name=name,
            generation=generation,
            **settings,
        )
        return self._enqueue(runner, progress_fn, None)

    def submit_task(
        self,
        name: str,
        work: Callable[[threading.Event], Any],
        on_stop: Callable[[], Any] | None = None,
    ) -> str:
        """Queue `work(stop)` (a study) in the same slots as the runs; returns
        its task id. See `Task`."""
        self._check_open()
        with self._lock:
            self._tasks_made += 1
            task = Task(f"{name}-task-{self._tasks_made}", name, work, on_stop)
            self._jobs[task.run_id] = task
            self._queue.append(task.run_id)
            self._start_next()
        return task.run_id

    def _enqueue(self, runner: Runner, progress_fn, generations) -> str:
        runner.reserve()  # RunError if another writer holds it
        job = Job(runner, progress_fn, generations)
        with self._lock:
            self._jobs[job.run_id] = job
            self._queue.append(job.run_id)
            self._start_next()
        return job.run_id

    def _check_open(self) -> None:
        if self._closed:
            raise RunError("the job manager is shut down")

    # Scheduling ----------
    def _start_next(self) -> None:
        with self._lock:
            while self._queue and len(self._running) < self.max_concurrent:
                job = self._jobs[self._queue.popleft()]
                if job.control.stopped:
                    self._cancel(job)
                    continue
                self._running.add(job.run_id)
                job.thread = threading.Thread(
                    target=self._work,
                    args=(job,),
                    name=f"hades-{job.kind}-{job.run_id}",
                    daemon=True,
                )
                job.thread.start()

    def _cancel(self, job: Job | Task) -> None:
        if job.kind == "run":
            with contextlib.suppress(Exception):
                job.runner.cancel()
        job.status, job.message = "stopped", "cancelled before it started"
        job.done.set()

    def _work(self, job: Job | Task) -> None:
        try:
            if job.kind == "task":
                self._work_task(job)
            else:
                self._work_run(job)
        finally:
            job.done.set()
            with self._lock:
                self._running.discard(job.run_id)
                if not self._closed:
                    self._start_next()

    def _work_task(self, task: Task) -> None:
        task.status = "running"
        try:
            task.result = task.work(task.stop_event)
            task.status = "stopped" if task.stop_event.is_set() else "finished"
        except BaseException as e:
            task.error = f"{type(e).__name__}: {e}"
            task.traceback = traceback.format_exc()
            task.status, task.message = "failed", task.error

    def _work_run(self, job: Job) -> None:
        def hook(ev: dict) -> None:
            job.latest = ev
            job.status = ev["status"]
            job.message = ev.get("message", "")
            with job.rows_lock:
                job.rows.extend(ev.get("metrics") or [])
            if job.progress_fn is not None:
                try:
                    job.progress_fn(ev)
                except Exception as e:  # a display error never kills a run
                    job.callback_error = f"{type(e).__name__}: {e}"

        try:
            job.summary = job.runner.run(
                progress_fn=hook, control=job.control, generations=job.generations
            )
            job.status = job.summary["status"]
            job.message = job.summary.get("message", "")
        except BaseException as e:
            job.error = f"{type(e).__name__}: {e}"
            job.traceback = traceback.format_exc()
            job.status, job.message = "failed", job.error

    # Read and steer ----------
    def _find(self, run_id: str) -> Job | None:
        with self._lock:
            if run_id in self._jobs:
                return self._jobs[run_id]
            hits = [j for k, j in self._jobs.items() if k.startswith(run_id)]
            return hits[0] if len(hits) == 1 else None

    def _job(self, run_id: str) -> Job:
        job = self._find(run_id)
        if job is None:
            raise RunError(f"no job {run_id!r} in this process (resume it first)")
        return job

    def control(self, run_id: str) -> Control:
        """The `Control` of a job of this manager."""
        return self._job(run_id).control

    def pause(self, run_id: str) -> None:
        self.control(run_id).pause()

    def stop(self, run_id: str) -> None:
        """Stop a job or task (a queued one is cancelled)."""
        job = self._job(run_id)
        if job.kind == "task":
            job.request_stop()
        else:
            job.control.stop()
        with self._lock:
            if job.run_id in self._queue:
                self._queue.remove(job.run_id)
                self._cancel(job)

    def set(self, run_id: str, **knobs) -> dict:
        """Live lr / sigma / temperature for the next chunk of a job."""
        return self.control(run_id).set(**knobs)

    def jobs(self) -> list[dict]:
        """Every run of this manager, newest first (in-memory state)."""
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.kind == "run"]
        return [j.info() for j in reversed(jobs)]

    def tasks(self) -> list[dict]:
        """Every task (study) of this manager, newest first."""
        with self._lock:
            tasks = [j for j in self._jobs.values() if j.kind == "task"]
        return [t.info() for t in reversed(tasks)]

    def ahead_of(self, job_id: str) -> list[str]:
        """Ids of the jobs and tasks that hold the slots while `job_id` is queued
        (empty when it runs or ended): what it waits for."""
        with self._lock:
            if job_id not in self._queue:
                return []
            return sorted(self._running)

    def job(self, run_id: str) -> dict:
        return self._job(run_id).info()

    def rows(self, run_id: str) -> list[dict]:
        """Generation rows of a job kept in memory (the last MAX_ROWS)."""
        job = self._job(run_id)
        with job.rows_lock:
            return list(job.rows)

    def latest(self, run_id: str) -> dict:
        """The latest progress event of a job here, else what the store shows.

        ``metrics`` is the last generation row (a dict, or None) either way.
        """
        job = self._find(run_id)
        if job is not None and job.latest is not None:
            return {
                **job.latest,
                "chunk_metrics": job.latest.get("metrics"),
                "metrics": job.last_row(),
                "source": "memory",
            }
        return {**self.store.latest(run_id), "source": "disk"}

    def wait(self, run_id: str, timeout: float | None = None) -> dict:
        """Block until the job ends (or `timeout`); returns its info (`done`)."""
        job = self._job(run_id)
        job.done.wait(timeout)
        return job.info()

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> None:
        """Stop every job (queued ones are cancelled) and join the threads."""
        with self._lock:
            self._closed = True
            queued = [self._jobs[r] for r in self._queue]
            self._queue.clear()
            jobs = list(self._jobs.values())
        for job in queued:
            job.control.stop()
            self._cancel(job)
        for job in jobs:
            if job.kind == "task":
                job.request_stop()
            else:
                job.control.stop()
        if wait:
            deadline = None if timeout is None else time.monotonic() + timeout
            for job in jobs:
                if job.thread is not None:
                    left = (
                        None
                        if deadline is None
                        else max(0.0, deadline - time.monotonic())
                    )
                    job.thread.join(left)

    def __enter__(self) -> JobManager:
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
