"""Config fields as widgets, with the engine's own validation messages.

`FIELDS` describes the settings the Launch and Live (fork) pages expose; help texts
are the config dataclasses' field docstrings (`engine.config.all_field_docs`).
`validate` applies edits to a base config and returns the config or, per field,
the engine's `ConfigError` message, so a page can show each message next to its
widget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from engine.config import (
    ACTIVATIONS,
    NORMALIZATIONS,
    SHAPINGS,
    ConfigError,
    HadesConfig,
    all_field_docs,
)
from engine.envs.registry import BRAX_BACKENDS


@dataclass(frozen=True)
class Field:
    path: str
    """``section.field`` of HadesConfig."""
    label: str
    kind: str
    """int, float, choice or bool."""
    choices: tuple = ()


def _strategies() -> tuple[str, ...]:
    from engine.strategies import STRATEGIES

    return STRATEGIES


ES_FIELDS = (
    Field("outer.strategy", "strategy", "choice"),
    Field("outer.population", "population", "int"),
    Field("outer.sigma", "sigma", "float"),
    Field("outer.lr", "ES learning rate", "float"),
    Field("outer.generations", "generations", "int"),
)
INNER_FIELDS = (
    Field("inner.width", "width", "int"),
    Field("inner.depth", "depth", "int"),
    Field("inner.activation", "activation", "choice", ACTIVATIONS),
    Field("inner.steps", "steps", "int"),
    Field("inner.lr", "learning rate", "float"),
)
ADVANCED_FIELDS = (
    Field("fitness.num_envs", "envs per rollout", "int"),
    Field("fitness.num_steps", "steps per rollout", "int"),
    Field("outer.antithetic", "antithetic sampling", "bool"),
    Field("outer.fitness_shaping", "fitness shaping", "choice", SHAPINGS),
    Field("outer.chunk", "generations per chunk", "int"),
    Field("outer.eval_every", "evaluate mean dataset every", "int"),
    Field("env.normalize", "observation normalisation", "choice", NORMALIZATIONS),
)
BRAX_FIELDS = (Field("env.backend", "Brax backend", "choice", BRAX_BACKENDS),)
FORK_FIELDS = (
    Field("outer.generations", "generations (total)", "int"),
    Field("outer.population", "population", "int"),
    Field("outer.strategy", "strategy", "choice"),
    Field("inner.width", "inner width", "int"),
    Field("inner.depth", "inner depth", "int"),
    Field("inner.steps", "inner steps", "int"),
    Field("inner.lr", "inner learning rate", "float"),
    Field("fitness.num_steps", "steps per rollout", "int"),
)


def choices(field: Field) -> tuple:
    if field.path == "outer.strategy":
        return _strategies()
    return field.choices


def help_text(path: str) -> str:
    return all_field_docs().get(path, "")


def get_value(cfg: HadesConfig, path: str) -> Any:
    obj: Any = cfg
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def float_step(v: float) -> float:
    """A +/- step of about a tenth of the value's magnitude (0.01 for 0)."""
    if not v or not math.isfinite(v):
        return 0.01
    return 10.0 ** math.floor(math.log10(abs(v)) - 0.5)


def validate(
    base: HadesConfig, values: dict[str, Any]
) -> tuple[HadesConfig | None, dict[str, str]]:
    """(config or None, {field: engine message}).

    Each edit is first checked alone against `base` (so every bad field gets its
    own message), then all together (cross-field rules, e.g. an odd population
    with antithetic sampling, are reported on the field the engine names).
    """
    errors: dict[str, str] = {}
    for path, v in values.items():
        if v is None:
            errors[path] = f"{path}: a value is required"
            continue
        try:
            base.with_overrides({path: v})
        except ConfigError as e:
            errors[e.field if e.field in values else path] = str(e)
        except (TypeError, ValueError) as e:
            errors[path] = f"{path}={v!r} is invalid: {e}"
    if errors:
        return None, errors
    try:
        return base.with_overrides(values), {}
    except ConfigError as e:
        key = e.field if e.field in values else next(iter(values), e.field)
        return None, {key: str(e)}
    except (TypeError, ValueError) as e:
        return None, {next(iter(values), "config"): str(e)}


def changed(base: HadesConfig, values: dict[str, Any]) -> dict[str, Any]:
    """The edits that differ from `base` (a fork's overrides)."""
    out = {}
    for path, v in values.items():
        try:
            cur = get_value(base, path)
        except AttributeError:
            out[path] = v
            continue
        if v != cur:
            out[path] = v
    return out
