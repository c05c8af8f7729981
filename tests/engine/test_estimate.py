"""The time estimate the CLI prints before a run and the Launch page shows."""

import pytest

from engine import estimate, presets


def test_estimate_heuristic_and_past_runs():
    cfg = presets.make("quick", "CartPole-v1", 4, 0)
    e = estimate.estimate(cfg)
    assert 0.01 < e.seconds_per_generation < 5 and "heuristic" in e.basis
    big = cfg.with_overrides({"outer.population": 128})
    assert estimate.heuristic_seconds(big) > estimate.heuristic_seconds(cfg)
    hopper = presets.make("quick", "hopper", 4, 0)
    assert estimate.heuristic_seconds(hopper) > estimate.heuristic_seconds(cfg)
    # A past run twice as slow as the heuristic scales this estimate the same way
    past = [(cfg.to_dict(), 2 * estimate.heuristic_seconds(cfg))]
    e2 = estimate.estimate(big, past)
    assert e2.seconds_per_generation == pytest.approx(
        2 * estimate.heuristic_seconds(big)
    )
    assert "past" in e2.basis


def test_estimate_of_the_generations_left():
    cfg = presets.make("quick", "CartPole-v1", 4, 0)
    full = estimate.estimate(cfg)
    left = estimate.estimate(cfg, generations=10)
    assert left.seconds_per_generation == full.seconds_per_generation
    assert left.total_seconds == pytest.approx(
        left.compile_seconds + 10 * left.seconds_per_generation
    )
    assert left.total_seconds < full.total_seconds
