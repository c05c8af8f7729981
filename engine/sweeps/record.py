"""A sweep's record in the run store: ``<root>/sweeps/<sweep id>/sweep.json``.

::

    format, version    "hades-sweep", 1
    sweep_id, name     the id (``sweep-YYYYmmdd-HHMMSS-<6 hex>``, `engine.runs.ids`)
    created, host
    spec               the grid (`SweepSpec.to_dict`)
    execution          how it runs (`RaySettings.to_dict`, address "none": here)
    points             one per run, in grid order: slot, group, env, size, seed,
                       overrides, run_id

The runs themselves are ordinary runs of the store, tagged
``labels={"sweep": id, "slot": slot}`` (`hades runs list --sweep ID`); a sweep's
state is read from them, never stored twice. The ``sweeps`` folder has no
config.json, so `RunStore.list` does not take it for a run.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from engine.atomic import write_json
from engine.runs.ids import new_run_dir
from engine.runs.lock import holder_alive, process_record
from engine.runs.store import RunStore, read_json
from engine.sweeps.grid import Point, SweepError, SweepSpec

DRIVER = "driver.json"
HEARTBEAT_S = 30.0
FORMAT = "hades-sweep"
FORMAT_VERSION = 1
SWEEPS_DIR = "sweeps"


def sweeps_root(store: RunStore) -> Path:
    return store.root / SWEEPS_DIR


@dataclass
class Sweep:
    """A sweep read from (and written to) its sweep.json."""

    path: Path
    data: dict

    @property
    def sweep_id(self) -> str:
        return self.data["sweep_id"]

    @property
    def points(self) -> list[dict]:
        return self.data["points"]

    @property
    def run_ids(self) -> list[str]:
        return [p["run_id"] for p in self.points if p.get("run_id")]

    @property
    def spec(self) -> SweepSpec:
        return SweepSpec.from_dict(self.data.get("spec") or {})

    def save(self) -> None:
        write_json(self.path / "sweep.json", self.data)

    # One driver at a time ----------
    def claim_driver(self) -> None:
        """Record this process as the sweep's driver (``driver.json``); SweepError
        when another live process drives it (on this host judged by its pid, on
        another by the heartbeat it writes every `HEARTBEAT_S`)."""
        info = read_json(self.path / DRIVER)
        me = process_record()
        if (
            info
            and info.get("active")
            and (info.get("pid"), info.get("host")) != (me["pid"], me["host"])
            and holder_alive(info, info)
        ):
            raise SweepError(
                f"sweep {self.sweep_id} is being executed by pid {info.get('pid')} "
                f"on {info.get('host')}: one driver at a time (follow it with "
                f"`hades sweep status {self.sweep_id}`)"
            )
        now = time.time()
        write_json(
            self.path / DRIVER,
            {**me, "active": True, "started": now, "heartbeat": now},
        )

    def beat_driver(self) -> None:
        info = read_json(self.path / DRIVER) or {}
        if (
            info.get("pid") == os.getpid()
            and time.time() - info.get("heartbeat", 0) >= HEARTBEAT_S
        ):
            write_json(self.path / DRIVER, {**info, "heartbeat": time.time()})

    def release_driver(self) -> None:
        info = read_json(self.path / DRIVER) or {}
        if info.get("pid") == os.getpid():
            write_json(
                self.path / DRIVER, {**info, "active": False, "ended": time.time()}
            )


def create(
    store: RunStore,
    spec: SweepSpec,
    points: list[Point],
    execution: dict,
    name: str = "",
    trackers: dict | None = None,
) -> Sweep:
    """Write the sweep record, then one queued run per point (`fill_runs`).
    `trackers` ({"log", "tensorboard_dir"}) is kept for `hades sweep resume`."""
    store.check_writable()
    sid, path = new_run_dir(sweeps_root(store), prefix="sweep")
    now = time.time()
    sweep = Sweep(
        path,
        {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "sweep_id": sid,
            "name": name,
            "created": now,
            "created_iso": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(now)),
            "host": socket.gethostname(),
            "spec": spec.to_dict(),
            "execution": dict(execution),
            "trackers": dict(trackers or {}),
            "points": [{**p.to_dict(), "run_id": None} for p in points],
        },
    )
    sweep.save()
    fill_runs(store, sweep, {p.slot: p for p in points})
    return sweep


def fill_runs(store: RunStore, sweep: Sweep, points: dict[str, Point]) -> list[str]:
    """Create the run of every point that has none yet (a sweep interrupted while
    its runs were being created); returns the new run ids."""
    from engine.runs.runner import Runner

    have = {
        (store.read_config(r["run_id"]).get("labels") or {}).get("slot"): r["run_id"]
        for r in store.list(sweep=sweep.sweep_id)
    }
    made = []
    for p in sweep.points:
        if p.get("run_id"):
            continue
        if p["slot"] in have:  # created, but the record was not saved after it
            p["run_id"] = have[p["slot"]]
        else:
            runner = Runner.create(
                points[p["slot"]].config,
                root=store,
                name=f"{sweep.sweep_id} {p['slot']}",
                labels={"sweep": sweep.sweep_id, "slot": p["slot"]},
            )
            p["run_id"] = runner.run_id
            made.append(runner.run_id)
        sweep.save()
    return made


def load(store: RunStore, sweep_id: str) -> Sweep:
    """The sweep of that id (or unique id prefix) under the store's root."""
    base = sweeps_root(store)
    path = base / sweep_id
    if not (path / "sweep.json").is_file() and "/" not in sweep_id:
        hits = (
            [d for d in base.iterdir() if d.name.startswith(sweep_id)]
            if base.is_dir() and sweep_id
            else []
        )
        if len(hits) == 1:
            path = hits[0]
        elif len(hits) > 1:
            raise SweepError(
                f"{sweep_id!r} matches {len(hits)} sweeps: "
                + ", ".join(d.name for d in hits[:10])
            )
    data = read_json(path / "sweep.json")
    if not data or data.get("format") != FORMAT:
        raise SweepError(f"no sweep {sweep_id!r} under {base} (see `hades sweep list`)")
    return Sweep(path, data)


