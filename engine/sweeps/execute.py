"""Execute runs of the store to their end: each as a Ray task, or one after another
in this process. Used by `hades sweep` and by studies (``--ray``).

Ray does the scheduling, the resource claims and the retries; this module only
submits `engine.sweeps.task.execute_run` once per run and reports what comes back.
Events sent to `on_event`: ``{"kind": "done", "run_id", "status", "message",
"seconds", "summary"}`` when a run ends (or could not run), ``{"kind": "tick"}``
while waiting (every `tick_s`), for progress bars that read the store, and
``{"kind": "stopping", "runs"}`` after Ctrl-C.

A finished run is never executed again (`select`). Ctrl-C stops the runs still
executing through the store (`Executor._stop`): each stops at its next chunk
boundary, writes a checkpoint and ends stopped; one that does not reach a boundary
within `CANCEL_GRACE_S` is killed with Ray and reads failed (process died). A
resume continues both from their last checkpoint.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from engine.runs.errors import RunError
from engine.runs.store import RunStore
from engine.sweeps.ray_cluster import RaySettings
from engine.sweeps.task import execute_run, run_logged, summary_of

EventFn = Callable[[dict], Any]
CANCEL_GRACE_S = 20.0


def select(store: RunStore, run_ids: list[str]) -> tuple[list[str], dict[str, str]]:
    """(runs to execute, {run: why skipped}): finished runs are never redone, and a
    run that a live process writes is left to it."""
    todo, skipped = [], {}
    for rid in run_ids:
        st = store.read_status(rid)
        if st.get("status") == "finished":
            skipped[rid] = "finished"
        elif st.get("alive") and st.get("status") != "queued":
            skipped[rid] = (
                f"{st.get('status')} in pid {st.get('pid')} on {st.get('host')}"
            )
        else:
            todo.append(rid)
    return todo, skipped


class Executor:
    """Runs run ids to their end under `settings` (Ray needs an open
    `ray_cluster.session`). Call it with a list of run ids; it returns
    {run_id: outcome event}."""

    def __init__(
        self,
        store: RunStore,
        settings: RaySettings,
        on_event: EventFn | None = None,
        tick_s: float = 2.0,
        trackers: dict | None = None,
    ):
        self.store = store
        self.settings = settings
        self.on_event = on_event
        self.tick_s = tick_s
        self.trackers = trackers  # {"log", "tensorboard_dir"}: each run logs

    def __call__(self, run_ids: list[str], control=None) -> dict[str, dict]:
        """`control` (an `engine.runs.control.Control`, runs in this process only):
        once stopped, the run executing stops at its next chunk boundary and no
        other run starts."""
        if self.settings.uses_ray:
            return self._on_ray(list(run_ids))
        return self._here(list(run_ids), control)

    def _emit(self, event: dict) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def _done(self, rid: str, summary: dict | None, message: str, t0: float) -> dict:
        st = self.store.read_status(rid)
        ev = {
            "kind": "done",
            "run_id": rid,
            "status": st.get("status"),
            "message": message or st.get("message") or "",
            "seconds": time.time() - t0,
            "summary": summary,
            "best_fitness": st.get("best_fitness"),
            "mean_dataset_return": st.get("mean_dataset_return"),
        }
        self._emit(ev)
        return ev

    # One after another in this process ----------
    def _here(self, run_ids: list[str], control=None) -> dict[str, dict]:
        from engine.runs.runner import Runner

        out = {}
        for rid in run_ids:
            if control is not None and control.stopped:
                break
            t0 = time.time()
            st = self.store.read_status(rid)
            if st.get("status") == "finished":
                out[rid] = self._done(rid, summary_of(st), "", t0)
                continue
            summary, message = None, ""
            try:
                runner = Runner.open(rid, root=self.store)
                runner.executor = "sweep"
                summary = run_logged(
                    runner, self.trackers, self._tick_on_chunk, control
                )
            except (RunError, ValueError, RuntimeError, OSError) as e:
                message = f"{type(e).__name__}: {e}"  # the run marked itself failed
            out[rid] = self._done(rid, summary, message, t0)
        return out

    def _tick_on_chunk(self, ev: dict) -> None:
        if ev.get("kind") == "chunk":
            self._emit({"kind": "tick", "run_id": ev.get("run_id")})

    # On Ray ----------
    def _on_ray(self, run_ids: list[str]) -> dict[str, dict]:
        import ray

        s = self.settings
        task = ray.remote(execute_run).options(
            num_cpus=s.cpus_per_run,
            num_gpus=s.gpus_per_run,
            max_retries=s.max_retries,
            retry_exceptions=False,  # a run that raised is failed, not flaky
            name="hades-run",
        )
        root = str(self.store.root.resolve())
        t0 = time.time()
        refs = {
            task.remote(rid, root, s.cpu_devices, self.trackers): rid for rid in run_ids
        }
        pending = list(refs)
        out = {}
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1, timeout=self.tick_s)
                for ref in done:
                    rid = refs[ref]
                    summary, message = _result(ray, ref, s.max_retries)
                    out[rid] = self._done(rid, summary, message, t0)
                if not done:
                    self._emit({"kind": "tick"})
        except KeyboardInterrupt:
            self._emit({"kind": "stopping", "runs": len(pending)})
            # A terminal's Ctrl-C reaches Ray's own processes too, which may be
            # gone already: stopping is best effort, the store tells what ended.
            with contextlib.suppress(Exception):
                self._stop(ray, pending, refs)
            raise
        return out

    def _stop(self, ray, pending: list, refs: dict) -> None:
        """Stop the runs still executing. One that has started stops at its next
        chunk through the store, as `hades control RUN stop` does (checkpoint,
        status stopped, "interrupted"); what is left after CANCEL_GRACE_S (inside
        a compilation or a long chunk) is killed with Ray: it reads "process died"
        and resumes from its last checkpoint. A task not started yet goes with the
        local Ray instance when the command ends; on a cluster it is cancelled.
        (Ray's `cancel` raises KeyboardInterrupt inside a running task, and a task
        completing while it was cancelled crashed Ray's driver: `task_manager.cc
        Check failed ... not pending`.)"""
        from engine.runs.control import send

        started = []
        for ref in pending:
            rid = refs[ref]
            st = self.store.read_status(rid)
            if st.get("alive") and st.get("recorded_status") != "queued":
                run_dir = self.store.resolve(rid)
                send(run_dir, "stop", sender="sweep", reason="interrupted")
                started.append(ref)
            elif self.settings.address != "local":
                ray.cancel(ref)
        if started:
            _, left = ray.wait(
                started, num_returns=len(started), timeout=CANCEL_GRACE_S
            )
            for ref in left:
                ray.cancel(ref, force=True)


def _result(ray, ref, retries: int) -> tuple[dict | None, str]:
    """(summary, error message) of a finished task."""
    from ray import exceptions as rex

    try:
        return ray.get(ref), ""
    except rex.RayTaskError as e:
        cause = e.cause if isinstance(e.cause, BaseException) else None
        if cause is not None:
            return None, f"{type(cause).__name__}: {cause}"
        return None, str(e).strip().splitlines()[-1]
    except rex.TaskCancelledError:
        return None, "cancelled"
    except (rex.WorkerCrashedError, rex.NodeDiedError, rex.OwnerDiedError) as e:
        return None, (
            f"its Ray worker died {retries + 1} times ({type(e).__name__}); resume "
            "the sweep to continue it from its checkpoint"
        )
    except rex.RayError as e:
        return None, f"{type(e).__name__}: {str(e).strip().splitlines()[0]}"
