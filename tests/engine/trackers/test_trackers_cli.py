"""`--log tensorboard` / `--log wandb` on the real CLI, read back with TensorBoard's
event reader and W&B's offline run files; fork lineage, resume, export, a W&B
server that cannot be reached, and bad input.

Every W&B process here runs with WANDB_BASE_URL on a closed port of 127.0.0.1 and
W&B's error reporting off, and (where strace exists) the test checks that no
process connected anywhere but 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from tracker_files import (
    tensorboard_run,
    tensorboard_series,
    wandb_config,
    wandb_history,
    wandb_offline_runs,
    wandb_run_record,
)

pytest.importorskip(
    "wandb", reason="the wandb extra: pip install 'hades-studio[wandb]'"
)
pytest.importorskip(
    "tensorboard",
    reason="the tensorboard extra: pip install 'hades-studio[tensorboard]'",
)

TINY = [
    "--env", "CartPole-v1", "--size", "4", "--generations", "6",
    "--set", "outer.population=8", "--set", "outer.chunk=2",
    "--set", "outer.eval_every=2", "--set", "inner.width=16",
    "--set", "inner.steps=10", "--set", "fitness.num_envs=2",
    "--set", "fitness.num_steps=50",
]  # fmt: skip
STRACE = shutil.which("strace")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wandb_env(**extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(
        PYTHONPATH=str(ROOT),
        WANDB_MODE="offline",
        WANDB_BASE_URL=f"http://127.0.0.1:{closed_port()}",
        WANDB_ERROR_REPORTING="false",
    )
    env.update(extra)
    return env


def hades(args, env=None, trace: Path | None = None, timeout=600):
    cmd = [sys.executable, "-m", "engine.cli", *args]
    if trace is not None and STRACE:
        cmd = [STRACE, "-f", "--seccomp-bpf", "-e", "trace=connect", "-o",
               str(trace), *cmd]  # fmt: skip
    return subprocess.run(
        cmd, cwd=ROOT, env=env or wandb_env(), capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def remote_connects(trace: Path) -> list[str]:
    """connect() calls of the traced processes to anything but 127.0.0.1 / ::1
    (local sockets aside)."""
    out = []
    for line in trace.read_text().splitlines():
        if "connect(" not in line or "AF_UNIX" in line or "AF_NETLINK" in line:
            continue
        if 'inet_addr("127.0.0.1")' in line or '"::1"' in line:
            continue
        if "sa_family=AF_INET" in line:
            out.append(line)
    return out


def metrics_rows(run_dir: Path) -> dict[int, dict]:
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["generation"]: r for r in rows if "fitness_mean" in r}


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """One tiny run logged to both trackers (W&B offline)."""
    root = tmp_path_factory.mktemp("tracked")
    trace = root / "strace.txt"
    r = hades(
        ["distill", *TINY, "--runs", str(root / "runs"), "--json",
         "--log", "tensorboard", "--log", "wandb"],
        env=wandb_env(WANDB_PROJECT="hades-tests"),
        trace=trace,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    res = last_json(r.stdout)
    return {"root": root, "run_dir": Path(res["run_dir"]), "res": res,
            "stderr": r.stderr, "trace": trace}  # fmt: skip


def test_tensorboard_holds_the_metrics_config_and_media(logged):
    run_dir = logged["run_dir"]
    rows = metrics_rows(run_dir)
    tb = run_dir / "tensorboard"
    assert f"tensorboard: event files in {tb}" in logged["stderr"]
    acc = tensorboard_run(tb)
    for key in ("fitness_mean", "fitness_max", "best_fitness", "sigma", "bc_loss"):
        series = tensorboard_series(tb, key)
        assert sorted(series) == sorted(rows), key
        for g, row in rows.items():
            assert series[g] == pytest.approx(row[key], rel=1e-6), (key, g)
    evals = {g: r["mean_dataset_return"] for g, r in rows.items()
             if "mean_dataset_return" in r}  # fmt: skip
    assert tensorboard_series(tb, "mean_dataset_return") == pytest.approx(evals)
    # Media at evaluation points: at least the last one, never elsewhere
    tags = acc.Tags()
    assert {"dataset", "rollout"} <= set(tags["images"])
    steps = {e.step for e in acc.Images("rollout")}
    assert max(evals) in steps and steps <= set(evals)
    gif = acc.Images("rollout")[-1].encoded_image_string
    assert gif[:6] in (b"GIF87a", b"GIF89a")
    assert acc.Images("dataset")[-1].encoded_image_string[:4] == b"\x89PNG"
    # The config as hyperparameters and as text
    assert "_hparams_/session_start_info" in tags["tensors"]
    assert "config" in tags["tensors"]
    text = acc.Tensors("config")[0].tensor_proto.string_val[0].decode()
    assert '"population": 8' in text and logged["res"]["run_id"] in text


def test_wandb_offline_run_holds_the_metrics_and_config(logged):
    run_dir = logged["run_dir"]
    rows = metrics_rows(run_dir)
    (offline,) = wandb_offline_runs(run_dir / "wandb")
    history = wandb_history(offline)
    for key in ("fitness_mean", "fitness_max", "best_fitness", "sigma"):
        assert {g: history[g][key] for g in rows} == {
            g: pytest.approx(r[key]) for g, r in rows.items()
        }, key
    cfg = wandb_config(offline)
    assert cfg["outer"]["population"] == 8 and cfg["env"]["name"] == "CartPole-v1"
    assert cfg["hades"]["run_id"] == logged["res"]["run_id"]
    run = wandb_run_record(offline)
    assert run.project == "hades-tests"  # WANDB_PROJECT honoured
    assert run.run_id == logged["res"]["run_id"]
    last = max(g for g, r in rows.items() if "mean_dataset_return" in r)
    assert history[last]["rollout/_type"] == "video-file"
    assert history[last]["dataset/_type"] == "image-file"
    files = offline / "files"
    assert (files / history[last]["rollout/path"]).is_file()
    rec = json.loads((run_dir / "trackers.json").read_text())
    assert rec["wandb"]["id"] == run.run_id and rec["wandb"]["mode"] == "offline"
    assert rec["tensorboard"]["dir"] == str(run_dir / "tensorboard")
    # Exactly W&B's files, nothing printed by W&B itself
    assert "wandb: WARNING" not in logged["stderr"]


def test_no_connection_leaves_the_machine(logged):
    if not STRACE:
        pytest.skip("strace is not installed (apt-get install strace)")
    assert logged["trace"].is_file()
    assert remote_connects(logged["trace"]) == []


def test_fork_branches_the_wandb_run_and_resume_continues(logged):
    parent = logged["res"]["run_id"]
    root = logged["root"] / "runs"
    r = hades(
        ["fork", parent, "--runs", str(root), "--set", "outer.generations=10",
         "--json", "--log", "wandb", "--log", "tensorboard"],
        env=wandb_env(WANDB_PROJECT="hades-tests"),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    child = Path(last_json(r.stdout)["run_dir"])
    (offline,) = wandb_offline_runs(child / "wandb")
    run = wandb_run_record(offline)
    assert run.branch_point.run == parent and run.branch_point.value == 6
    assert run.branch_point.metric == "_step"
    history = wandb_history(offline)
    assert sorted(history) == [7, 8, 9, 10]  # continues after the fork point
    assert wandb_config(offline)["hades"]["parent"]["run_id"] == parent
    # Resume the child further: TensorBoard gets the new generations only once
    r = hades(
        ["resume", child.name, "--runs", str(root), "--generations", "12", "--json",
         "--log", "tensorboard"],
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    rows = metrics_rows(child)
    series = tensorboard_series(child / "tensorboard", "fitness_mean")
    assert sorted(series) == sorted(rows) == list(range(7, 13))
    for g, row in rows.items():
        assert series[g] == pytest.approx(row["fitness_mean"], rel=1e-6)


def test_export_to_tensorboard_and_wandb(logged, tmp_path):
    run_id = logged["res"]["run_id"]
    root = logged["root"] / "runs"
    rows = metrics_rows(logged["run_dir"])
    r = hades(
        ["runs", "export", run_id, "--runs", str(root), "--to", "tensorboard",
         str(tmp_path / "tb"), "--json"],
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    out = last_json(r.stdout)
    assert out["rows"] == len(rows) and out["media_generation"] == max(rows)
    series = tensorboard_series(tmp_path / "tb" / run_id, "fitness_mean")
    assert series == pytest.approx({g: r["fitness_mean"] for g, r in rows.items()})
    assert tensorboard_run(tmp_path / "tb" / run_id).Images("rollout")[-1].step == 6
    # W&B: offline, in WANDB_DIR, the project from WANDB_PROJECT
    r = hades(
        ["runs", "export", run_id, "--runs", str(root), "--to", "wandb"],
        env=wandb_env(WANDB_PROJECT="hades-export", WANDB_DIR=str(tmp_path / "wb")),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    (offline,) = wandb_offline_runs(tmp_path / "wb")
    assert wandb_run_record(offline).project == "hades-export"
    history = wandb_history(offline)
    assert {g: history[g]["fitness_mean"] for g in rows} == pytest.approx(
        {g: r["fitness_mean"] for g, r in rows.items()}
    )
    # The zip export still works
    r = hades(["runs", "export", run_id, "--runs", str(root), "--out",
               str(tmp_path / "run.zip")])  # fmt: skip
    assert r.returncode == 0 and (tmp_path / "run.zip").is_file(), r.stderr


def test_unreachable_wandb_server_warns_once_and_the_run_finishes(tmp_path):
    """W&B online, its server a closed port on 127.0.0.1: one warning, and the
    run's metrics.jsonl is complete."""
    trace = tmp_path / "strace.txt"
    env = wandb_env(WANDB_MODE="online", WANDB_API_KEY="x" * 40)
    r = hades(
        ["distill", *TINY, "--runs", str(tmp_path / "runs"), "--json",
         "--log", "wandb", "--log", "tensorboard"],
        env=env, trace=trace,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    res = last_json(r.stdout)
    assert res["status"] == "finished" and res["generations"] == 6
    assert sorted(metrics_rows(Path(res["run_dir"]))) == [1, 2, 3, 4, 5, 6]
    warnings = [x for x in r.stderr.splitlines() if "warning" in x.lower()]
    assert len(warnings) == 1, r.stderr
    assert "wandb" in warnings[0] and "metrics.jsonl" in warnings[0]
    # TensorBoard was not held back by W&B
    series = tensorboard_series(Path(res["run_dir"]) / "tensorboard", "fitness_mean")
    assert sorted(series) == [1, 2, 3, 4, 5, 6]
    if STRACE:
        assert remote_connects(trace) == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--log", "unknown"], "unknown tracker"),
        (["--log", "tensorboard", "--tensorboard-dir", "{file}/tb"], "cannot write"),
        (["--tensorboard-dir", "{tmp}/tb"], "needs --log tensorboard"),
        (["--log", "wandb"], "pip install 'hades-studio[wandb]'"),
    ],
    ids=["unknown", "unwritable-dir", "dir-without-log", "missing-extra"],
)
def test_bad_tracker_input_is_one_line_before_the_run(tmp_path, args, message):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    args = [x.format(file=a_file, tmp=tmp_path) for x in args]
    runs = tmp_path / "runs"
    cli = ["distill", *TINY, "--runs", str(runs), *args]
    if "wandb" in args:  # the extra not installed: the import fails as it would
        code = (
            "import sys; sys.modules['wandb'] = None; from engine.cli import main; "
            f"sys.exit(main({cli!r}))"
        )
        r = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=wandb_env(),
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    else:
        r = hades(cli)
    assert r.returncode == 2, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    # Nothing started: no run directory
    assert not runs.exists() or not [p for p in runs.iterdir() if p.is_dir()]


