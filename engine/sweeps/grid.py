"""A sweep's grid: environments x dataset sizes x ``--set`` values x seeds.

`SweepSpec` declares the grid once (its field docstrings are the CLI help and the
dashboard's help texts); `parse_ints` reads ``0-4`` and ``1,4,16``; `expand` turns a
spec into `Point`s, each with its HaDES config, and checks every config before any
run is created (an unknown environment, a malformed range or a bad ``--set`` is one
`SweepError` line).

A point's ``slot`` names it in the store (``labels={"sweep": id, "slot": slot}``);
its ``group`` is the slot without the seed: the points of one group differ only in
the seed, so the dashboard draws them as one mean with a band.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field

from engine import presets
from engine.config import ConfigError, HadesConfig, parse_overrides
from engine.envs.registry import ENV_NAMES

# The grid's own axes: `--set` may not name them (one way to give each).
_AXES = {"env.name": "--env", "dataset.size": "--size", "seed": "--seeds"}


class SweepError(ValueError):
    """A sweep cannot be made or run with these inputs; the message says why."""


@dataclass(frozen=True)
class SweepSpec:
    """The grid of a sweep: every combination is one run."""

    envs: tuple[str, ...] = field(
        default=("CartPole-v1",), metadata={"choices": ENV_NAMES}
    )
    """Environments, comma-separated (see `hades envs`)."""
    sizes: tuple[int, ...] = ()
    """Dataset sizes N, a list (1,4,16) or a range (1-4); none: each environment's
    preset size."""
    seeds: tuple[int, ...] = (0,)
    """Seeds, a list (0,2,5) or a range with both ends included (0-4)."""
    preset: str = field(
        default="quick", metadata={"choices": presets.PRESETS + presets.BENCHMARKS}
    )
    """Starting config of every run: quick (CPU) or paper (the paper's, GPU)."""
    overrides: tuple[str, ...] = ()
    """Config fields as section.field=v1,v2: each value list is one more axis."""

    def __post_init__(self):
        if not self.envs:
            raise SweepError("--env: give at least one environment")
        if not self.seeds:
            raise SweepError("--seeds: give at least one seed")
        if self.preset not in presets.PRESETS + presets.BENCHMARKS:
            raise SweepError(
                f"--preset {self.preset!r}: use one of "
                + ", ".join(presets.PRESETS + presets.BENCHMARKS)
            )
        self.axes()  # a malformed --set fails here

    def axes(self) -> dict[str, tuple[str, ...]]:
        """``--set`` as {"section.field": (value, ...)} in the order given."""
        try:
            pairs = parse_overrides(self.overrides)
        except ConfigError as e:
            raise SweepError(str(e)) from None
        out = {}
        for key, raw in pairs.items():
            if key in _AXES:
                raise SweepError(
                    f"--set {key}=...: the grid gives {key} with {_AXES[key]}"
                )
            values = tuple(v.strip() for v in raw.split(","))
            if not all(values):
                raise SweepError(f"--set {key}={raw}: an empty value in the list")
            out[key] = values
        return out

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_text(
        cls,
        envs: str | tuple[str, ...],
        sizes: str | None,
        seeds: str,
        preset: str = "quick",
        overrides=(),
    ) -> SweepSpec:
        """The spec from what a user types (flags, form fields): ``1,4,16``,
        ``0-4``; SweepError names the flag."""
        if isinstance(envs, str):
            envs = parse_names(envs, "--env")
        return cls(
            envs=tuple(envs),
            sizes=parse_ints(sizes, "--size") if sizes and sizes.strip() else (),
            seeds=parse_ints(seeds, "--seeds"),
            preset=preset,
            overrides=tuple(o for o in overrides or () if str(o).strip()),
        )

    @classmethod
    def from_dict(cls, data: dict) -> SweepSpec:
        return cls(
            envs=tuple(data.get("envs") or ()),
            sizes=tuple(int(n) for n in data.get("sizes") or ()),
            seeds=tuple(int(s) for s in data.get("seeds") or ()),
            preset=str(data.get("preset") or "quick"),
            overrides=tuple(data.get("overrides") or ()),
        )


def parse_ints(text: str, flag: str) -> tuple[int, ...]:
    """``1,4,16``, ``0-4`` (both ends included) or a mix -> the integers in order.

    SweepError names the flag and the bad item (``--seeds 3-1``)."""
    out: list[int] = []
    items = [t.strip() for t in str(text).split(",")]
    if not any(items):
        raise SweepError(f"{flag} {text!r}: give a list (1,4,16) or a range (0-4)")
    for item in items:
        lo, sep, hi = item.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise SweepError(
                f"{flag} {text}: {item!r} is not a non-negative integer or a range "
                "a-b (e.g. 0-4)"
            ) from None
        if b < a:
            raise SweepError(
                f"{flag} {text}: the range {item} ends below its start (write {b}-{a})"
            )
        out.extend(range(a, b + 1))
    if len(set(out)) != len(out):
        raise SweepError(f"{flag} {text}: a value appears twice")
    return tuple(out)


def parse_names(text: str, flag: str = "--env") -> tuple[str, ...]:
    names = tuple(t.strip() for t in str(text).split(",") if t.strip())
    if not names:
        raise SweepError(f"{flag}: give at least one name")
    return names


# Points ----------
@dataclass(frozen=True)
class Point:
    """One run of the grid."""

    env: str
    size: int
    seed: int
    overrides: tuple[tuple[str, str], ...]
    config: HadesConfig
    varying: tuple[str, ...] = ()
    """The ``--set`` fields given several values (the others are the same in
    every run, so names leave them out)."""

    @property
    def group(self) -> str:
        """The grid point without its seed (seeds of one group are compared)."""
        extra = "".join(f" {k}={v}" for k, v in self.overrides if k in self.varying)
        return f"{self.env} N={self.size}{extra}"

    @property
    def slot(self) -> str:
        """The run's place in the sweep (its ``slot`` label)."""
        return f"{self.group} seed={self.seed}"

    def to_dict(self) -> dict:
        return {
            "slot": self.slot,
            "group": self.group,
            "env": self.env,
            "size": self.size,
            "seed": self.seed,
            "overrides": dict(self.overrides),
        }


def expand(spec: SweepSpec) -> list[Point]:
    """Every point of the grid with its config, seeds innermost; SweepError on the
    first environment, size or value the engine refuses (nothing is created)."""
    for env in spec.envs:
        if env not in ENV_NAMES:
            raise SweepError(
                f"--env: unknown environment {env!r}; known: {', '.join(ENV_NAMES)}"
            )
    axes = spec.axes()
    keys = list(axes)
    varying = tuple(k for k in keys if len(axes[k]) > 1)
    combos = list(itertools.product(*(axes[k] for k in keys)))
    points = []
    for env in spec.envs:
        for size in spec.sizes or (None,):
            for combo in combos:
                ov = tuple(zip(keys, combo, strict=True))
                for seed in spec.seeds:
                    try:
                        cfg = presets.make(spec.preset, env, size, seed)
                        if ov:
                            cfg = cfg.with_overrides(dict(ov))
                    except ConfigError as e:
                        flag = {"dataset.size": "--size", "seed": "--seeds"}.get(
                            e.field, "--set"
                        )
                        raise SweepError(f"{flag}: {e} ({env})") from None
                    points.append(Point(env, cfg.dataset.size, seed, ov, cfg, varying))
    slots = [p.slot for p in points]
    if len(set(slots)) != len(slots):
        raise SweepError("the grid repeats a point (the same value given twice)")
    return points
