"""Faults during a run (engine/runs/runner.py), through the real `hades` CLI in a
subprocess: a disk that fills up mid-run, and a resume that would delete a run's
history because its checkpoints are gone."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from engine.runs import checkpoint as ckpt_lib
from engine.runs.store import NO_SPACE, scan_lines
from tests.cli_run import TINY_DISTILL, assert_one_line_error, fill, hades, start, tmpfs

VOLATILE = ("time", "seconds_per_generation", "compiled", "pid")


class Disk:
    """A runs root whose disk the test fills and frees: a small tmpfs, or (where
    mounting is not allowed) the ENOSPC shim of `enospc_shim`."""

    def __init__(self, root: Path, mount: Path | None, flag: Path | None):
        self.root, self.mount, self.flag = root, mount, flag

    @property
    def shim(self):
        return None if self.flag is None else (self.root, self.flag)

    def fill(self) -> None:
        if self.mount is not None:
            fill(self.mount)
        else:
            self.flag.touch()

    def free(self) -> None:
        if self.mount is not None:
            (self.mount / "filler.bin").unlink()
        else:
            self.flag.unlink()


@pytest.fixture(params=["tmpfs", "simulated"])
def disk(request, tmp_path):
    if request.param == "simulated":
        yield Disk(tmp_path / "runs", None, tmp_path / "disk-is-full")
        return
    with tmpfs(tmp_path / "mnt", "64m") as mnt:
        if mnt is None:
            pytest.skip("cannot mount a tmpfs here (needs root): see [simulated]")
        yield Disk(mnt / "runs", mnt, None)


def _rows(run_dir: Path) -> list[dict]:
    rows, damaged = scan_lines((run_dir / "metrics.jsonl").read_bytes())
    assert not damaged
    return rows


def _generations(run_dir: Path) -> list[int]:
    return [r["generation"] for r in _rows(run_dir) if "event" not in r]


def test_full_disk_during_a_run_then_resume(disk):
    proc = start(
        *TINY_DISTILL, "--generations", "3000", "--runs", disk.root,
        full_disk=disk.shim, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(disk.root.glob("*/checkpoints/ckpt_*.npz"))) >= 2:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        disk.fill()
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # Stopped at a chunk boundary: failed, with the reason, no traceback
    assert proc.returncode == 1 and "Traceback" not in err, err
    assert f"failed: {NO_SPACE}" in err
    (run_dir,) = [p.parent for p in disk.root.glob("*/config.json")]
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed"
    assert status["message"].startswith(NO_SPACE)
    assert "hades resume" in status["message"]
    # The checkpoints are intact: each reads back whole, the newest is the one
    # the status names, and the metrics reach it
    ckpts = ckpt_lib.list_checkpoints(run_dir / "checkpoints")
    for g, path in ckpts:
        assert int(ckpt_lib.read(path)["generation"]) == g
    assert ckpts[-1][0] == status["checkpoint_generation"]
    assert max(_generations(run_dir)) >= ckpts[-1][0]
    assert not list(run_dir.rglob("*.tmp"))
    # Listing works on the full disk
    listed = hades("runs", "list", "--runs", disk.root, "--json", full_disk=disk.shim)
    assert listed.code == 0 and "Traceback" not in listed.err, listed.err
    assert json.loads(listed.out)[0]["status"] == "failed"
    # Space freed: resume continues from the last checkpoint and finishes
    disk.free()
    target = status["generation"] + 4
    res = hades(
        "resume", run_dir.name, "--generations", target, "--runs", disk.root,
        "--json", "--quiet", full_disk=disk.shim,
    )  # fmt: skip
    assert res.code == 0 and "Traceback" not in res.err, res.err
    summary = json.loads(res.out.splitlines()[-1])
    assert summary["status"] == "finished" and summary["generations"] == target
    assert _generations(run_dir) == list(range(1, target + 1))
    resume = [r for r in _rows(run_dir) if r.get("event") == "resume"][-1]
    assert resume["from"] == "checkpoint" and resume["generation"] == ckpts[-1][0]


def _strip(rows: list[dict]) -> list[dict]:
    return [
        {k: v for k, v in r.items() if k not in VOLATILE}
        for r in rows
        if "event" not in r
    ]


def test_resume_without_checkpoints_refuses_until_asked(tmp_path):
    root = tmp_path / "runs"
    res = hades(*TINY_DISTILL, "--runs", root)
    assert res.code == 0, res.err
    run_id = json.loads(res.out.splitlines()[-1])["run_id"]
    run_dir = root / run_id
    original = _strip(_rows(run_dir))
    for _, path in ckpt_lib.list_checkpoints(run_dir / "checkpoints"):
        path.unlink()
    before = {
        n: (run_dir / n).read_bytes()
        for n in ("metrics.jsonl", "dataset.npz", "status.json")
    }

    # Refused, naming both ways out; nothing of the run is touched
    res = hades("resume", run_id, "--generations", "6", "--runs", root)
    line = assert_one_line_error(res, "4 metrics rows", "no usable checkpoint")
    assert f"hades fork {run_id}" in line and "--restart" in line
    assert {n: (run_dir / n).read_bytes() for n in before} == before

    # Way out 1: a fork continues from the dataset (at its generation, 4)
    res = hades(
        "fork", run_id, "--set", "outer.generations=6", "--runs", root,
        "--json", "--quiet",
    )  # fmt: skip
    assert res.code == 0 and "Traceback" not in res.err, res.err
    child = json.loads(res.out.splitlines()[-1])
    assert child["status"] == "finished" and child["generations"] == 6
    meta = json.loads((root / child["run_id"] / "config.json").read_text())
    assert meta["parent"]["inherit"] == "dataset"
    assert meta["parent"]["generation"] == 4
    assert _generations(root / child["run_id"]) == [5, 6]
    assert {n: (run_dir / n).read_bytes() for n in before} == before

    # Way out 2: --restart starts over on purpose, to the same result
    res = hades(
        "resume", run_id, "--restart", "--runs", root, "--json", "--quiet"
    )  # fmt: skip
    assert res.code == 0 and "Traceback" not in res.err, res.err
    assert json.loads(res.out.splitlines()[-1])["generations"] == 4
    rows = _rows(run_dir)
    start = [r for r in rows if r.get("event") == "start"][-1]
    assert start["restart"] is True and start["dropped_rows"] > 0
    assert _strip(rows) == original  # deterministic: the same four generations
