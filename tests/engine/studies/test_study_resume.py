"""A study is a set of runs in the store: kill -9 it mid-way, resume it, and get
the result of an uninterrupted study without redoing what had finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from engine.runs import RunStore

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
TINY = [
    "--sizes", "1,2",
    "--generations", "200",
    "--population", "8",
    "--eval-inits", "2",
    "--set", "inner.width=16",
    "--set", "inner.steps=10",
    "--set", "fitness.num_envs=2",
    "--set", "fitness.num_steps=50",
    "--set", "outer.chunk=2",
    "--set", "outer.eval_every=50",
]  # fmt: skip


def hades(*args, root, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(
        [sys.executable, "-m", "engine.cli", *args, "--runs", str(root)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


def _last_json(out) -> dict:
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_killed_study_resumes_to_the_uninterrupted_result(tmp_path):
    root = tmp_path / "runs"
    cmd = [sys.executable, "-m", "engine.cli", "study", "size-sweep", *TINY]
    proc = subprocess.Popen(
        [*cmd, "--runs", str(root), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ENV,
    )
    store = RunStore(root)
    sid, rows = None, []
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:  # N=1 finished, N=2 computing
            studies = list((root / "studies").glob("size_sweep-*"))
            if studies:
                sid = studies[0].name
                rows = store.list(study=sid)
                by_name = {r["name"]: r for r in rows}
                second = by_name.get("size_sweep N=2")
                if second and (second["generation"] or 0) >= 4:
                    break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert sid is not None
    by_name = {r["name"]: r for r in store.list(study=sid)}
    first, second = by_name["size_sweep N=1"], by_name["size_sweep N=2"]
    assert first["status"] == "finished" and first["study"] == sid
    assert second["status"] == "failed" and second["generation"] < 200  # died
    first_metrics = (root / first["run_id"] / "metrics.jsonl").read_bytes()

    resumed = _last_json(hades("study", "resume", sid, "--json", root=root))
    assert resumed["study_id"] == sid
    assert resumed["runs"] == [first["run_id"], second["run_id"]]  # no new runs
    # The finished run was not redone; the interrupted one resumed from its checkpoint
    assert (root / first["run_id"] / "metrics.jsonl").read_bytes() == first_metrics
    events = [
        r for r in store.read_metrics(second["run_id"]) if r.get("event") == "resume"
    ]
    assert (
        events and events[-1]["from"] == "checkpoint" and events[-1]["generation"] > 0
    )
    assert all(r["status"] == "finished" for r in store.list(study=sid))

    straight = _last_json(
        hades("study", "size-sweep", *TINY, "--json", root=tmp_path / "b")
    )
    for key in ("sizes", "final_return", "final_std", "best_size"):
        assert resumed[key] == straight[key], key
    runs_b = RunStore(tmp_path / "b")
    for a, b in zip(resumed["runs"], straight["runs"], strict=True):
        assert (root / a / "dataset.npz").is_file()
        da = store.load_dataset(a)
        db = runs_b.load_dataset(b)
        assert (da.states == db.states).all() and (da.labels == db.labels).all()


def test_runs_list_json_rows_carry_study_and_host(tmp_path):
    root = tmp_path / "runs"
    args = [*TINY[4:], "--sizes", "2", "--generations", "2", "--population", "8"]
    res = _last_json(hades("study", "size-sweep", *args, "--json", root=root))
    rows = json.loads(hades("runs", "list", "--json", root=root).stdout)
    assert [r["study"] for r in rows] == [res["study_id"]]
    assert rows[0]["host"] and rows[0]["sweep"] is None
    only = json.loads(
        hades("runs", "list", "--study", res["study_id"], "--json", root=root).stdout
    )
    assert [r["run_id"] for r in only] == res["runs"]
    none = json.loads(
        hades("runs", "list", "--study", "other", "--json", root=root).stdout
    )
    assert none == []


def test_resume_of_unknown_study_is_one_line(tmp_path):
    out = hades("study", "resume", "size_sweep-nope", root=tmp_path, check=False)
    assert out.returncode == 2 and "no study 'size_sweep-nope'" in out.stderr
    assert "Traceback" not in out.stderr
