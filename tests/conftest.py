"""Shared test helpers: tiny configs, the reference data folder."""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

import pytest

# One persistent compilation cache for the whole session, shared by this process,
# the xdist workers and every CLI subprocess: the tiny configs recur across tests,
# and a cache hit is still logged as a compilation (see `CompileCounter`).
os.environ.setdefault(
    "HADES_JAX_CACHE", str(Path(tempfile.gettempdir()) / "hades-tests-jax-cache")
)

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


class CompileCounter(logging.Handler):
    """Counts XLA compilations by jitted function name (JAX's compile log)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.names: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        m = re.match(r"Finished XLA compilation of jit\((\w+)\)", record.getMessage())
        if m:
            self.names.append(m.group(1))

    def count(self, name: str) -> int:
        return self.names.count(name)


@pytest.fixture
def compile_counter():
    import jax

    counter = CompileCounter()
    log = logging.getLogger("jax")
    old = log.level
    log.addHandler(counter)
    log.setLevel(logging.DEBUG)
    try:
        with jax.log_compiles(True):
            yield counter
    finally:
        log.removeHandler(counter)
        log.setLevel(old)