SWEEP_TINY = [
    "--env", "CartPole-v1", "--size", "4", "--preset", "quick", "--ray", "none",
    "--set", "outer.generations=4", "--set", "outer.population=8",
    "--set", "outer.chunk=2", "--set", "outer.eval_every=2",
    "--set", "inner.width=16", "--set", "inner.steps=10",
    "--set", "fitness.num_envs=2", "--set", "fitness.num_steps=50",
]  # fmt: skip


def test_sweep_logs_every_run_to_its_tracker(tmp_path):
    """`hades sweep --log tensorboard`: each run of the grid writes its own event
    files with its metrics; the sweep records the trackers for `sweep resume`;
    a bad --log is one line before any run or sweep exists."""
    runs = tmp_path / "runs"
    bad = hades(["sweep", *SWEEP_TINY, "--seeds", "0", "--log", "nope",
                 "--runs", str(runs)])  # fmt: skip
    assert bad.returncode == 2 and "unknown tracker" in bad.stderr, bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert not runs.exists() or not any(runs.iterdir())

    r = hades(["sweep", *SWEEP_TINY, "--seeds", "0-1", "--log", "tensorboard",
               "--runs", str(runs), "--json"])  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    res = last_json(r.stdout)
    assert len(res["runs"]) == 2 and set(res["statuses"].values()) == {"finished"}
    for rid in res["runs"]:
        rows = metrics_rows(runs / rid)
        series = tensorboard_series(runs / rid / "tensorboard", "fitness_mean")
        assert sorted(series) == sorted(rows) == [1, 2, 3, 4]
        for g, row in rows.items():
            assert series[g] == pytest.approx(row["fitness_mean"], rel=1e-6)
    record = json.loads((runs / "sweeps" / res["sweep"] / "sweep.json").read_text())
    assert record["trackers"] == {"log": ["tensorboard"], "tensorboard_dir": None}


def test_sweep_resume_keeps_the_recorded_trackers_unless_told(tmp_path):
    from argparse import Namespace

    from engine.sweeps.cli import _trackers

    recorded = {"log": ["tensorboard"], "tensorboard_dir": str(tmp_path)}
    assert _trackers(Namespace(log=None, tensorboard_dir=None), recorded) == recorded
    assert _trackers(Namespace(log=None, tensorboard_dir=None), {}) == {}
    told = _trackers(Namespace(log=["tensorboard"], tensorboard_dir=None), recorded)
    assert told == {"log": ["tensorboard"], "tensorboard_dir": None}
