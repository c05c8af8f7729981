"""The talk clip (`hades render RUN --talk`): decodes as H.264 with imageio, has the
expected number of frames, is not blank, changes over time, and comes with a GIF;
a run without checkpoints or a dataset file gets a one-line error."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import imageio.v2 as imageio
import numpy as np
import pytest
from conftest import ROOT, tiny_cartpole
from PIL import Image


def _cli(*args, timeout=900):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from engine.runs import Runner

    root = tmp_path_factory.mktemp("talk-runs")
    r = Runner.create(tiny_cartpole(), root=root, name="talk", keep_last=10)
    assert r.run()["status"] == "finished"
    return root, r.run_id


def test_talk_clip_h264_frames_not_blank(run, tmp_path):
    from engine.render.talk import expected_frames

    root, run_id = run
    out = tmp_path / "talk.mp4"
    r = _cli("render", run_id, "--talk", "--out", out, "--gif", "--json",
             "--runs", root)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    info = json.loads(r.stdout.strip().splitlines()[-1])
    assert info["generations"] == [2, 4]  # both checkpoints of the tiny run
    assert info["frames"] == expected_frames(2, info["rollout_frames"])
    reader = imageio.get_reader(out, "ffmpeg")
    meta = reader.get_meta_data()
    assert meta["codec"] == "h264", meta
    assert tuple(meta["size"]) == tuple(info["frame_size"])
    hold = info["hold_frames"]
    count, keep, stds = 0, {}, []
    for i, f in enumerate(reader):  # one frame at a time (each is 1.5 MB)
        count += 1
        stds.append(float(f.std()))
        if i in (0, hold - 1, hold):
            keep[i] = f.astype(float)
        last = f.astype(float)
    reader.close()
    assert count == info["frames"]
    assert min(stds) > 20  # no blank frame
    assert np.abs(keep[0] - last).mean() > 5  # dataset stills, then the rollout
    # Each checkpoint's still is held, then the next generation is drawn
    assert np.abs(keep[0] - keep[hold - 1]).mean() < 3
    assert np.abs(keep[0] - keep[hold]).mean() > 0.5
    gif = out.with_suffix(".gif")
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames >= 3  # equal frames are merged
        assert im.size == (info["frame_size"][0] // 2, info["frame_size"][1] // 2)
        ms = 0
        for k in range(im.n_frames):
            im.seek(k)
            ms += im.info["duration"]
    # The GIF lasts as long as the video
    assert ms / 1000 == pytest.approx(info["frames"] / info["fps"], rel=0.1)


def test_talk_clip_bad_inputs(run, tmp_path):
    from engine import dataset as ds_lib
    from engine.runs import RunStore

    root, run_id = run
    store = RunStore(root)
    bare = store.create(tiny_cartpole(), name="no-checkpoints").run_id
    ds = ds_lib.load(store.paths(run_id).dataset)
    file = ds_lib.save(ds, tmp_path / "ds.npz")
    cases = [
        (("render", bare, "--talk", "--runs", root), "no checkpoints"),
        (("render", file, "--talk", "--runs", root), "needs a run"),
        (("render", "nope", "--talk", "--runs", root), "no run"),
        (("render", run_id, "--talk", "--out", tmp_path / "x.avi", "--runs", root),
         "must end in .mp4 or .gif"),
    ]  # fmt: skip
    for args, words in cases:
        r = _cli(*args, timeout=300)
        assert r.returncode == 2, (args, r.stderr[-2000:])
        assert "Traceback" not in r.stderr, r.stderr
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and words in lines[0], (args, r.stderr)


def test_select_generations_and_resample():
    from engine.render.talk import resample, select_generations

    gens = list(range(0, 1000, 10))
    picked = select_generations(gens, 24)
    assert len(picked) == 24 and picked[0] == 0 and picked[-1] == 990
    assert select_generations([5, 1, 5, 3]) == [1, 3, 5]
    frames = np.arange(30)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    out = resample(frames, 30.0, 15.0)
    assert len(out) == 15 and out[1, 0, 0, 0] == 2
    assert len(resample(frames, 10.0, 15.0)) == 45
