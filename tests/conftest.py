"""Shared test helpers: tiny configs, the reference data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HADES_JAX_CACHE", "0")

import engine  # noqa: E402

# The test configuration is an entry point: the same runtime as the CLI.
engine.setup()

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
ROOT = Path(__file__).resolve().parents[1]


def reference_file(name: str) -> Path:
    path = REFERENCE / "datasets" / name
    if not path.exists():
        pytest.skip(
            f"reference data not available: {path} (the shared/reference "
            "folder beside the checkout holds the paper's datasets)"
        )
    return path


def tiny_cartpole(**overrides):
    from engine import presets

    ov = {
        "outer.population": 8,
        "outer.generations": 4,
        "outer.chunk": 2,
        "outer.eval_every": 2,
        "inner.width": 16,
        "inner.steps": 10,
        "fitness.num_envs": 2,
        "fitness.num_steps": 50,
    }
    ov.update(overrides)
    return presets.make("quick", "CartPole-v1", 4, 0).with_overrides(ov)


@pytest.fixture
def tiny_cfg():
    return tiny_cartpole()


class CompileCounter:
    """Counts XLA compilations (JAX's public monitoring events) while active."""

    def __init__(self):
        self.count = 0
        self.active = True

    def __call__(self, event: str, duration: float, **kwargs) -> None:
        if self.active and event == "/jax/core/compile/backend_compile_duration":
            self.count += 1


@pytest.fixture
def compile_counter():
    import jax.monitoring

    counter = CompileCounter()
    jax.monitoring.register_event_duration_secs_listener(counter)
    yield counter
    counter.active = False  # JAX offers no unregister; the listener goes idle
