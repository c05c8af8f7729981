"""Faults held by the real `hades` CLI (engine/cli.py), one test per class of
issue 14: hostile files in bounded memory, one-line errors instead of tracebacks,
damaged metrics lines and configs, a full or read-only disk under `runs list`.

Every command runs in a subprocess; its peak memory is its maximum resident set
size from `wait4`, measured from outside.
"""

from __future__ import annotations

import json
import pickle
import shutil

import pytest

from engine.paper_import import MAX_OPCODES
from engine.runs.store import scan_lines
from tests.cli_run import TINY_DISTILL, assert_one_line_error, fill, hades, tmpfs
from tests.hostile_files import huge_shape, many_objects_pickle, zip_bomb

TINY_RUN = TINY_DISTILL
HOSTILE_MARGIN = 64 * 2**20
"""Peak memory a hostile file may add to the command's baseline."""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    nested = [1.0]
    for _ in range(40):  # shared lists: 2**40 leaves once expanded
        nested = [nested, nested]
    (d / "expanding.pkl").write_bytes(pickle.dumps({"config": nested}))
    return {
        "objects": many_objects_pickle(d / "objects.pkl", MAX_OPCODES),
        "bomb": zip_bomb(d / "bomb.npz", 8 * 2**30),
        "huge": huge_shape(d / "huge.npz"),
        "pickle": d / "expanding.pkl",
        "dir": d,
    }


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A finished 4-generation CartPole run made by `hades distill`."""
    root = tmp_path_factory.mktemp("runs")
    res = hades(*TINY_RUN, "--runs", root)
    assert res.code == 0, res.err
    return root, json.loads(res.out.splitlines()[-1])["run_id"]


def test_hostile_files_refused_in_bounded_memory(hostile):
    assert hostile["bomb"].stat().st_size < 10 * 2**20  # a few MB on disk
    baseline = hades("evaluate", hostile["dir"] / "missing.npz")
    assert_one_line_error(baseline, "no such file")
    cases = [
        (("evaluate", hostile["bomb"]), "declares 8192.0 MiB uncompressed"),
        (("render", hostile["bomb"], "--states"), "refused before inflating"),
        (("evaluate", hostile["huge"]), "(1000000000000, 4)"),
        (("render", hostile["huge"], "--rollout"), "CartPole-v1 needs at most"),
        (("import", hostile["pickle"]), "more than 200000 values"),
        (("evaluate", hostile["pickle"]), "shared objects"),
        (("import", hostile["objects"]), "more than 200000 values"),
    ]
    for args, fragment in cases:
        res = hades(*args)
        assert_one_line_error(res, fragment)
        # 16.9 GB before the fix for the bomb; now the baseline plus a header
        assert res.max_rss < baseline.max_rss + HOSTILE_MARGIN, (
            args,
            res.max_rss / 2**20,
            baseline.max_rss / 2**20,
        )


def test_bad_inputs_end_in_one_line_without_traceback(tmp_path, hostile):
    afile = tmp_path / "afile"
    afile.write_text("not a dataset")
    cases = [
        (("evaluate", tmp_path / "nope.npz"), "no such file"),
        (("evaluate", tmp_path), "is a directory"),
        (("evaluate", "/dev/zero"), "not a regular file"),
        (("evaluate", afile), "not a zip archive"),
        (("render", tmp_path / "nope.npz", "--states"), "no such file"),
        (("render", tmp_path, "--states"), "is a directory"),
        (("render", "/dev/zero", "--states"), "not a regular file"),
        (("render", afile, "--states", "--rollout"), "exactly one of"),
        (("import", tmp_path / "nope.pkl"), "no such file"),
        (("import", "/dev/zero"), "not a regular file"),
        (("evaluate", "no-such-run", "--runs", tmp_path), "no run 'no-such-run'"),
        (("distill", "--env", "NoSuchEnv-v0", "--runs", tmp_path), "known: "),
        (("distill", "--runs", afile), "is a file, not a directory"),
        (("runs", "list", "--runs", afile), "is a file, not a directory"),
        (("resume", "x", "--runs", tmp_path), "see `hades runs list`"),
        (("distill", "--set", "outer.population=many"), "outer.population"),
        (("distill", "--no-such-flag"), "see hades --help"),
    ]
    for args, fragment in cases:
        assert_one_line_error(hades(*args), fragment)
    # The traceback when asked for it
    for res in (
        hades("evaluate", "/dev/zero", "--debug"),
        hades("evaluate", "/dev/zero", env={"HADES_DEBUG": "1"}),
    ):
        assert res.code != 0 and "Traceback" in res.err and "DatasetError" in res.err


def test_runs_root_read_only_or_too_small(tmp_path):
    with tmpfs(tmp_path / "ro", "4m", read_only=True) as ro:
        if ro is None:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        res = hades(*TINY_RUN, "--runs", ro / "runs")
        assert_one_line_error(res, "cannot be created", "--runs or HADES_HOME")
    with tmpfs(tmp_path / "small", "2m") as small:
        res = hades(*TINY_RUN, "--runs", small)
        assert_one_line_error(res, "MiB free", "needs about", "free space")
        assert not [p for p in small.iterdir() if not p.name.startswith(".")]


def test_damaged_metrics_line_and_config(tiny_run, tmp_path):
    src_root, run_id = tiny_run
    root = tmp_path / "runs"
    shutil.copytree(src_root, root)
    metrics = root / run_id / "metrics.jsonl"
    lines = metrics.read_text().splitlines()
    lines.insert(2, "{this is not json")
    lines.insert(4, json.dumps({"generation": "two", "fitness_mean": 1.0}))
    metrics.write_text("\n".join(lines) + "\n")
    # A second run whose config.json is unreadable
    shutil.copytree(root / run_id, root / "damaged-run")
    (root / "damaged-run" / "config.json").write_text('{"format": "hades-run", ')

    res = hades("runs", "show", run_id, "--runs", root)
    assert res.code == 0 and "Traceback" not in res.err, res.err
    assert "line 3: not JSON" in res.err and "line 5: generation 'two'" in res.err

    res = hades("runs", "list", "--runs", root, "--json")
    assert res.code == 0 and "Traceback" not in res.err, res.err
    rows = {r["id"]: r for r in json.loads(res.out)}
    assert rows[run_id]["status"] == "finished"
    damaged = rows["damaged-run"]
    assert damaged["status"] == "damaged" and not damaged["resumable"]
    assert "config.json is not valid JSON" in damaged["message"]
    table = hades("runs", "list", "--runs", root)
    assert "damaged: config.json is not valid JSON" in table.out
    assert_one_line_error(
        hades("resume", "damaged-run", "--runs", root), "is damaged", "config.json"
    )

    res = hades("resume", run_id, "--generations", "6", "--runs", root, "--json")
    assert res.code == 0 and "Traceback" not in res.err, res.err
    assert "hades: warning:" in res.err and "line 3: not JSON" in res.err
    summary = json.loads(res.out.splitlines()[-1])
    assert summary["status"] == "finished" and summary["generations"] == 6
    rows, damaged = scan_lines(metrics.read_bytes())
    assert [r["generation"] for r in rows if "event" not in r] == [1, 2, 3, 4, 5, 6]
    assert [n for n, _ in damaged] == [3, 5]  # kept as they were, not deleted


def test_runs_list_on_a_full_disk(tiny_run, tmp_path):
    src_root, run_id = tiny_run
    with tmpfs(tmp_path / "full", "8m") as mnt:
        if mnt is None:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        root = mnt / "runs"
        shutil.copytree(src_root, root, ignore=shutil.ignore_patterns("index*"))
        fill(mnt)
        res = hades("runs", "list", "--runs", root, "--json")
        assert res.code == 0 and "Traceback" not in res.err, res.err
        assert "hades: warning: the run index" in res.err and "read-only" in res.err
        assert [r["id"] for r in json.loads(res.out)] == [run_id]
        res = hades("runs", "show", run_id, "--runs", root)
        assert res.code == 0 and "finished" in res.out, res.err
