"""The memory estimate (engine/memory_estimate.py): exact where it traces, and a
config that cannot fit is refused by the real CLI before anything compiles."""

from __future__ import annotations

import jax
import pytest

from engine.memory_estimate import (
    MEMORY_CHECK_ENV,
    MemoryEstimateError,
    check_memory,
    memory_estimate,
)
from engine.outer import Distiller
from tests.cli_run import TINY_DISTILL, assert_one_line_error, hades
from tests.conftest import tiny_cartpole

HUGE = {
    "outer.population": 65536,
    "inner.width": 2048,
    "fitness.member_batch": 65536,
}


def _bytes(tree) -> int:
    return sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(tree))


def test_estimate_sizes_the_es_state_exactly_and_grows_with_the_config():
    cfg = tiny_cartpole()
    est = memory_estimate(cfg)
    state, _ = Distiller(cfg).init()
    assert est.parts["es_state"] == _bytes(state)
    assert est.fits and est.available_bytes > 0
    wider = memory_estimate(tiny_cartpole(**{"inner.width": 256}))
    assert wider.parts["members"] > est.parts["members"]
    bigger = memory_estimate(tiny_cartpole(**{"outer.population": 64}))
    assert bigger.parts["population"] == 8 * est.parts["population"]


def test_check_memory_refuses_unless_told_not_to(monkeypatch):
    cfg = tiny_cartpole(**HUGE)
    with pytest.raises(MemoryEstimateError, match="needs about .* GiB of memory"):
        check_memory(cfg)
    monkeypatch.setenv(MEMORY_CHECK_ENV, "0")
    assert not check_memory(cfg).fits


def test_cli_refuses_a_config_that_cannot_fit_before_compiling(tmp_path):
    root = tmp_path / "runs"
    sets = [x for k, v in HUGE.items() for x in ("--set", f"{k}={v}")]
    res = hades(*TINY_DISTILL, *sets, "--runs", root)
    line = assert_one_line_error(res, "needs about", "GiB of memory", "host RAM")
    assert "outer.population" in line and MEMORY_CHECK_ENV in line
    assert not root.exists() or not any(root.iterdir())  # no run was created
