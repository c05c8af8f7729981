"""A sweep's record in the store: its runs created up front and tagged, missing
runs filled in once (never twice), one driver at a time, lookups by id prefix."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from engine.runs import RunStore
from engine.runs.lock import process_record
from engine.sweeps import record
from engine.sweeps.grid import SweepError, SweepSpec, expand
from engine.sweeps.ray_cluster import RaySettings

TINY = ("outer.population=8", "outer.generations=4", "inner.width=16")


@pytest.fixture
def made(tmp_path):
    store = RunStore(tmp_path / "runs")
    spec = SweepSpec(envs=("CartPole-v1",), sizes=(2, 4), seeds=(0, 1), overrides=TINY)
    points = expand(spec)
    sweep = record.create(store, spec, points, RaySettings(address="none").to_dict())
    return store, sweep, points


def test_every_point_is_a_queued_run_tagged_with_the_sweep(made):
    store, sweep, points = made
    assert (sweep.path / "sweep.json").is_file()
    assert sweep.path.parent == store.root / "sweeps"
    assert len(sweep.run_ids) == 4
    rows = store.list(sweep=sweep.sweep_id)
    assert {r["id"] for r in rows} == set(sweep.run_ids)
    assert all(r["sweep"] == sweep.sweep_id for r in rows)
    for p, point in zip(sweep.points, points, strict=True):
        meta = store.read_config(p["run_id"])
        assert meta["labels"] == {"sweep": sweep.sweep_id, "slot": point.slot}
        assert meta["config"] == point.config.to_dict()
    status = record.status_rows(store, sweep)
    assert [r["status"] for r in status] == ["queued"] * 4
    assert record.load(store, sweep.sweep_id[:-2]).sweep_id == sweep.sweep_id
    with pytest.raises(SweepError, match="no sweep 'sweep-nope'"):
        record.load(store, "sweep-nope")


def test_fill_runs_creates_only_what_is_missing(made):
    store, sweep, points = made
    by_slot = {p.slot: p for p in points}
    lost = sweep.points[1]["run_id"]  # created, but the record was not saved
    gone = sweep.points[2]["run_id"]  # never created
    shutil.rmtree(store.root / gone)  # (delete refuses a run its creator holds)
    sweep.points[1]["run_id"] = sweep.points[2]["run_id"] = None
    sweep.save()
    made_now = record.fill_runs(store, sweep, by_slot)
    assert sweep.points[1]["run_id"] == lost  # found by its slot label, not redone
    assert len(made_now) == 1 and sweep.points[2]["run_id"] == made_now[0]
    assert len(store.list(sweep=sweep.sweep_id)) == 4
    assert record.load(store, sweep.sweep_id).run_ids == sweep.run_ids


def test_one_driver_at_a_time(made):
    _, sweep, _ = made
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        rec = {**process_record(), "pid": other.pid, "start_time": None}
        (sweep.path / record.DRIVER).write_text(json.dumps({**rec, "active": True}))
        with pytest.raises(SweepError, match=f"executed by pid {other.pid}"):
            sweep.claim_driver()
    finally:
        other.kill()
        other.wait()
    sweep.claim_driver()  # its driver is gone: this process takes over
    info = json.loads((sweep.path / record.DRIVER).read_text())
    assert info["pid"] == process_record()["pid"] and info["active"]
    sweep.release_driver()
    assert not json.loads((sweep.path / record.DRIVER).read_text())["active"]
