"""CLI commands of the run store: `hades runs ...`, `hades resume`, `hades fork`.

`register(subparsers)` adds them to the `hades` parser; every handler is
`func(args) -> int` (0 ok, 1 the run failed, 130 interrupted) and lets errors
reach `engine.cli.main`, which ends a `RunError` or a bad input as one line and
exit 2. Each takes ``--runs ROOT`` (default: `default_root()`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import signal
import sys
import threading
import time

from engine.config import parse_overrides
from engine.progress import bar, format_duration
from engine.runs.errors import RunError
from engine.runs.index import SORT_KEYS
from engine.runs.store import RunStore, jsonable


# Formatting ----------
def _num(x, fmt: str = ".1f") -> str:
    return "-" if x is None else format(x, fmt)


def format_progress(event: dict) -> str:
    """One line for a progress event: generation, fitness mean/max, mean-dataset
    return, sigma, lr, s/gen, ETA and, apart, compile time."""
    gen = event.get("generation", 0)
    total = event.get("total_generations") or "?"
    head = f"gen {gen}/{total}"
    if isinstance(total, int) and total > 0:
        head = f"{bar(gen, total)} {head}"
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
            elif k == "status" and r.get("message") and v in ("failed", "damaged"):
                v = f"{v}: {r['message'][:60]}"
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


def cmd_list(args) -> int:
    store = _store(args)
    rows = store.list(
        env=args.env,
        status=args.status,
        sort=args.sort,
        desc=not args.asc,
        study=args.study,
        sweep=args.sweep,
    )
    if store.index_problem:
        print(f"hades: warning: {store.index_problem}", file=sys.stderr)
    if args.json:
        print(json.dumps(jsonable(rows)))
    elif rows:
        print(_table(rows))
    else:
        print(f"no runs under {store.root}")
    return 0


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


def cmd_reindex(args) -> int:
    n = _store(args).reindex()
    print(f"indexed {n} runs under {_store(args).root}")
    return 0


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


def cmd_delete(args) -> int:
    store = _store(args)
    run_dir = store.resolve(args.run)
    store.delete(run_dir)
    print(f"deleted {run_dir.name}")
    return 0


def stale_lock_note(run_id: str, stale: dict) -> str:
    """What `resume` says when it takes a run over from a dead or silent writer."""
    who = f"pid {stale.get('pid')} on {stale.get('host')}"
    if stale.get("heartbeat_age") is not None:
        why = (
            f"its heartbeat is {stale['heartbeat_age']:.0f} s old, past the "
            f"{stale.get('stale_after', 0):.0f} s after which a lock is stale"
        )
    else:
        why = "that process is gone"
    return f"note: took over run {run_id} from {who}: {why}"


@contextlib.contextmanager
def stop_on_first_signal(stop, message: str):
    """The first Ctrl-C or SIGTERM calls `stop()` and prints `message`: the run
    stops at its next chunk boundary, as `hades control RUN stop` does (an exception
    raised at an arbitrary point could leave one of JAX's locks held and hang the
    checkpoint that follows). A second one raises KeyboardInterrupt at once. Yields
    the list of signals received. Outside the main thread it changes nothing."""
    signalled: list[int] = []
    old: dict = {}
    if threading.current_thread() is threading.main_thread():

        def on_signal(signum, frame):
            signalled.append(signum)
            if len(signalled) > 1:
                raise KeyboardInterrupt
            print(message, file=sys.stderr, flush=True)
            stop()

        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, on_signal)
    try:
        yield signalled
    finally:
        for sig, handler in old.items():
            with contextlib.suppress(ValueError):
                signal.signal(sig, handler)


def run_foreground(
    runner,
    json_out: bool = False,
    quiet: bool = False,
    generations: int | None = None,
    header: bool = True,
    executor: str = "cli",
    restart: bool = False,
    trackers=None,
    peers=None,
) -> int:
    """Run `runner` here with a progress line per chunk; Ctrl-C or SIGTERM stop it
    (checkpoint written, status stopped). Prints a final JSON line with --json.
    Other processes steer it with `hades control` (through the store).
    `trackers` (`engine.trackers.Trackers`) get every progress event and are
    closed when the run ends. `peers`: the `Leader` of a run over several
    processes (`run_distributed`)."""
    runner.executor = executor
    out = sys.stderr if json_out else sys.stdout

    def progress(ev: dict) -> None:
        if trackers is not None:
            trackers.progress(ev)
        stale = ev.get("stale_lock")
        if stale:
            print(stale_lock_note(runner.run_id, stale), file=sys.stderr, flush=True)
        if not quiet:
            print(format_progress(ev), file=out, flush=True)

    from engine.runs.control import Control

    control = Control()
    stop_now = stop_on_first_signal(
        lambda: control.stop("interrupted"),
        "stopping at the end of this chunk (checkpoint written); "
        "press Ctrl-C again to stop now",
    )
    try:
        with stop_now as signalled:
            # After the handlers: a signal sent on seeing this line stops the run
            if header and not quiet:
                print(f"run {runner.run_id} in {runner.run_dir}", file=out, flush=True)
            summary = runner.run(
                progress_fn=progress,
                control=control,
                generations=generations,
                restart=restart,
                peers=peers,
            )
    except KeyboardInterrupt:
        summary = {
            "run_id": runner.run_id,
            "run_dir": str(runner.run_dir),
            "status": "stopped",
            "message": "interrupted",
        }
        if json_out:
            print(json.dumps(jsonable(summary)), flush=True)
        if peers is not None:  # mid-chunk: the others cannot shut down with us
            from engine.runtime import exit_now

            exit_now(130)
        return 130
    finally:
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
    if signalled and summary["status"] == "stopped":
        return 130  # stopped by a signal, as a shell expects
    if summary["status"] == "failed":
        print(
            f"hades: run {summary['run_id']} failed: {summary['message']}",
            file=sys.stderr,
            flush=True,
        )
        return 1
    return 0


def _left(runner, generations: int | None) -> int:
    """Generations a resume of `runner` still has to run."""
    st = runner.store.read_status(runner.run_id) or {}
    total = generations or st.get("total_generations") or runner.cfg.outer.generations
    done = st.get("checkpoint_generation", st.get("generation")) or 0
    return max(0, int(total) - int(done))


def _check_length_left(runner, args) -> None:
    """The run-length estimate of the generations left (or its refusal)."""
    from engine.runs.preflight import check_run_length

    left = _left(runner, args.generations)
    check_run_length(runner.cfg, runner.store, left, yes=args.yes, quiet=args.quiet)


def cmd_resume(args) -> int:
    from engine.runs.runner import Runner
    from engine.trackers.cli import check_tracker_flags, trackers_for

    check_tracker_flags(args)
    if getattr(args, "distributed", False):

        def make():
            runner = Runner.open(args.run, root=args.runs)
            check_devices(runner.cfg)
            _check_length_left(runner, args)
            return runner

        return run_distributed(
            args, make, args.generations, restart=args.restart, job="resume"
        )
    runner = Runner.open(args.run, root=args.runs)
    runner.check_start(restart=args.restart)  # refusals before the estimate
    _check_length_left(runner, args)
    trackers = trackers_for(args, runner, "resume")
    return run_foreground(
        runner,
        args.json,
        args.quiet,
        args.generations,
        restart=args.restart,
        trackers=trackers,
    )


# A run over several processes ----------
def add_distributed_flags(p: argparse.ArgumentParser) -> None:
    """--distributed and one flag per `engine.runtime.DistributedSpec` field."""
    import typing

    from engine.config import field_docs
    from engine.runtime import DistributedSpec

    p.add_argument(
        "--distributed",
        action="store_true",
        help="One run over several processes (jax.distributed): every device of "
        "every process evaluates the population; process 0 writes the run. Under "
        "SLURM or Open MPI the settings below are detected.",
    )
    docs = field_docs(DistributedSpec)
    hints = typing.get_type_hints(DistributedSpec)
    for f in dataclasses.fields(DistributedSpec):
        flag = "--" + f.name.replace("_", "-")
        extra = "" if f.default is None else f" Default: {f.default}."
        if hints[f.name] is bool:  # --share-cores / --no-share-cores
            p.add_argument(
                flag,
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=docs.get(f.name, "") + extra,
            )
            continue
        kind = str if hints[f.name] in (str, str | None) else int
        p.add_argument(
            flag,
            dest=f.name,
            type=kind,
            default=None,
            metavar="HOST:PORT" if kind is str else "N",
            help=docs.get(f.name, "") + extra,
        )


def distributed_spec(args):
    """The `DistributedSpec` of `--distributed` (None without it); DistributedError
    when its flags are given without it or contradict each other."""
    from engine.runtime import DistributedError, DistributedSpec

    names = DistributedSpec.field_names()
    given = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    if not getattr(args, "distributed", False):
        if given:
            flags = ", ".join("--" + n.replace("_", "-") for n in given)
            raise DistributedError(f"{flags} go with --distributed")
        return None
    spec = DistributedSpec(**given)
    spec.check()
    return spec


def check_devices(cfg) -> None:
    """RunError unless the population splits evenly over every device of the run."""
    import jax

    n = jax.device_count()
    if cfg.outer.population % n:
        raise RunError(
            f"outer.population {cfg.outer.population} does not split over the {n} "
            f"devices of the {jax.process_count()} processes: use a multiple of {n}"
        )


def _line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def run_distributed(
    args,
    make_runner,
    generations: int | None = None,
    restart: bool = False,
    job: str = "distill",
) -> int:
    """Process 0 makes the run (`make_runner()`) and executes it, leading the
    others, with the trackers asked for (process 0 alone logs); every other
    process follows it (`engine.runs.distributed`)."""
    from engine import multihost
    from engine.runs.distributed import Leader, follow
    from engine.trackers.cli import trackers_for

    who = f"process {multihost.index()} of {multihost.count()}"
    if not multihost.is_leader():
        # A signal here stops the whole run at the next chunk boundary: this
        # process says so in the exchange before it, and process 0 ends the run.
        interrupted = threading.Event()
        stop_all = stop_on_first_signal(
            interrupted.set,
            f"{who}: stopping the run at the end of this chunk (process 0 writes "
            "the checkpoint); press Ctrl-C again to leave now",
        )
        try:
            with stop_all as signalled:
                summary = follow(interrupted.is_set)
        except KeyboardInterrupt:  # the second signal: leave now, mid-chunk
            from engine.runtime import exit_now

            print(f"hades: {who}: interrupted", file=sys.stderr, flush=True)
            exit_now(130)
        except multihost.PeerLostError as e:
            print(f"hades: {e}", file=sys.stderr, flush=True)
            return 1
        except RunError as e:
            print(f"hades: {who}: {e}", file=sys.stderr, flush=True)
            return 2
        if args.json:
            print(json.dumps(jsonable(summary)), flush=True)
        elif not args.quiet:
            print(
                f"{who}: followed run {summary['run_id']} to generation "
                f"{summary['generations']}/{summary['total_generations']} "
                f"({summary['status']})",
                flush=True,
            )
        ok = summary["status"] in ("finished", "stopped") and summary["replicas_agree"]
        if ok and signalled and summary["status"] == "stopped":
            return 130  # stopped by a signal, as a shell expects
        return 0 if ok else 1
    leader = Leader()
    try:
        runner = make_runner()
        return run_foreground(
            runner,
            args.json,
            args.quiet,
            generations,
            executor="cli",
            restart=restart,
            trackers=trackers_for(args, runner, job),
            peers=leader,
        )
    except multihost.PeerLostError as e:
        print(f"hades: {e}", file=sys.stderr, flush=True)
        return 1
    except BaseException as e:
        leader.abort(_line(e))  # the followers stop with the leader's reason
        raise


def cmd_fork(args) -> int:
    from engine.runs.preflight import check_run_length
    from engine.runs.runner import Runner
    from engine.trackers.cli import check_tracker_flags, trackers_for

    overrides = parse_overrides(args.set)
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


# control ----------
def parse_knobs(pairs: list[str]) -> dict[str, float]:
    """``lr=0.02 sigma=0.05`` -> {"lr": 0.02, "sigma": 0.05}; ValueError names the
    bad pair."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{pair!r}: use knob=value (e.g. lr=0.02)")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"{pair!r}: {value!r} is not a number") from None
    return out


