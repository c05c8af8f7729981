"""Frames per second of Brax rendering (hopper, 320x240) on this machine.

Each GL backend runs in its own process (MuJoCo and PyOpenGL bind one per process).
For each: shadows and reflections on and off; "render" is mj_forward + update_scene
+ render of one frame, "frame" adds the step/return text overlay (what a rollout
video costs per frame). Also: H.264 encoding speed of those frames.

    PYTHONPATH=. python benchmarks/bench_render.py [--seconds 3] [--size 320x240]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def _trajectory(n: int, nq: int):
    import numpy as np

    t = np.arange(n)[:, None]
    q = 0.3 * np.sin(0.05 * t + np.arange(nq)[None, :])
    q[:, 0] = 0.01 * t[:, 0]  # walk forward
    q[:, 1] = 0.1 * np.sin(0.1 * t[:, 0])
    return q


def worker(env: str, size, seconds: float) -> dict:
    from engine.render import gl_backend, text
    from engine.render.brax_pose import Scene
    from engine.render.video import write_mp4

    backend = gl_backend()
    out = {"backend": backend, "env": env, "size": f"{size[0]}x{size[1]}"}
    for shadows in (True, False):
        with Scene(env, size, shadows=shadows) as scene:
            qs = _trajectory(100_000, scene.model.nq)
            scene.render_qpos(qs[0])  # warm up
            for name, overlay in (("render", False), ("frame", True)):
                n, t0 = 0, time.perf_counter()
                frames = []
                while time.perf_counter() - t0 < seconds:
                    img = scene.render_qpos(qs[n])
                    if overlay:
                        img = text.overlay(img, [f"{env}  step {n}", "return 0.0"])
                        frames.append(img)
                    n += 1
                key = f"{name}_fps_shadows_{'on' if shadows else 'off'}"
                out[key] = round(n / (time.perf_counter() - t0), 1)
    t0 = time.perf_counter()
    path = f"/tmp/bench_render_{os.getpid()}.mp4"
    write_mp4(frames, path, fps=30)
    out["mp4_encode_fps"] = round(len(frames) / (time.perf_counter() - t0), 1)
    os.unlink(path)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="hopper")
    ap.add_argument("--size", default="320x240")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--backends", default="egl,osmesa")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json", default="", help="also write the results here")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    if args.worker:
        print("RESULT " + json.dumps(worker(args.env, size, args.seconds)))
        return
    rows = []
    for backend in args.backends.split(","):
        env = {**os.environ, "MUJOCO_GL": backend}
        env.pop("PYOPENGL_PLATFORM", None)
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            "--env",
            args.env,
            "--size",
            args.size,
            "--seconds",
            str(args.seconds),
        ]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True)
        line = [x for x in res.stdout.splitlines() if x.startswith("RESULT ")]
        if res.returncode or not line:
            err = (res.stderr.strip().splitlines() or ["?"])[-1]
            rows.append({"backend": backend, "error": err})
        else:
            rows.append(json.loads(line[-1][7:]))
    cpu = os.cpu_count()
    print(f"Brax {args.env} rendering at {args.size}, {cpu} CPU cores (frames/s)")
    cols = [
        "render_fps_shadows_on",
        "frame_fps_shadows_on",
        "render_fps_shadows_off",
        "frame_fps_shadows_off",
        "mp4_encode_fps",
    ]
    print(f"{'backend':8s} " + " ".join(f"{c:>22s}" for c in cols))
    for r in rows:
        if "error" in r:
            print(f"{r['backend']:8s} unavailable: {r['error']}")
        else:
            print(f"{r['backend']:8s} " + " ".join(f"{r[c]:>22}" for c in cols))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
