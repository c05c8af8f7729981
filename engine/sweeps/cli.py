"""`hades sweep`: a grid of runs executed on Ray; `status`, `resume`, `list`.

::

    hades sweep --env CartPole-v1,Acrobot-v1 --size 1,4,16 --seeds 0-4 \\
        --preset quick --ray local [--set outer.lr=0.01,0.03] [--json]
    hades sweep status SWEEP [--json]
    hades sweep resume SWEEP [--ray ADDRESS]
    hades sweep list [--json]

Flags come from `SweepSpec` and `RaySettings` (their field docstrings are the help).
Bad input (an unknown environment, ``--seeds 3-1``, a bad ``--set``, an unreachable
``--ray`` address) is one line on stderr, exit 2, before any run is created.
Progress goes to stdout (stderr with ``--json``, whose last line is one object:
sweep, runs, statuses, seconds). Exit 0 when every run finished, 1 when one did
not, 130 when interrupted (``hades sweep resume`` continues; finished runs are
never redone).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
import time

from engine.config import field_docs
from engine.runs.errors import RunError
from engine.runs.store import RunStore, jsonable
from engine.sweeps.grid import SweepError, SweepSpec

# Flag of each declared field (the grid's, then the execution's)
SPEC_FLAGS = {
    "envs": "--env",
    "sizes": "--size",
    "seeds": "--seeds",
    "preset": "--preset",
    "overrides": "--set",
}
RAY_FLAGS = {
    "address": "--ray",
    "cpus_per_run": "--cpus-per-run",
    "gpus_per_run": "--gpus-per-run",
    "max_retries": "--max-retries",
    "local_cpus": "--local-cpus",
}


def _guard(fn):
    def wrapped(args) -> int:
        try:
            return fn(args)
        except (SweepError, RunError, ValueError) as e:
            print(f"hades sweep: {e}", file=sys.stderr)
            return 2

    wrapped.__name__ = fn.__name__
    return wrapped


def _execute_here(executor, todo: list[str]) -> int:
    """The runs one after another in this process. The first Ctrl-C or SIGTERM
    stops the run executing at its next chunk boundary (checkpoint, status
    stopped) and starts no other, as `hades distill` does; returns 130 then."""
    from engine.runs.cli import stop_on_first_signal
    from engine.runs.control import Control

    control = Control()
    stop_now = stop_on_first_signal(
        lambda: control.stop("interrupted"),
        "interrupted: stopping the run at the end of this chunk (checkpoint "
        "written); press Ctrl-C again to stop now",
    )
    with stop_now as signalled:
        executor(todo, control)
    return 130 if signalled else 0


@contextlib.contextmanager
def _sigterm_interrupts():
    """SIGTERM acts as Ctrl-C (runs checkpoint and stop) in the main thread."""
    old = None
    if threading.current_thread() is threading.main_thread():

        def on_term(signum, frame):
            raise KeyboardInterrupt

        old = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def _settings(args, recorded: dict | None = None):
    from engine.sweeps.ray_cluster import RaySettings

    return RaySettings.from_dict(
        recorded, **{f: getattr(args, f, None) for f in RAY_FLAGS}
    )


def _driver_on_cpu(settings) -> None:
    """A driver on Ray only creates and watches runs: keep its JAX on the CPU, so
    that it holds no GPU memory the runs of this node need. Called before anything
    starts JAX's backends (building a config does: evosax makes arrays)."""
    if settings.uses_ray:
        import jax

        jax.config.update("jax_platforms", "cpu")


def _trackers(args, recorded: dict | None = None) -> dict:
    """{"log", "tensorboard_dir"} from --log / --tensorboard-dir, checked before
    anything is created (TrackerError, one line); a resume without --log keeps
    what the sweep recorded."""
    from engine.trackers.cli import check_tracker_flags

    if getattr(args, "log", None) is None and recorded:
        args.log = recorded.get("log")
        if getattr(args, "tensorboard_dir", None) is None:
            args.tensorboard_dir = recorded.get("tensorboard_dir")
    names = check_tracker_flags(args)
    if not names:
        return {}
    return {"log": list(names), "tensorboard_dir": args.tensorboard_dir}


