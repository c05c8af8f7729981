"""CLI commands of the run store: `hades runs ...`, `hades resume`, `hades fork`.

`register(subparsers)` adds them to the `hades` parser; every handler is
`func(args) -> int` (0 ok, 1 the run failed, 2 a usage or store error, 130
interrupted). Each takes ``--runs ROOT`` (default: `default_root()`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
import time

from engine.runs.errors import RunError
from engine.runs.store import RunStore, jsonable


# Formatting ----------
def _num(x, fmt: str = ".1f") -> str:
    return "-" if x is None else format(x, fmt)


def format_duration(seconds) -> str:
    if seconds is None:
        return "-"
    s = int(round(seconds))
    if s >= 86400:
        return f"{s // 86400}d{s % 86400 // 3600:02d}h"
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def format_progress(event: dict) -> str:
    """One line for a progress event: generation, fitness mean/max, mean-dataset
    return, sigma, lr, s/gen, ETA and, apart, compile time."""
    gen = event.get("generation", 0)
    total = event.get("total_generations") or "?"
    bar = ""
    if isinstance(total, int) and total > 0:
        filled = min(20, int(20 * gen / total))
        bar = "[" + "#" * filled + "-" * (20 - filled) + "] "
    head = f"{bar}gen {gen}/{total}"
    if event.get("kind") == "status" or not event.get("metrics"):
        msg = event.get("message") or ""
        return f"{head} | {event.get('status')}" + (f": {msg}" if msg else "")
    row = event["metrics"][-1]
    parts = [
        head,
        f"fitness mean {_num(row.get('fitness_mean'))} "
        f"max {_num(row.get('fitness_max'))}",
    ]
    if event.get("mean_dataset_return") is not None:
        parts.append(f"mean-dataset {_num(event['mean_dataset_return'])}")
    parts.append(f"sigma {_num(row.get('sigma'), '.3g')}")
    if row.get("lr") is not None:
        parts.append(f"lr {_num(row.get('lr'), '.3g')}")
    nans = sum(int(r.get("nan_count") or 0) for r in event["metrics"])
    if nans:
        parts.append(f"NaN {nans}")
    if event.get("compiled"):
        parts.append(f"compiled in {_num(event.get('compile_seconds'))} s")
    else:
        parts.append(f"{_num(event.get('seconds_per_generation'), '.3f')} s/gen")
    parts.append(f"ETA {format_duration(event.get('eta_seconds'))}")
    return " | ".join(parts)


def _table(rows: list[dict]) -> str:
    cols = [
        ("id", "run"),
        ("name", "name"),
        ("env", "env"),
        ("size", "N"),
        ("strategy", "strategy"),
        ("population", "pop"),
        ("seed", "seed"),
        ("status", "status"),
        ("generation", "gen"),
        ("best_fitness", "best"),
        ("mean_dataset_return", "mean-ds"),
    ]
    cells = [[h for _, h in cols]]
    for r in rows:
        line = []
        for k, _ in cols:
            v = r.get(k)
            if k == "generation":
                v = f"{v}/{r.get('total_generations')}"
            elif isinstance(v, float):
                v = f"{v:.1f}"
            elif k == "status" and r.get("message") and v == "failed":
                v = f"failed: {r['message'][:40]}"
            line.append("" if v is None else str(v))
        cells.append(line)
    widths = [max(len(c[i]) for c in cells) for i in range(len(cols))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )


# Handlers ----------
def _store(args) -> RunStore:
    return RunStore(getattr(args, "runs", None))


def _guard(fn):
    def wrapped(args) -> int:
        try:
            return fn(args)
        except RunError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        except ValueError as e:  # ConfigError included
            print(f"error: {e}", file=sys.stderr)
            return 2

    wrapped.__name__ = fn.__name__
    wrapped.__doc__ = fn.__doc__
    return wrapped


@_guard
def cmd_list(args) -> int:
    rows = _store(args).list(
        env=args.env, status=args.status, sort=args.sort, desc=not args.asc
    )
    if args.json:
        print(json.dumps(jsonable(rows)))
    elif rows:
        print(_table(rows))
    else:
        print(f"no runs under {_store(args).root}")
    return 0


@_guard
def cmd_show(args) -> int:
    store = _store(args)
    info = store.get(args.run)
    if args.json:
        info["metrics_tail"] = store.read_metrics(args.run)[-args.metrics :]
        print(json.dumps(jsonable(info)))
        return 0
    st = info["status"]
    cfg = info["config"] or {}
    print(f"run       {info['run_id']}  {info['name']}".rstrip())
    print(f"dir       {info['run_dir']}")
    msg = f": {st.get('message')}" if st.get("message") else ""
    print(
        f"status    {st['status']}{msg}  (generation {st.get('generation')}/"
        f"{st.get('total_generations')})"
    )
    if st["status"] == "failed" and st.get("resumable"):
        print(f"          resume with: hades resume {info['run_id']}")
    o = cfg.get("outer", {})
    env, size = cfg.get("env", {}).get("name"), cfg.get("dataset", {}).get("size")
    print(
        f"config    {env} N={size}"
        f" {o.get('strategy')} pop={o.get('population')} seed={cfg.get('seed')}"
        f" preset={cfg.get('preset')}"
    )
    if info.get("parent"):
        p = info["parent"]
        print(
            f"parent    {p.get('run_id')} at generation {p.get('generation')} "
            f"(inherit {p.get('inherit')}; {p.get('overrides')})"
        )
    print(
        f"best      fitness {_num(st.get('best_fitness'))}, mean-dataset return "
        f"{_num(st.get('mean_dataset_return'))}"
    )
    ck = info["checkpoints"]
    shown = ", ".join(map(str, ck[-5:])) if ck else "none"
    print(f"ckpts     {len(ck)}: {'..., ' if len(ck) > 5 else ''}{shown}")
    print(f"dataset   {info['paths']['dataset'] if info['has_dataset'] else '-'}")
    for row in store.read_metrics(args.run)[-args.metrics :]:
        print("  " + json.dumps(row, sort_keys=True))
    return 0


@_guard
def cmd_reindex(args) -> int:
    n = _store(args).reindex()
    print(f"indexed {n} runs under {_store(args).root}")
    return 0


@_guard
def cmd_export(args) -> int:
    if (args.out is None) == (args.to is None):
        raise RunError("give one of --out FILE.zip or --to tensorboard [DIR] | wandb")
    if args.out is not None:
        out = _store(args).export(args.run, args.out, checkpoints=args.checkpoints)
        print(out)
        return 0
    from engine.trackers import export_run

    name, *rest = args.to
    if len(rest) > 1 or (rest and name != "tensorboard"):
        raise RunError(
            f"--to {' '.join(args.to)}: use --to tensorboard [DIR] or --to wandb"
        )
    run_dir = _store(args).resolve(args.run)
    res = export_run(run_dir, [name], tensorboard_dir=rest[0] if rest else None)
    if args.json:
        print(json.dumps(jsonable({"run_id": run_dir.name, **res})))
    elif not res["failed"]:
        print(
            f"exported {run_dir.name} to {name}: {res['rows']} generation rows"
            + (
                f", dataset pictures at generation {res['media_generation']}"
                if res["media_generation"] is not None
                else ""
            )
        )
    return 1 if res["failed"] else 0


@_guard
def cmd_delete(args) -> int:
    store = _store(args)
    run_dir = store.resolve(args.run)
    store.delete(run_dir)
    print(f"deleted {run_dir.name}")
    return 0


def run_foreground(
    runner,
    json_out: bool = False,
    quiet: bool = False,
    generations: int | None = None,
    header: bool = True,
    trackers=None,
) -> int:
    """Run `runner` here with a progress line per chunk; Ctrl-C or SIGTERM stop it
    (checkpoint written, status stopped). Prints a final JSON line with --json.
    `trackers` (`engine.trackers.Trackers`) get every progress event and are
    closed when the run ends."""
    out = sys.stderr if json_out else sys.stdout
    if header and not quiet:
        print(f"run {runner.run_id} in {runner.run_dir}", file=out, flush=True)

    def progress(ev: dict) -> None:
        if trackers is not None:
            trackers.progress(ev)
        if not quiet:
            print(format_progress(ev), file=out, flush=True)

    old = None
    if threading.current_thread() is threading.main_thread():

        def on_term(signum, frame):
            raise KeyboardInterrupt

        old = signal.signal(signal.SIGTERM, on_term)
    try:
        summary = runner.run(progress_fn=progress, generations=generations)
    except KeyboardInterrupt:
        summary = {
            "run_id": runner.run_id,
            "run_dir": str(runner.run_dir),
            "status": "stopped",
            "message": "interrupted",
        }
        if json_out:
            print(json.dumps(jsonable(summary)), flush=True)
        return 130
    finally:
        if old is not None:
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGTERM, old)
        if trackers is not None:
            trackers.close("stopped")
    if json_out:
        print(json.dumps(jsonable(summary)), flush=True)
    elif not quiet:
        print(
            f"{summary['status']}: generation {summary['generations']}, mean-dataset "
            f"return {_num(summary['mean_dataset_return'])}, "
            f"{summary['seconds']:.1f} s -> {summary['dataset']}",
            flush=True,
        )
    return 0 if summary["status"] in ("finished", "stopped") else 1


def _left(runner, generations: int | None) -> int:
    """Generations a resume of `runner` still has to run."""
    st = runner.store.read_status(runner.run_id) or {}
    total = generations or st.get("total_generations") or runner.cfg.outer.generations
    done = st.get("checkpoint_generation", st.get("generation")) or 0
    return max(0, int(total) - int(done))


@_guard
def cmd_resume(args) -> int:
    from engine.runs.preflight import check_run_length
    from engine.runs.runner import Runner
    from engine.trackers.cli import check_tracker_flags, trackers_for

    check_tracker_flags(args)
    runner = Runner.open(args.run, root=args.runs)
    check_run_length(
        runner.cfg,
        runner.store,
        _left(runner, args.generations),
        yes=args.yes,
        quiet=args.quiet,
    )
    trackers = trackers_for(args, runner, "resume")
    return run_foreground(
        runner, args.json, args.quiet, args.generations, trackers=trackers
    )


def parse_sets(items: list[str] | None) -> dict[str, str]:
    """["outer.population=128", ...] -> {"outer.population": "128"}."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RunError(f"--set {item!r}: use section.field=value")
        out[key.strip()] = value.strip()
    return out