def list_sweeps(store: RunStore) -> list[Sweep]:
    """Every sweep under the store's root, newest first."""
    base = sweeps_root(store)
    out = []
    if base.is_dir():
        for d in base.iterdir():
            data = read_json(d / "sweep.json")
            if data and data.get("format") == FORMAT:
                out.append(Sweep(d, data))
    out.sort(key=lambda s: s.data.get("created") or 0, reverse=True)
    return out


def status_rows(store: RunStore, sweep: Sweep) -> list[dict]:
    """One row per point: its run's status, progress, best fitness and mean-dataset
    return, read from the store (a run whose process died reads as failed)."""
    rows = []
    for p in sweep.points:
        row = {k: p.get(k) for k in ("slot", "group", "env", "size", "seed")}
        row["overrides"] = p.get("overrides") or {}
        row["run_id"] = rid = p.get("run_id")
        st: dict = {"status": "missing", "message": "run not created yet"}
        if rid:
            try:
                st = store.read_status(rid)
            except Exception as e:  # noqa: BLE001 - a deleted run is reported, not fatal
                st = {"status": "missing", "message": str(e)}
        gen = st.get("generation") or 0
        total = st.get("total_generations")
        row.update(
            status=st.get("status"),
            message=st.get("message") or "",
            generation=gen,
            total_generations=total,
            progress=min(1.0, gen / total) if total else 0.0,
            best_fitness=st.get("best_fitness"),
            mean_dataset_return=st.get("mean_dataset_return"),
            host=st.get("host"),
            alive=bool(st.get("alive")),
        )
        rows.append(row)
    return rows