def execute_sweep(store: RunStore, sweep, settings, args, t0: float) -> int:
    """Execute the sweep's unfinished runs (Ray session open when needed); print
    progress and, with --json, the final object. The caller holds the sweep's
    driver claim."""
    from engine.sweeps.execute import Executor, select
    from engine.sweeps.progress import SweepProgress

    out = sys.stderr if args.json else sys.stdout
    slots = {p["run_id"]: p["slot"] for p in sweep.points if p.get("run_id")}
    todo, skipped = select(store, sweep.run_ids)
    if not args.quiet:
        for rid, why in skipped.items():
            print(f"skip {slots[rid]}  run {rid}: {why}", file=out, flush=True)
        print(
            f"sweep {sweep.sweep_id}: {len(todo)} of {len(sweep.run_ids)} runs to "
            f"execute, {settings.describe()}; runs root {store.root}",
            file=out,
            flush=True,
        )
    progress = SweepProgress(store, slots, todo, out=out, quiet=args.quiet)

    def on_event(ev: dict) -> None:
        progress(ev)
        sweep.beat_driver()

    code = 0
    executor = Executor(store, settings, on_event, trackers=sweep.data.get("trackers"))
    try:
        if settings.uses_ray:
            with _sigterm_interrupts():  # the driver stops the Ray tasks' runs
                executor(todo)
        else:
            code = _execute_here(executor, todo)
    except KeyboardInterrupt:
        code = 130
    statuses = {rid: store.read_status(rid).get("status") for rid in sweep.run_ids}
    counts: dict[str, int] = {}
    for s in statuses.values():
        counts[s] = counts.get(s, 0) + 1
    seconds = time.time() - t0
    if not args.quiet:
        tally = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        print(
            f"sweep {sweep.sweep_id}: {tally} in {seconds:.1f} s"
            + (f" (interrupted: hades sweep resume {sweep.sweep_id})" if code else ""),
            file=out,
            flush=True,
        )
    if args.json:
        print(
            json.dumps(
                jsonable(
                    {
                        "sweep": sweep.sweep_id,
                        "runs": sweep.run_ids,
                        "statuses": statuses,
                        "seconds": round(seconds, 3),
                    }
                )
            ),
            flush=True,
        )
    if code:
        return code
    return 0 if all(s == "finished" for s in statuses.values()) else 1


@contextlib.contextmanager
def _maybe_session(settings):
    from engine.sweeps.ray_cluster import session

    if not settings.uses_ray:
        yield None
        return
    with session(settings) as info:
        yield info


@_guard
def cmd_sweep(args) -> int:
    from engine.sweeps import record
    from engine.sweeps.grid import expand

    t0 = time.time()
    settings = _settings(args)
    trackers = _trackers(args)
    _driver_on_cpu(settings)
    spec = SweepSpec.from_text(
        args.envs, args.sizes, args.seeds, args.preset, args.overrides
    )
    points = expand(spec)
    store = RunStore(args.runs)
    store.check_writable()
    try:
        with _maybe_session(settings):
            sweep = record.create(
                store,
                spec,
                points,
                settings.to_dict(),
                name=args.name or "",
                trackers=trackers,
            )
            sweep.claim_driver()
            try:
                return execute_sweep(store, sweep, settings, args, t0)
            finally:
                sweep.release_driver()
    except KeyboardInterrupt:  # while Ray started or the runs were created
        print("hades sweep: interrupted", file=sys.stderr)
        return 130


@_guard
def cmd_resume(args) -> int:
    from engine.sweeps import record
    from engine.sweeps.grid import expand

    t0 = time.time()
    store = RunStore(args.runs)
    sweep = record.load(store, args.sweep)
    settings = _settings(args, sweep.data.get("execution"))
    trackers = _trackers(args, sweep.data.get("trackers"))
    _driver_on_cpu(settings)
    missing = [p for p in sweep.points if not p.get("run_id")]
    points = {p.slot: p for p in expand(sweep.spec)} if missing else {}
    sweep.claim_driver()  # before Ray starts: a second driver stops here
    try:
        if trackers != (sweep.data.get("trackers") or {}):
            sweep.data["trackers"] = trackers  # the runs executed from now on log
            sweep.save()
        with _maybe_session(settings):
            record.fill_runs(store, sweep, points)
            return execute_sweep(store, sweep, settings, args, t0)
    except KeyboardInterrupt:
        print("hades sweep: interrupted", file=sys.stderr)
        return 130
    finally:
        sweep.release_driver()


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.1f}"


@_guard
def cmd_status(args) -> int:
    from engine.sweeps import record

    store = RunStore(args.runs)
    sweep = record.load(store, args.sweep)
    rows = record.status_rows(store, sweep)
    if args.json:
        print(
            json.dumps(
                jsonable(
                    {
                        "sweep": sweep.sweep_id,
                        "runs": [r["run_id"] for r in rows],
                        "statuses": {r["run_id"]: r["status"] for r in rows},
                        "rows": rows,
                        "spec": sweep.data.get("spec"),
                        "execution": sweep.data.get("execution"),
                    }
                )
            )
        )
        return 0
    cells = [["slot", "run", "status", "gen", "best", "mean-ds"]]
    for r in rows:
        status = r["status"] or "?"
        if r["message"] and status in ("failed", "stopped"):
            status = f"{status}: {r['message'][:40]}"
        cells.append(
            [
                r["slot"],
                r["run_id"] or "-",
                status,
                f"{r['generation']}/{r['total_generations'] or '?'}",
                _fmt(r["best_fitness"]),
                _fmt(r["mean_dataset_return"]),
            ]
        )
    widths = [max(len(c[i]) for c in cells) for i in range(len(cells[0]))]
    print(f"sweep {sweep.sweep_id} ({len(rows)} runs) in {sweep.path}")
    for line in cells:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    return 0