@_guard
def cmd_fork(args) -> int:
    from engine.runs.preflight import check_run_length
    from engine.runs.runner import Runner
    from engine.trackers.cli import check_tracker_flags, trackers_for

    overrides = parse_sets(args.set)
    if not args.no_run:
        check_tracker_flags(args)
    t0 = time.time()
    runner = Runner.fork(
        args.run, overrides, root=args.runs, name=args.name, generation=args.generation
    )
    parent = runner.meta["parent"]
    msg = (
        f"forked {parent['run_id']} at generation {parent['generation']} -> "
        f"{runner.run_id} (inherits {parent['inherit']}, {time.time() - t0:.1f} s)"
    )
    print(msg, file=sys.stderr if args.json else sys.stdout, flush=True)
    if args.no_run:
        if args.json:
            print(
                json.dumps(
                    {
                        "run_id": runner.run_id,
                        "run_dir": str(runner.run_dir),
                        "status": "queued",
                        "parent": parent,
                    }
                )
            )
        return 0
    try:
        check_run_length(
            runner.cfg,
            runner.store,
            runner.cfg.outer.generations - int(parent["generation"] or 0)
            if parent["inherit"] != "none"
            else None,
            yes=args.yes,
            quiet=args.quiet,
        )
    except RunError:
        runner.store.delete(runner.run_dir)  # refused: the fork never started
        raise
    trackers = trackers_for(args, runner, "fork")
    return run_foreground(runner, args.json, args.quiet, trackers=trackers)


