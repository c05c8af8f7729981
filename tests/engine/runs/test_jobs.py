"""Jobs and live control (engine/runs): lr/sigma changes at the next chunk without a
recompile, pause without busy waiting, the queue, NaN containment, forks."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from engine import presets
from engine.fitness import Problem
from engine.runs import Control, JobManager, RunError, Runner, RunStore
from engine.runs.cli import format_progress

TINY = {
    "outer.population": 8, "outer.generations": 10000, "outer.chunk": 2,
    "inner.steps": 10, "inner.width": 16, "fitness.num_steps": 50,
    "fitness.num_envs": 2, "outer.eval_every": 2,
}  # fmt: skip


def tiny_cfg(extra=None, seed=0):
    """The tests' config: runs are bounded with run(generations=...)."""
    return presets.make("quick", "CartPole-v1", 4, seed).with_overrides(
        {**TINY, **(extra or {})}
    )


def _gen_rows(rows):
    return [r for r in rows if "event" not in r]


def _wait_for(pred, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def test_live_lr_sigma_next_chunk_without_recompile(tmp_path, compile_counter):
    runner = Runner.create(tiny_cfg(), root=tmp_path)
    control = Control()
    sizes = {}

    def progress(ev):
        if ev["kind"] == "chunk" and ev["generation"] == 2:
            sizes["after_first"] = compile_counter.count("_chunk")
            control.set(lr=0.2, sigma=0.3)
        if ev["kind"] == "chunk" and ev["generation"] == 4:
            control.set(temperature=5.0)  # not SNES: logged as rejected

    summary = runner.run(progress_fn=progress, control=control, generations=6)
    assert summary["status"] == "finished"
    assert sizes["after_first"] <= 1  # at most once (a shared distiller may have)
    assert compile_counter.count("_chunk") == sizes["after_first"]  # never again
    rows = RunStore(tmp_path).read_metrics(runner.run_id)
    gens = _gen_rows(rows)
    assert all(r["lr"] == pytest.approx(0.05) for r in gens[:2])
    assert all(r["sigma"] == pytest.approx(0.1) for r in gens[:2])
    assert all(r["lr"] == pytest.approx(0.2) for r in gens[2:])
    assert all(r["sigma"] == pytest.approx(0.3) for r in gens[2:])
    assert not any(r["compiled"] for r in gens[2:])
    events = [r for r in rows if r.get("event") == "control"]
    assert events[0]["generation"] == 2 and events[0]["lr"] == 0.2
    assert events[0]["sigma"] == 0.3
    assert events[0]["previous"]["lr"] == pytest.approx(0.05)
    assert events[1]["generation"] == 4 and "temperature" in events[1]["rejected"]
    # The lr lives in the checkpoint: a resume keeps it
    st = RunStore(tmp_path).read_status(runner.run_id)
    assert st["lr"] == pytest.approx(0.2) and st["sigma"] == pytest.approx(0.3)


def test_control_validates():
    c = Control()
    with pytest.raises(ValueError, match="lr"):
        c.set(lr=-1.0)
    with pytest.raises(ValueError, match="sigma"):
        c.set(sigma=float("nan"))
    assert c.set(lr=0.1, temperature=0.0) == {"lr": 0.1, "temperature": 0.0}
    assert c.take_pending() == {"lr": 0.1, "temperature": 0.0}
    assert c.take_pending() == {}


def test_pause_holds_thread_without_busy_wait(tmp_path):
    store = RunStore(tmp_path)
    with JobManager(root=tmp_path, max_concurrent=1) as jobs:

        def progress(ev):
            if ev["kind"] == "chunk" and ev["generation"] == 2:
                jobs.pause(ev["run_id"])

        rid = jobs.submit(
            tiny_cfg(), name="pausable", progress_fn=progress, generations=6
        )
        assert _wait_for(lambda: jobs.job(rid)["status"] == "paused")
        job = jobs._jobs[rid]
        clock = time.pthread_getcpuclockid(job.thread.ident)
        cpu0, t0 = time.clock_gettime(clock), time.monotonic()
        time.sleep(0.6)
        cpu = time.clock_gettime(clock) - cpu0
        assert cpu < 0.05 * (time.monotonic() - t0)  # sleeping, not spinning
        assert jobs.job(rid)["generation"] == 2
        assert jobs.job(rid)["paused"] and job.thread.is_alive()
        st = store.read_status(rid)  # a reader in another process sees this
        assert st["status"] == "paused" and st["alive"]
        assert jobs.latest(rid)["metrics"]["generation"] == 2
        # Knobs set while paused apply when it goes on
        jobs.set(rid, sigma=0.2)
        assert jobs.resume(rid) == rid
        info = jobs.wait(rid, timeout=60)
        assert info["done"] and info["status"] == "finished"
        assert info["summary"]["generations"] == 6
    rows = store.read_metrics(rid)
    kinds = [r["event"] for r in rows if "event" in r]
    assert kinds == ["start", "pause", "unpause", "control", "finish"]
    assert [r["sigma"] for r in _gen_rows(rows)][2:] == pytest.approx([0.2] * 4)
    assert [r["generation"] for r in jobs.rows(rid)] == [1, 2, 3, 4, 5, 6]


def test_queue_stop_and_cancel(tmp_path):
    jobs = JobManager(root=tmp_path, max_concurrent=1)
    try:

        def progress(ev):
            if ev["kind"] == "chunk":
                jobs.pause(ev["run_id"])

        first = jobs.submit(tiny_cfg(), progress_fn=progress, generations=6)
        second = jobs.submit(tiny_cfg(), generations=6)
        assert _wait_for(lambda: jobs.job(first)["status"] == "paused")
        assert jobs.job(second)["status"] == "queued"
        assert RunStore(tmp_path).read_status(second)["status"] == "queued"
        with pytest.raises(RunError, match="already"):
            jobs.resume(second)
        # A queued run is locked: no second writer meanwhile
        with pytest.raises(RunError, match="second writer"):
            Runner.open(second, root=tmp_path).run()
        jobs.stop(second)
        assert jobs.job(second)["status"] == "stopped"
        assert RunStore(tmp_path).read_status(second)["status"] == "stopped"
        jobs.stop(first)
        info = jobs.wait(first, timeout=60)
        assert info["status"] == "stopped" and info["generation"] == 2
        store = RunStore(tmp_path)
        assert store.read_status(first)["status"] == "stopped"
        assert [g for g, _ in store.checkpoints(first)] == [2]
        assert {j["run_id"] for j in jobs.jobs()} == {first, second}
    finally:
        jobs.shutdown()


def test_a_task_shares_the_runs_slots(tmp_path):
    """A study is a task of the same queue: with one slot it waits for the run
    ahead of it, a run submitted meanwhile waits for it, a queued task can be
    cancelled, and a failing task frees its slot."""
    jobs = JobManager(root=tmp_path, max_concurrent=1)
    try:

        def hold(ev):
            if ev["kind"] == "chunk":
                jobs.pause(ev["run_id"])

        ran: list[str] = []

        def work(stop):
            ran.append("study")
            return 42

        run = jobs.submit(tiny_cfg(), progress_fn=hold, generations=6)
        assert _wait_for(lambda: jobs.job(run)["status"] == "paused")
        task = jobs.submit_task("study-size-sweep", work)
        cancelled = jobs.submit_task("study-transfer", lambda stop: ran.append("no"))
        later = jobs.submit(tiny_cfg(seed=1), generations=2)
        assert jobs.job(task)["status"] == "queued" and ran == []
        assert jobs.ahead_of(task) == [run] and jobs.ahead_of(run) == []
        jobs.stop(cancelled)
        assert jobs.job(cancelled)["status"] == "stopped"
        assert [t["run_id"] for t in jobs.tasks()] == [cancelled, task]
        assert {j["run_id"] for j in jobs.jobs()} == {run, later}  # runs only

        jobs.stop(run)  # frees the slot: the task, then the later run
        assert jobs.wait(task, timeout=60)["status"] == "finished"
        assert ran == ["study"] and jobs._job(task).result == 42
        assert jobs.wait(later, timeout=120)["status"] == "finished"

        def boom(stop):
            raise RuntimeError("no data")

        bad = jobs.submit_task("study-supervised", boom)
        info = jobs.wait(bad, timeout=30)
        assert info["status"] == "failed" and "RuntimeError: no data" in info["error"]
        assert jobs.ahead_of(bad) == []
        assert _wait_for(lambda: not jobs._running)  # the slot is freed
    finally:
        jobs.shutdown()


def test_nan_fitness_is_contained_and_stops_the_run(tmp_path, monkeypatch):
    real = Problem.population_fitness

    def nan_fitness(self, key, population):
        fitness, bc_loss = real(self, key, population)
        states = population["states"]  # (population, N, 4)
        big = jnp.max(jnp.abs(states), axis=(1, 2)) > 100.0
        nan = big | (states[:, 0, 0] > states[:, 0, 0].mean())
        return jnp.where(nan, jnp.nan, fitness), bc_loss

    monkeypatch.setattr(Problem, "population_fitness", nan_fitness)
    # A config of its own (seed 3): its distiller is traced with the patch
    runner = Runner.create(tiny_cfg(seed=3), root=tmp_path)
    control = Control()

    def progress(ev):
        if ev["kind"] == "chunk" and ev["generation"] == 2:
            control.set(sigma=1e4)  # every member > 100: all NaN from gen 3

    summary = runner.run(progress_fn=progress, control=control, generations=20)
    assert summary["status"] == "failed" and summary["generations"] == 6
    assert "NaN" in summary["message"] and "consecutive" in summary["message"]
    store = RunStore(tmp_path)
    st = store.read_status(runner.run_id)
    assert st["status"] == "failed" and "NaN" in st["message"]
    gens = _gen_rows(store.read_metrics(runner.run_id))
    assert [r["generation"] for r in gens] == [1, 2, 3, 4, 5, 6]
    assert all(0 < r["nan_count"] < 8 for r in gens[:2])
    assert all(r["nan_count"] == 8 for r in gens[2:])
    assert summary["nan_total"] == sum(r["nan_count"] for r in gens)
    for r in gens:  # NaN never reached the metrics or the ES update
        assert all(np.isfinite(r[k]) for k in ("fitness_mean", "fitness_min"))
    ds = store.load_dataset(runner.run_id)  # validates: finite states
    assert np.all(np.isfinite(ds.states))
    assert [g for g, _ in store.checkpoints(runner.run_id)][-1] == 6


def test_fork_lineage_and_inheritance(tmp_path):
    store = RunStore(tmp_path)
    with JobManager(root=tmp_path) as jobs:
        parent = jobs.submit(tiny_cfg(), name="parent", generations=4)
        assert jobs.wait(parent, timeout=120)["status"] == "finished"
        # Too few generations for a fork that continues at generation 4
        with pytest.raises(RunError, match="outer.generations above 4"):
            jobs.fork(parent, {"outer.generations": 4})
        child = jobs.fork(
            parent,
            {"outer.population": 16, "outer.generations": 8, "outer.lr": 0.1},
            name="wide",
        )
        info = jobs.wait(child, timeout=120)
        assert info["status"] == "finished" and info["summary"]["generations"] == 8
    meta = store.get(child)
    p = meta["parent"]
    assert p["run_id"] == parent and p["generation"] == 4 and p["inherit"] == "state"
    assert p["overrides"]["outer.population"] == 16
    assert meta["config"]["outer"]["population"] == 16
    rows = store.read_metrics(child)
    assert rows[0]["event"] == "resume" and rows[0]["from"] == "parent"
    gens = _gen_rows(rows)
    assert gens[0]["generation"] == 5
    parent_best = store.read_status(parent)["best_fitness"]
    assert gens[0]["best_fitness"] >= parent_best  # the ES state came along
    assert all(r["lr"] == pytest.approx(0.1) for r in gens)
    assert store.list()[0]["parent"] == parent
    # Another dataset size: nothing to inherit, from scratch at generation 0
    scratch = Runner.fork(parent, {"dataset.size": 6}, root=tmp_path)
    assert scratch.meta["parent"]["inherit"] == "none"
    # Another strategy, same dataset: only the ES mean comes along
    snes = Runner.fork(
        parent,
        {"outer.strategy": "SNES", "outer.antithetic": False, "outer.generations": 8},
        root=tmp_path,
    )
    assert snes.meta["parent"]["inherit"] == "mean"
    d = snes._distiller()
    state, _, gen, origin = snes._initial_state(d)
    assert origin == "parent" and gen == 4
    parent_ds = store.load_dataset(parent)
    mean = jax.tree.map(np.asarray, d.mean_solution(state))
    assert np.allclose(mean["states"], parent_ds.states)


def test_format_progress():
    ev = {
        "kind": "chunk",
        "status": "running",
        "generation": 12,
        "total_generations": 20,
        "mean_dataset_return": 480.0,
        "metrics": [
            {
                "fitness_mean": 23.4,
                "fitness_max": 41.0,
                "sigma": 0.1,
                "lr": 0.05,
                "nan_count": 0,
            }
        ],
        "seconds_per_generation": 0.071,
        "eta_seconds": 62.0,
        "compile_seconds": None,
        "compiled": False,
    }
    line = format_progress(ev)
    for part in (
        "gen 12/20",
        "23.4",
        "41.0",
        "mean-dataset 480.0",
        "sigma 0.1",
        "0.071 s/gen",
        "ETA 1m02s",
    ):
        assert part in line
    line = format_progress({**ev, "compiled": True, "compile_seconds": 8.9})
    assert "compiled in 8.9 s" in line
    assert "paused" in format_progress(
        {"kind": "status", "status": "paused", "generation": 2, "metrics": []}
    )
