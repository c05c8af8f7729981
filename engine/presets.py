"""Named starting configs: `paper`, `quick`, and the three benchmark configs.

paper
    The settings of the paper (HADES.md), per environment family. Brax: OpenES with
    raw fitness, antithetic, Adam(0.05, b1 0.99), sigma 0.03, population 2048, 2000
    generations, MLP 2x512 tanh, 200 (hopper, inverted_double_pendulum) or 400 inner
    steps, 4 envs x 1024 steps, positional backend, constant normalisation for N <= 4
    else running. MinAtar: SNES temperature 20, sigma 0.5, lr 1.0, population 2048,
    MLP 2x512 ReLU, 64 inner steps of Adam 0.03 without clipping, 8 envs x 1024 steps
    (2500 for Freeway), last-completed-episode fitness, constant normalisation.
    A GPU job: hours on 2 CPU cores.

quick
    Small populations and networks that show learning on 2 CPU cores (measured on
    this project's 2-core CI machine, first run includes compilation):
    classic control (CartPole N=4): population 64, MLP 2x64, 100 inner steps, 8 envs
    x 500 steps, 20 generations: about 3 s compile + 0.07 s per generation, mean
    dataset scores 500. MinAtar (Breakout N=16): population 256, MLP 1x64, SNES, 8 envs
    x 256 steps (mean over finished episodes, less noisy than the paper's last
    episode), 30 generations: the mean dataset's return goes from about 0.5 to about
    1.3 (measured: 0.59 at generation 5, 1.32 at 30), 5 s compile + 1.1 s per
    generation (benchmarks/README.md).
    Brax (hopper N=4): population 16,
    MLP 2x64, 100 inner steps, 2 envs x 256 steps: about 18 s to compile, then 0.17 s
    per generation.
"""

from __future__ import annotations

from engine.config import (
    DatasetConfig,
    EnvConfig,
    FitnessConfig,
    HadesConfig,
    InnerConfig,
    OuterConfig,
)
from engine.envs.registry import get_spec

PRESETS = ("quick", "paper")
BENCHMARKS = ("bench-cartpole", "bench-breakout", "bench-hopper")
_SHORT_INNER = ("hopper", "inverted_double_pendulum")


def _paper(env: str, size: int | None, seed: int) -> HadesConfig:
    spec = get_spec(env)
    if spec.family == "brax":
        n = 64 if size is None else size
        return HadesConfig(
            env=EnvConfig(env, normalize="constant" if n <= 4 else "running"),
            dataset=DatasetConfig(n),
            inner=InnerConfig(
                512,
                2,
                "tanh",
                200 if env in _SHORT_INNER else 400,
                5e-3,
                "adam",
                1e-5,
                0.5,
            ),
            fitness=FitnessConfig(4, 1024, "mean_completed", inits=2),
            outer=OuterConfig(
                "Open_ES",
                2048,
                2000,
                sigma=0.03,
                lr=0.05,
                adam_b1=0.99,
                fitness_shaping="identity",
                antithetic=True,
                chunk=10,
                eval_every=50,
            ),
            seed=seed,
            preset="paper",
        )
    if spec.family == "minatar":
        n = 16 if size is None else size
        steps = 2560 if env == "Freeway-MinAtar" else 1024
        return HadesConfig(
            env=EnvConfig(env, normalize="constant"),
            dataset=DatasetConfig(n),
            inner=InnerConfig(512, 2, "relu", 64, 0.03, "adam", 1e-5, 0.0),
            fitness=FitnessConfig(8, steps, "last_completed", inits=2),
            outer=OuterConfig(
                "SNES",
                2048,
                2000,
                sigma=0.5,
                lr=1.0,
                optimizer="sgd",
                temperature=20.0,
                antithetic=False,
                chunk=10,
                eval_every=50,
            ),
            seed=seed,
            preset="paper",
        )
    # Classic control has no paper setting: the Brax recipe at classic-control scale.
    n = 4 if size is None else size
    return HadesConfig(
        env=EnvConfig(env),
        dataset=DatasetConfig(n),
        inner=InnerConfig(512, 2, "tanh", 400, 5e-3, "adam", 1e-5, 0.5),
        fitness=FitnessConfig(8, spec.max_episode_steps, "mean_completed", inits=2),
        outer=OuterConfig(
            "Open_ES", 2048, 500, sigma=0.03, lr=0.05, chunk=10, eval_every=50
        ),
        seed=seed,
        preset="paper",
    )


