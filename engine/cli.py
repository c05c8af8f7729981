"""The `hades` command line: distill, evaluate, import, render, runs, dashboard.

Flag help texts come from the config docstrings (`engine.config.field_docs`).
`--json` makes a command print one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import sys
import warnings
from pathlib import Path

from engine import config as config_lib


def _set_help() -> str:
    docs = config_lib.all_field_docs()
    lines = [f"  {k}: {v}" for k, v in docs.items()]
    return "Any config field as section.field=value. Fields:\n" + "\n".join(lines)


def _print_json(obj) -> None:
    print(json.dumps(obj, default=float))


# distill ------------------------------------------------------------
def build_config(args) -> config_lib.HadesConfig:
    from engine import presets

    cfg = presets.make(args.preset, args.env, args.size, args.seed or 0)
    ov = {}
    if args.generations is not None:
        ov["outer.generations"] = args.generations
    if args.population is not None:
        ov["outer.population"] = args.population
    if args.seed is not None:
        ov["seed"] = args.seed
    if args.strategy is not None:
        ov["outer.strategy"] = args.strategy
    ov.update(config_lib.parse_overrides(args.set))
    return cfg.with_overrides(ov) if ov else cfg


def cmd_distill(args) -> int:
    from engine.runs import Runner, RunStore
    from engine.runs.cli import check_devices, run_distributed, run_foreground
    from engine.runs.preflight import check_run_length
    from engine.trackers.cli import check_tracker_flags, trackers_for

    cfg = build_config(args)
    check_tracker_flags(args)  # before anything is created
    if args.distributed:

        def make():
            check_devices(cfg)
            store = RunStore(args.runs)
            check_run_length(cfg, store, yes=args.yes, quiet=args.quiet)
            return Runner.create(cfg, root=store, name=args.name or "")

        return run_distributed(args, make)
    store = RunStore(args.runs)
    Runner.check_launch(cfg, store)  # refusals before the estimate
    check_run_length(cfg, store, yes=args.yes, quiet=args.quiet)
    runner = Runner.create(cfg, root=store, name=args.name or "")
    trackers = trackers_for(args, runner, "distill")
    return run_foreground(
        runner, json_out=args.json, quiet=args.quiet, trackers=trackers
    )


# evaluate ------------------------------------------------------------
def _load_dataset(ref: str, runs_root: str | None):
    """`engine.dataset_ref.load_dataset_ref`, its import notes on stderr."""
    from engine.dataset_ref import load_dataset_ref

    ds, notes = load_dataset_ref(ref, runs_root)
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    return ds


def cmd_evaluate(args) -> int:
    ds = _load_dataset(args.dataset, args.runs)  # a bad input fails fast
    from engine.evaluate import evaluate_dataset
    from engine.progress import bar, format_duration

    def progress(ev: dict) -> None:  # like distill's progress lines, on stderr
        print(
            f"{bar(ev['done'], ev['total'])} evaluate {ev['done']}/{ev['total']} "
            f"inits | {ev['elapsed']:.1f} s | ETA {format_duration(ev['eta_seconds'])}",
            file=sys.stderr,
            flush=True,
        )

    res = evaluate_dataset(
        ds,
        inits=args.inits,
        seed=args.seed,
        random_inits=args.random_inits,
        overrides=config_lib.parse_overrides(args.set),
        progress_fn=None if args.quiet else progress,
    )
    if not args.json or args.verbose:
        kind = "fixed init (HaDES-F)" if res.fixed_init else "fresh random inits"
        print(
            f"{res.env} N={res.size}: mean return {res.mean_return:.2f} "
            f"+- {res.std_return:.2f} over {res.inits} {kind}"
        )
        print("per init: " + ", ".join(f"{r:.2f}" for r in res.per_init))
    if args.json:
        _print_json(res.to_dict())
    return 0


# import ------------------------------------------------------------
def cmd_import(args) -> int:
    from engine.paper_import import import_to_file

    out = args.out or (Path(args.pickle).stem + ".npz")
    path, notes = import_to_file(args.pickle, out)
    for n in notes:
        print(f"note: {n}")
    print(f"wrote {path}")
    if args.json:
        _print_json({"out": str(path), "notes": notes})
    return 0


# render ------------------------------------------------------------
def cmd_render(args) -> int:
    if args.states + args.rollout + args.talk != 1:
        raise ValueError("give exactly one of --states, --rollout or --talk")
    if args.talk:
        from engine.talk_cli import cmd_talk

        return cmd_talk(args)
    ds = _load_dataset(args.source, args.runs)
    from engine import render

    if args.states:
        out = args.out or "dataset.png"
        render.render_states(ds, out)
        info = {"out": str(out)}
    else:
        out = args.out or "rollout.mp4"
        info = render.render_rollout(ds, out, seed=args.seed, frame_cap=args.frame_cap)
        info = {"out": str(out), **info}
    print(f"wrote {out}")
    if args.json:
        _print_json(info)
    return 0


# dashboard ------------------------------------------------------------
def cmd_dashboard(args, extra: list[str]) -> int:
    # A separate program (the engine never imports the dashboard): it passes the
    # shipped Streamlit settings as flags, so the working directory does not matter.
    cmd = [sys.executable, "-m", "dashboard", *extra]
    env = dict(os.environ)
    if args.runs:
        env["HADES_RUNS"] = str(Path(args.runs).expanduser().resolve())
    os.execve(cmd[0], cmd, env)
    return 0


def cmd_envs(args) -> int:
    from engine.envs.registry import SPECS

    rows = [
        {
            "name": s.name,
            "family": s.family,
            "obs_shape": list(s.obs_shape),
            "discrete": s.discrete,
            "action_dim": s.action_dim,
        }
        for s in SPECS.values()
    ]
    if args.json:
        _print_json(rows)
    else:
        for r in rows:
            kind = "discrete" if r["discrete"] else "continuous"
            print(
                f"{r['name']:28s} {r['family']:8s} obs {r['obs_shape']} "
                f"{r['action_dim']} {kind}"
            )
    return 0


def cmd_config(args) -> int:
    cfg = build_config(args)
    print(cfg.to_json())
    return 0


# parser ------------------------------------------------------------
def _add_run_flags(p: argparse.ArgumentParser) -> None:
    from engine.envs.registry import ENV_NAMES
    from engine.presets import BENCHMARKS, PRESETS

    docs = config_lib.all_field_docs()
    p.add_argument(
        "--env",
        default="CartPole-v1",
        metavar="ENV",
        help=docs["env.name"] + " Known: " + ", ".join(ENV_NAMES),
    )
    p.add_argument("--size", type=int, default=None, help=docs["dataset.size"])
    p.add_argument(
        "--preset",
        default="quick",
        choices=PRESETS + BENCHMARKS,
        help="Starting config: quick (CPU, seconds to minutes) or paper "
        "(the paper's settings, GPU).",
    )
    p.add_argument("--generations", type=int, help=docs["outer.generations"])
    p.add_argument("--population", type=int, help=docs["outer.population"])
    p.add_argument("--strategy", help=docs["outer.strategy"])
    p.add_argument("--seed", type=int, help=docs["seed"])
    p.add_argument(
        "--set",
        action="append",
        metavar="SECTION.FIELD=VALUE",
        help="Override any config field (see the list below).",
    )


def make_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hades",
        description="HaDES behaviour distillation: evolve tiny datasets that train "
        "good policies.",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help=f"Show the traceback of an error (anywhere on the line; or set "
        f"{DEBUG_ENV}=1).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    fmt = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser(
        "distill",
        help="Distil a dataset (writes a run).",
        epilog=_set_help(),
        formatter_class=fmt,
    )
    _add_run_flags(p)
    p.add_argument(
        "--runs", help="Runs root (default $HADES_HOME/runs or ~/.hades/runs)."
    )
    p.add_argument("--name", help="A label for the run (not used in paths).")
    p.add_argument("--json", action="store_true", help="Last line: one JSON object.")
    p.add_argument("--quiet", action="store_true", help="No progress bar.")
    from engine.runs.cli import add_distributed_flags, add_start_flags

    add_start_flags(p)
    add_distributed_flags(p)
    p.set_defaults(func=cmd_distill)

    p = sub.add_parser(
        "config",
        help="Print the config a distill would use.",
        epilog=_set_help(),
        formatter_class=fmt,
    )
    _add_run_flags(p)
    p.set_defaults(func=cmd_config)

    docs_eval = config_lib.field_docs(config_lib.EvalConfig)
    p = sub.add_parser(
        "evaluate",
        help="Train fresh policies on a dataset, report returns.",
        epilog=_set_help(),
        formatter_class=fmt,
    )
    p.add_argument("dataset", help="A dataset .npz, a paper .pkl, or a run id.")
    p.add_argument("--inits", type=int, default=8, help=docs_eval["inits"])
    p.add_argument("--seed", type=int, default=0, help=docs_eval["seed"])
    p.add_argument(
        "--random-inits", action="store_true", help=docs_eval["random_inits"]
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="SECTION.FIELD=VALUE",
        help="Override the inner-loop/fitness settings used.",
    )
    p.add_argument("--runs", help="Runs root, to find a run id.")
    p.add_argument("--json", action="store_true", help="Last line: one JSON object.")
    p.add_argument("--verbose", action="store_true", help="Text as well as JSON.")
    p.add_argument("--quiet", action="store_true", help="No progress lines.")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("import", help="Convert a paper pickle safely to our .npz.")
    p.add_argument("pickle", help="A dataset pickle published with the paper.")
    p.add_argument("--out", help="Output .npz (default: <pickle name>.npz).")
    p.add_argument("--json", action="store_true", help="Last line: one JSON object.")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("render", help="Draw a dataset's states or a rollout video.")
    p.add_argument("source", help="A dataset .npz, a paper .pkl, or a run id.")
    p.add_argument("--states", action="store_true", help="PNG of every state.")
    p.add_argument("--rollout", action="store_true", help="Video of a policy.")
    p.add_argument(
        "--talk",
        action="store_true",
        help="Talk clip of a run: its dataset over the checkpoints beside the "
        "fitness curve, then a policy trained on the final dataset.",
    )
    p.add_argument("--gif", action="store_true", help="With --talk: a GIF as well.")
    p.add_argument("--out", help="Output file (.png, .mp4 or .gif).")
    p.add_argument("--seed", type=int, default=0, help="Policy init seed.")
    p.add_argument("--frame-cap", type=int, default=300, help="Most frames kept.")
    p.add_argument("--runs", help="Runs root, to find a run id.")
    p.add_argument("--json", action="store_true", help="Last line: one JSON object.")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("envs", help="List the environments.")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_envs)

    p = sub.add_parser(
        "dashboard",
        help="Start the Streamlit dashboard on "
        "127.0.0.1 (extra flags go to streamlit).",
    )
    p.add_argument("--runs", help="Runs root shown by the dashboard.")
    p.set_defaults(func=cmd_dashboard)

    from engine.sweeps.cli import register as register_sweeps

    register_sweeps(sub)
    try:
        from engine.runs.cli import register
    except ImportError:  # pragma: no cover - the run store is part of the package
        register = None
    if register is not None:
        register(sub)
    try:
        from engine.studies.cli import register as register_studies
    except ImportError:
        register_studies = None
    if register_studies is not None:
        register_studies(sub, argv)
    from engine.explain_cli import register as register_explain

    register_explain(sub)
    return parser


# errors ------------------------------------------------------------
DEBUG_ENV = "HADES_DEBUG"
_WRITABLE = "choose a location you may write (--runs or HADES_HOME for runs)"
_OS_FIXES = {
    errno.ENOSPC: "free space on that device, or choose another runs root with "
    "--runs or HADES_HOME",
    errno.EDQUOT: "free space (disk quota), or choose another runs root with "
    "--runs or HADES_HOME",
    errno.EROFS: _WRITABLE,
    errno.EACCES: _WRITABLE,
    errno.EPERM: _WRITABLE,
    errno.ENOENT: "check the path",
    errno.EISDIR: "give a file, not a directory",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
}


def describe_error(e: BaseException) -> tuple[str, int]:
    """(one line for a person, exit code) for an exception that ends a command:
    2 for bad input (a config, a file, a run, the disk), 1 for anything else."""
    from engine.runs.errors import RunError

    if isinstance(e, config_lib.ConfigError):
        return f"invalid config: {e}", 2
    if isinstance(e, OSError) and e.errno in _OS_FIXES:
        where = f": {e.filename}" if e.filename else ""
        what = e.strerror or os.strerror(e.errno)
        return f"{what.lower()}{where} ({_OS_FIXES[e.errno]})", 2
    if isinstance(e, RunError | ValueError | OSError):
        return str(e) or type(e).__name__, 2
    if isinstance(e, KeyError) and e.args and isinstance(e.args[0], str):
        return e.args[0], 2  # the env registry's "unknown environment ..."
    if isinstance(e, MemoryError):
        return "out of memory (use a smaller config or dataset)", 1
    return (
        f"internal error: {type(e).__name__}: {e} (rerun with --debug or "
        f"{DEBUG_ENV}=1 for the traceback, and please report it)",
        1,
    )


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings (a damaged metrics line, ...) as one line, without the source."""
    print(f"hades: warning: {message}", file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line that names the help (subparsers inherit it)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def main(argv: list[str] | None = None) -> int:
    """Run one command. The one error boundary of the CLI: whatever a command
    raises ends as one line on stderr and a non-zero exit (see `describe_error`);
    `--debug` anywhere on the line, or HADES_DEBUG=1, shows the traceback.
    With --distributed the process joins the run's other processes first; one that
    fails leaves at once (no shutdown barrier waiting for the others)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    if not debug:
        warnings.showwarning = _show_warning
    spec = None

    def command() -> int:
        nonlocal spec
        parser = make_parser(argv)
        if argv and argv[0] == "dashboard":
            args, extra = parser.parse_known_args(argv)
            return cmd_dashboard(args, extra)
        args = parser.parse_args(argv)
        import engine
        from engine.runs.cli import distributed_spec
        from engine.runtime import init_distributed

        spec = distributed_spec(args)  # checked before anything starts
        # The runtime every command runs under (engine.runtime)
        engine.setup(distributed=spec is not None)
        if spec is not None:
            init_distributed(spec)
        return int(args.func(args) or 0)

    try:
        code = _guarded(command, debug)
    except BaseException:  # --debug: the traceback, then out like any failure
        if spec is None:
            raise
        import traceback

        traceback.print_exc()
        code = 1
    # A failed process of a distributed run leaves at once (its peers may be
    # gone); a run stopped on every process (0, or 130 for a signal) shuts down
    # jax.distributed with the others.
    if spec is not None and code not in (0, 130):
        from engine.runtime import exit_now

        exit_now(code)
    return code


def _guarded(fn, debug: bool) -> int:
    try:
        return fn()
    except KeyboardInterrupt:
        print("hades: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `hades runs list | head`
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:
        if debug:
            raise
        message, code = describe_error(e)
        print(f"hades: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