def _ack_line(run_id: str, st: dict) -> str:
    ack = st.get("control") or {}
    parts = [f"run {run_id}: {st.get('status')} at generation {st.get('generation')}"]
    if ack.get("applied"):
        applied = " ".join(f"{k}={v:g}" for k, v in ack["applied"].items())
        parts.append(f"applied {applied} at generation {ack.get('applied_generation')}")
    if ack.get("rejected"):
        parts.append(
            "rejected " + "; ".join(f"{k}: {v}" for k, v in ack["rejected"].items())
        )
    parts.append(
        f"lr {_num(st.get('lr'), '.4g')}, sigma {_num(st.get('sigma'), '.4g')}"
        + (
            f", temperature {_num(st.get('temperature'), '.4g')}"
            if st.get("temperature") is not None
            else ""
        )
    )
    who = f"{st.get('executor', 'python')} pid {st.get('pid')} on {st.get('host')}"
    return "; ".join(parts) + f" ({who})"


def cmd_control(args) -> int:
    """pause | continue | stop | set knob=value...: steer an active run."""
    from engine.runs.control import check_knobs, send

    store = _store(args)
    run_dir = store.resolve(args.run)
    st = store.read_status(run_dir)
    if not st.get("alive"):
        raise RunError(
            f"run {run_dir.name} is not active ({st.get('status')}"
            + (f": {st['message']}" if st.get("message") else "")
            + "): only a running, paused or queued run takes controls"
            + (
                f"; continue it with: hades resume {run_dir.name}"
                if st.get("resumable") and st.get("status") != "finished"
                else ""
            )
        )
    knobs = {}
    if args.command == "set":
        if not args.values:
            raise RunError("set needs knob=value pairs, e.g. set lr=0.02 sigma=0.05")
        try:
            knobs = check_knobs(parse_knobs(args.values))
        except ValueError as e:
            raise RunError(str(e)) from None
        strategy = (store.read_config(run_dir).get("config") or {}).get("outer") or {}
        if "temperature" in knobs and strategy.get("strategy") != "SNES":
            raise RunError(
                f"run {run_dir.name} uses {strategy.get('strategy')}: temperature is "
                "a knob of SNES only"
            )
    elif args.values:
        raise RunError(f"{args.command} takes no values (got {' '.join(args.values)})")
    record = send(run_dir, args.command, knobs)
    seq = record["seq"]
    deadline = time.monotonic() + args.wait
    while True:
        st = store.read_status(run_dir)
        acked = int((st.get("control") or {}).get("seq") or 0) >= seq
        settled = {
            "set": (st.get("control") or {}).get("applied") is not None,
            "pause": st.get("status") == "paused",
            "continue": st.get("status") != "paused",
            "stop": not st.get("alive"),
        }[args.command]
        if (acked and settled) or not st.get("alive") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if args.json:
        print(
            json.dumps(jsonable({"sent": record, "acknowledged": acked, "status": st}))
        )
    elif acked or not st.get("alive"):
        print(_ack_line(run_dir.name, st))
    else:
        print(
            f"run {run_dir.name}: {args.command} sent (#{seq}); not acknowledged "
            f"within {args.wait:g} s: the run applies it at its next chunk boundary"
        )
    return 0


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
    p.add_argument("--study", help="only the runs of this study id")
    p.add_argument("--sweep", help="only the runs of this sweep id")
    p.add_argument(
        "--sort",
        default="created",
        choices=SORT_KEYS,
    )
    p.add_argument("--asc", action="store_true", help="ascending order")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=cmd_list)

    p = subparsers.add_parser(
        "control",
        help="steer an active run from any process: pause, continue, stop, "
        "set lr=... sigma=... temperature=...",
        description="Steer a run that any process executes (this machine or another "
        "one that shares the runs folder). Changes apply at the run's next chunk "
        "boundary, without a recompile; the command prints what the run acknowledged.",
    )
    _runs_opt(p)
    p.add_argument("run", help="run id, id prefix, name or directory")
    p.add_argument("command", choices=("pause", "continue", "stop", "set"))
    p.add_argument(
        "values", nargs="*", help="with set: knob=value (lr, sigma, temperature)"
    )
    p.add_argument(
        "--wait",
        type=float,
        default=60.0,
        help="seconds to wait for the run to acknowledge (default 60)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_control)

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
    p.add_argument(
        "--restart",
        action="store_true",
        help="start the run over from its beginning on purpose: its metrics rows, "
        "checkpoints and dataset are replaced (without it, a run with history but "
        "no usable checkpoint is refused)",
    )
    p.add_argument("--json", action="store_true", help="print a final JSON line")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    add_start_flags(p)
    add_distributed_flags(p)
    p.set_defaults(func=cmd_resume)

    p = subparsers.add_parser(
        "fork",
        help="new run from a run's checkpoint (or its dataset) with changed settings",
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
    """Standalone entry (`python -m engine.runs.cli runs list`). The `hades`
    command's error boundary is `engine.cli.main` (this layer may not import it);
    here a RunError or a bad input still ends in one line, exit 2."""
    parser = argparse.ArgumentParser(prog="hades")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (RunError, ValueError, OSError) as e:
        print(f"hades: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