# Registration ----------
def add_start_flags(p: argparse.ArgumentParser) -> None:
    """Flags of every command that starts a run: --log and --tensorboard-dir
    (experiment trackers) and --yes (start a run estimated above an hour on a CPU)."""
    from engine.trackers.cli import add_tracker_flags

    add_tracker_flags(p)
    p.add_argument(
        "--yes",
        action="store_true",
        help="Start even when the estimate is above an hour on a CPU (in a "
        "terminal such a run starts only with --yes; elsewhere it warns and starts).",
    )


def _runs_opt(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--runs",
        metavar="ROOT",
        default=None,
        help="runs root (default: $HADES_HOME/runs or ~/.hades/runs)",
    )


def register(subparsers) -> None:
    """Add `runs`, `resume` and `fork` to the `hades` subcommands."""
    runs = subparsers.add_parser("runs", help="list, show, export, delete runs")
    _runs_opt(runs)
    sub = runs.add_subparsers(dest="runs_command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("list", help="the run table")
    _runs_opt(p)
    p.add_argument("--env", help="only runs of this environment")
    p.add_argument("--status", help="only runs with this status")
    p.add_argument(
        "--sort",
        default="created",
        choices=(
            "created",
            "updated",
            "best_fitness",
            "mean_dataset_return",
            "name",
            "env",
            "status",
            "generation",
        ),
    )
    p.add_argument("--asc", action="store_true", help="ascending order")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="one run: status, config, lineage, metrics")
    _runs_opt(p)
    p.add_argument("run", help="run id, id prefix, name or directory")
    p.add_argument("--metrics", type=int, default=5, help="last metrics rows shown")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("reindex", help="rebuild the index from the run directories")
    _runs_opt(p)
    p.set_defaults(func=cmd_reindex)

    p = sub.add_parser(
        "export", help="zip a run directory, or log it to TensorBoard or W&B"
    )
    _runs_opt(p)
    p.add_argument("run")
    p.add_argument("--out", help="zip file to write")
    p.add_argument("--checkpoints", default="last", choices=("last", "all", "none"))
    p.add_argument(
        "--to",
        nargs="+",
        metavar="TRACKER [DIR]",
        help="log the run to an experiment tracker instead: 'tensorboard [DIR]' "
        "(event files in DIR/<run id>, default the run folder's tensorboard/) or "
        "'wandb' (honours WANDB_MODE=offline, WANDB_PROJECT)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON line")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("delete", help="delete a run (not while it runs)")
    _runs_opt(p)
    p.add_argument("run")
    p.set_defaults(func=cmd_delete)

    p = subparsers.add_parser("resume", help="continue a run from its last checkpoint")
    _runs_opt(p)
    p.add_argument("run", help="run id, id prefix, name or directory")
    p.add_argument(
        "--generations",
        type=int,
        default=None,
        help="new target generation count (extends a finished run)",
    )
    p.add_argument("--json", action="store_true", help="print a final JSON line")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    add_start_flags(p)
    p.set_defaults(func=cmd_resume)

    p = subparsers.add_parser(
        "fork", help="new run from a run's checkpoint with changed settings"
    )
    _runs_opt(p)
    p.add_argument("run", help="parent run")
    p.add_argument(
        "--set",
        action="append",
        metavar="SECTION.FIELD=VALUE",
        help="config override (repeatable), e.g. outer.population=128",
    )
    p.add_argument("--name", default="", help="label of the new run")
    p.add_argument(
        "--generation",
        type=int,
        default=None,
        help="fork from this checkpoint (default: the last)",
    )
    p.add_argument(
        "--no-run",
        action="store_true",
        help="only create the fork (run it later with hades resume)",
    )
    p.add_argument("--json", action="store_true", help="print a final JSON line")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    add_start_flags(p)
    p.set_defaults(func=cmd_fork)


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (`python -m engine.runs.cli runs list`)."""
    parser = argparse.ArgumentParser(prog="hades")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
