"""What the CLI says before a run starts (distill, resume, fork, sweep).

It prints the estimated time per generation and in total on this machine's devices
(`engine.estimate`: a heuristic, or past runs of the same environment on the same
kind of device, scaled to this config). A run estimated above an hour on a CPU says
so and suggests `--preset quick` or a GPU. In an interactive terminal it then starts
only with `--yes`; without a terminal (scripts, jobs, CI) the warning is printed and
the run goes on, since nobody is there to answer.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from engine.progress import format_duration
from engine.runs.errors import RunError

LONG_RUN_SECONDS = 3600.0


@dataclass(frozen=True)
class Preflight:
    seconds_per_generation: float
    compile_seconds: float
    total_seconds: float
    generations: int
    backend: str
    devices: int
    basis: str

    @property
    def long_on_cpu(self) -> bool:
        return self.backend == "cpu" and self.total_seconds > LONG_RUN_SECONDS


def estimate_run(cfg, store=None, generations: int | None = None) -> Preflight:
    """The estimate for running `generations` (default: all) of `cfg` here."""
    import jax

    from engine import estimate as est

    backend = jax.default_backend()
    past = est.past_runs(store, cfg.env.name, backend) if store is not None else []
    n = cfg.outer.generations if generations is None else max(0, int(generations))
    e = est.estimate(cfg, past, backend, generations=n)
    return Preflight(
        e.seconds_per_generation,
        e.compile_seconds,
        e.total_seconds,
        n,
        backend,
        jax.local_device_count(),
        e.basis,
    )


def interactive() -> bool:
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def check_run_length(
    cfg,
    store=None,
    generations: int | None = None,
    yes: bool = False,
    quiet: bool = False,
    out=None,
    is_interactive: bool | None = None,
) -> Preflight:
    """Print the estimate; refuse (RunError) a run above an hour on a CPU in an
    interactive terminal without `yes`. Returns the estimate."""
    out = out or sys.stderr
    p = estimate_run(cfg, store, generations)
    if not quiet:
        print(
            f"estimate: ~{p.seconds_per_generation:.3g} s per generation on "
            f"{p.backend} ({p.devices} device{'s' if p.devices != 1 else ''}), "
            f"{p.generations} generations ~ {format_duration(p.total_seconds)} "
            f"including ~{format_duration(p.compile_seconds)} of compilation "
            f"({p.basis})",
            file=out,
            flush=True,
        )
    if not p.long_on_cpu:
        return p
    print(
        f"hades: warning: this run would take about "
        f"{format_duration(p.total_seconds)} on this CPU. For a CPU-sized run use "
        "--preset quick (or fewer --generations / a smaller --population); the "
        "paper's settings want a GPU (pip install 'hades-studio[cuda]').",
        file=out,
        flush=True,
    )
    if yes:
        return p
    if is_interactive if is_interactive is not None else interactive():
        raise RunError(
            f"not started: about {format_duration(p.total_seconds)} on a CPU; "
            "pass --yes to start it anyway"
        )
    print("hades: not an interactive terminal: starting anyway", file=out, flush=True)
    return p