def _quick(env: str, size: int | None, seed: int) -> HadesConfig:
    spec = get_spec(env)
    if spec.family == "brax":
        n = 4 if size is None else size
        return HadesConfig(
            env=EnvConfig(env, normalize="running"),
            dataset=DatasetConfig(n),
            inner=InnerConfig(64, 2, "tanh", 100, 5e-3, "adam", 1e-5, 0.5),
            fitness=FitnessConfig(2, 256, "mean_completed", inits=1),
            outer=OuterConfig(
                "Open_ES", 16, 20, sigma=0.1, lr=0.05, chunk=2, eval_every=4
            ),
            seed=seed,
            preset="quick",
        )
    if spec.family == "minatar":
        n = 16 if size is None else size
        steps = 2560 if env == "Freeway-MinAtar" else 256
        return HadesConfig(
            env=EnvConfig(env, normalize="none"),
            dataset=DatasetConfig(n),
            inner=InnerConfig(64, 1, "relu", 64, 0.03, "adam", 1e-5, 0.0),
            fitness=FitnessConfig(8, steps, "mean_completed", inits=1),
            outer=OuterConfig(
                "SNES",
                256,
                30,
                sigma=0.5,
                lr=1.0,
                optimizer="sgd",
                temperature=20.0,
                antithetic=False,
                chunk=5,
                eval_every=5,
            ),
            seed=seed,
            preset="quick",
        )
    n = 4 if size is None else size
    return HadesConfig(
        env=EnvConfig(env),
        dataset=DatasetConfig(n),
        inner=InnerConfig(64, 2, "tanh", 100, 5e-3, "adam", 1e-5, 0.5),
        fitness=FitnessConfig(8, spec.max_episode_steps, "mean_completed", inits=1),
        outer=OuterConfig("Open_ES", 64, 20, sigma=0.1, lr=0.05, chunk=5, eval_every=5),
        seed=seed,
        preset="quick",
    )


def _bench(name: str, seed: int) -> HadesConfig:
    """The three configurations the authors' code was timed on (HADES.md)."""
    if name == "bench-cartpole":
        return HadesConfig(
            env=EnvConfig("CartPole-v1"),
            dataset=DatasetConfig(4),
            inner=InnerConfig(64, 2, "tanh", 100, 5e-3, "adam", 1e-5, 0.5),
            fitness=FitnessConfig(8, 500, "mean_completed", inits=1),
            outer=OuterConfig(
                "Open_ES", 64, 20, sigma=0.1, lr=0.05, chunk=5, eval_every=1000
            ),
            seed=seed,
            preset=name,
        )
    if name == "bench-breakout":
        return HadesConfig(
            env=EnvConfig("Breakout-MinAtar"),
            dataset=DatasetConfig(16),
            inner=InnerConfig(512, 2, "relu", 64, 0.03, "adam", 1e-5, 0.0),
            fitness=FitnessConfig(8, 1024, "last_completed", inits=1),
            outer=OuterConfig(
                "SNES",
                64,
                6,
                sigma=0.5,
                lr=1.0,
                optimizer="sgd",
                antithetic=False,
                chunk=2,
                eval_every=1000,
            ),
            seed=seed,
            preset=name,
        )
    if name == "bench-hopper":
        return HadesConfig(
            env=EnvConfig("hopper", normalize="running"),
            dataset=DatasetConfig(4),
            inner=InnerConfig(512, 2, "tanh", 400, 5e-3, "adam", 1e-5, 0.5),
            fitness=FitnessConfig(4, 1024, "mean_completed", inits=1),
            outer=OuterConfig(
                "Open_ES", 32, 4, sigma=0.03, lr=0.05, chunk=2, eval_every=1000
            ),
            seed=seed,
            preset=name,
        )
    raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")


def make(
    preset: str, env: str | None = None, size: int | None = None, seed: int = 0
) -> HadesConfig:
    """Config for a preset (`quick`, `paper`, or a benchmark name)."""
    if preset in BENCHMARKS:
        return _bench(preset, seed)
    if preset not in PRESETS:
        from engine.config import ConfigError

        raise ConfigError(
            "preset", preset, "must be one of " + ", ".join(PRESETS + BENCHMARKS)
        )
    env = env or "CartPole-v1"
    get_spec(env)
    return (_paper if preset == "paper" else _quick)(env, size, seed)
