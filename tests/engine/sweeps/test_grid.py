"""A sweep's grid: ranges, lists, --set value lists, and every bad input refused
with one line before anything is created."""

from __future__ import annotations

import pytest

from engine.sweeps.grid import SweepError, SweepSpec, expand, parse_ints
from engine.sweeps.ray_cluster import RaySettings, check_address


def test_ranges_and_lists():
    assert parse_ints("0-4", "--seeds") == (0, 1, 2, 3, 4)
    assert parse_ints("1,4,16", "--size") == (1, 4, 16)
    assert parse_ints("0-1,5", "--seeds") == (0, 1, 5)
    assert parse_ints("3", "--seeds") == (3,)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("3-1", "ends below its start (write 1-3)"),
        ("a", "'a' is not a non-negative integer"),
        ("-2", "'-2' is not a non-negative integer"),
        ("1,1", "appears twice"),
        ("", "give a list"),
    ],
)
def test_malformed_ranges(text, says):
    with pytest.raises(SweepError, match="--seeds") as e:
        parse_ints(text, "--seeds")
    assert says in str(e.value)
    assert "\n" not in str(e.value)


def test_expand_is_the_full_product_with_seeds_innermost():
    spec = SweepSpec(
        envs=("CartPole-v1", "Acrobot-v1"),
        sizes=(1, 4),
        seeds=(0, 1, 2),
        overrides=("outer.lr=0.01,0.03", "outer.population=16"),
    )
    points = expand(spec)
    assert len(points) == 2 * 2 * 2 * 3
    assert len({p.slot for p in points}) == len(points)
    first = points[0]
    # a --set field with one value is the same in every run: names leave it out
    assert first.slot == "CartPole-v1 N=1 outer.lr=0.01 seed=0"
    assert [p.seed for p in points[:3]] == [0, 1, 2]
    assert {p.group for p in points[:3]} == {first.group}
    for p in points:
        assert p.config.env.name == p.env
        assert p.config.dataset.size == p.size
        assert p.config.seed == p.seed
        assert p.config.outer.population == 16
        assert p.config.outer.lr == float(dict(p.overrides)["outer.lr"])


def test_no_sizes_means_each_presets_size():
    points = expand(SweepSpec(envs=("CartPole-v1",), seeds=(0,)))
    assert points[0].size == points[0].config.dataset.size > 0


@pytest.mark.parametrize(
    ("kw", "says"),
    [
        ({"envs": ("NoSuchEnv-v0",)}, "unknown environment 'NoSuchEnv-v0'"),
        ({"overrides": ("outer.lr=fast",)}, "outer.lr='fast' is invalid"),
        ({"overrides": ("outer.nope=1",)}, "unknown field"),
        ({"overrides": ("no-equals",)}, "not section.field=value"),
        ({"overrides": ("seed=1,2",)}, "with --seeds"),
        ({"overrides": ("outer.lr=0.1,",)}, "an empty value"),
        ({"sizes": (0,)}, "dataset.size=0 is invalid"),
        ({"preset": "fastest"}, "--preset 'fastest'"),
    ],
)
def test_bad_grids(kw, says):
    with pytest.raises(SweepError) as e:
        expand(SweepSpec(**kw))
    assert says in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "address", ["local", "auto", "none", "ray://head:10001", "10.0.0.1:6379"]
)
def test_ray_addresses(address):
    assert RaySettings(address=address).address == address


@pytest.mark.parametrize("address", ["head", "ray://head", "head:port", "h:70000"])
def test_bad_ray_addresses(address):
    with pytest.raises(SweepError, match="use local, none, auto"):
        check_address(address)


def test_cpu_devices_follow_the_claimed_cpus():
    assert RaySettings(cpus_per_run=2).cpu_devices == 2
    assert RaySettings(cpus_per_run=0.5).cpu_devices == 1
    with pytest.raises(SweepError, match="--cpus-per-run"):
        RaySettings(cpus_per_run=0)