@_guard
def cmd_list(args) -> int:
    from engine.sweeps import record

    store = RunStore(args.runs)
    out = []
    for sw in record.list_sweeps(store):
        counts: dict[str, int] = {}
        for r in record.status_rows(store, sw):
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        out.append(
            {
                "sweep": sw.sweep_id,
                "name": sw.data.get("name", ""),
                "created": sw.data.get("created"),
                "runs": len(sw.points),
                "statuses": counts,
                "spec": sw.data.get("spec"),
            }
        )
    if args.json:
        print(json.dumps(jsonable(out)))
    elif not out:
        print(f"no sweeps under {store.root}")
    for r in [] if args.json else out:
        tally = ", ".join(f"{n} {s}" for s, n in sorted(r["statuses"].items()))
        print(f"{r['sweep']}  {r['runs']} runs: {tally}")
    return 0


# Parser ----------
def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--runs",
        help="Runs root (default $HADES_HOME/runs or ~/.hades/runs); with Ray, a "
        "shared filesystem every node mounts at the same path.",
    )
    p.add_argument("--json", action="store_true", help="Last line: one JSON object.")


def add_ray_flags(p: argparse.ArgumentParser, mode: str = "launch") -> None:
    """Flags of `RaySettings`. `mode` launch: the declared defaults; resume: None
    (the sweep's recorded settings apply unless a flag is given); study: None
    (without --ray the study's runs execute in its process)."""
    from engine.sweeps.ray_cluster import RaySettings

    docs = field_docs(RaySettings)
    fields = RaySettings.__dataclass_fields__
    types = {"address": str, "cpus_per_run": float, "gpus_per_run": float}
    for name, flag in RAY_FLAGS.items():
        declared = fields[name].default
        if mode == "resume":
            note = " Default: as recorded in the sweep."
        elif mode == "study" and name == "address":
            note = " Default: the study's runs execute in its own process."
        else:
            note = "" if declared is None else f" Default: {declared}."
        p.add_argument(
            flag,
            dest=name,
            type=types.get(name, int),
            default=declared if mode == "launch" else None,
            metavar=flag.lstrip("-").upper().replace("-", "_"),
            help=docs[name] + note,
        )


def register(sub) -> None:
    """Add `sweep` (and status, resume, list) to the `hades` parser's subparsers."""
    from engine.presets import BENCHMARKS, PRESETS
    from engine.trackers.cli import add_tracker_flags

    docs = field_docs(SweepSpec)
    p = sub.add_parser(
        "sweep",
        help="A grid of runs (environments x sizes x seeds x --set values), "
        "executed on Ray; status, resume and list sweeps.",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument(
        "--env", dest="envs", default="CartPole-v1", metavar="ENVS", help=docs["envs"]
    )
    p.add_argument("--size", dest="sizes", metavar="SIZES", help=docs["sizes"])
    p.add_argument("--seeds", default="0", metavar="SEEDS", help=docs["seeds"])
    p.add_argument(
        "--preset", default="quick", choices=PRESETS + BENCHMARKS, help=docs["preset"]
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        metavar="SECTION.FIELD=V1,V2",
        help=docs["overrides"],
    )
    add_ray_flags(p)
    add_tracker_flags(p)
    p.add_argument("--name", help="A label for the sweep.")
    p.add_argument("--quiet", action="store_true", help="No progress lines.")
    _common(p)
    p.set_defaults(func=cmd_sweep)
    ssub = p.add_subparsers(dest="sweep_cmd", metavar="{status,resume,list}")
    s = ssub.add_parser(
        "status", help="Per-run status, progress, best fitness, mean-dataset return."
    )
    s.add_argument("sweep", help="Sweep id (or a unique prefix).")
    _common(s)
    s.set_defaults(func=cmd_status)
    s = ssub.add_parser(
        "resume", help="Execute the sweep's unfinished runs (finished ones are kept)."
    )
    s.add_argument("sweep", help="Sweep id (or a unique prefix).")
    add_ray_flags(s, "resume")
    add_tracker_flags(s)
    s.add_argument("--quiet", action="store_true", help="No progress lines.")
    _common(s)
    s.set_defaults(func=cmd_resume)
    s = ssub.add_parser("list", help="The sweeps under the runs root.")
    _common(s)
    s.set_defaults(func=cmd_list)
