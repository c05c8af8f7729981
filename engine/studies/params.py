"""Study parameters, declared once: one frozen, documented dataclass per study.

Each study's `Params` subclasses `StudyParams` (``preset``, ``seed``, ``overrides``)
and documents every field with the docstring under it. Everything else derives from
the dataclass: the ``hades study NAME`` flags (`add_flags` / `from_args`), the
dashboard's form (`fields_of`), the parameters saved in the study's config.json and
read back by ``hades study resume`` (`from_dict`), and the checks (`__post_init__`
raising `StudyError`). The same idea names the same thing in every study:
``eval_inits`` is always the number of fresh inits scoring a result, ``overrides``
always the HaDES config fields of the runs the study distils.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from engine.config import ConfigError, field_docs, parse_overrides

PRESETS = ("quick", "paper")


class StudyError(ValueError):
    """A study cannot run with these inputs; the message says what to change."""


@dataclass(frozen=True)
class StudyParams:
    """What every study takes."""

    preset: str = field(default="quick", metadata={"choices": PRESETS})
    """quick: minutes on a CPU; paper: the paper's sizes (a GPU job)."""
    seed: int = 0
    """Seed of the study (its runs, inits and rollouts)."""
    overrides: tuple[str, ...] = ()
    """HaDES config fields of the runs the study distils, as section.field=value."""

    def __post_init__(self):
        if self.preset not in PRESETS:
            raise StudyError(f"preset {self.preset!r}: use one of {', '.join(PRESETS)}")
        try:
            parse_overrides(self.overrides)
        except ConfigError as e:
            raise StudyError(str(e)) from None
        self._check_envs()

    def _check_envs(self) -> None:
        """``env`` / ``envs`` name environments of the registry (checked here, so a
        typo fails before a study directory or a run exists)."""
        from engine.envs import ENV_NAMES

        for name in ("env", "envs"):
            value = getattr(self, name, None)
            for env in [value] if isinstance(value, str) else value or ():
                if env not in ENV_NAMES:
                    raise StudyError(
                        f"{name}: unknown environment {env!r}; known: "
                        f"{', '.join(ENV_NAMES)}"
                    )

    def override_dict(self) -> dict[str, str]:
        """`overrides` as {"section.field": "value"}."""
        return parse_overrides(self.overrides)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# Fields ----------
@dataclass(frozen=True)
class FieldInfo:
    """One parameter as a form or a parser sees it."""

    name: str
    kind: str  # int, float, str, bool, ints, floats, strs
    optional: bool  # None allowed (the preset's default)
    default: Any
    doc: str
    choices: tuple | None


_LISTS = {int: "ints", float: "floats", str: "strs"}


def _kind(tp) -> tuple[str, bool]:
    optional = False
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        tp = args[0]
    if typing.get_origin(tp) is tuple:
        return _LISTS[typing.get_args(tp)[0]], optional
    return tp.__name__, optional


def fields_of(cls) -> list[FieldInfo]:
    """The parameters of a study's `Params`, with their documentation."""
    hints = typing.get_type_hints(cls)
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            docs.update(field_docs(klass))
    out = []
    for f in dataclasses.fields(cls):
        kind, optional = _kind(hints[f.name])
        out.append(
            FieldInfo(
                f.name,
                kind,
                optional,
                f.default,
                docs.get(f.name, ""),
                f.metadata.get("choices"),
            )
        )
    return out


def parse_field(info: FieldInfo, raw: Any) -> Any:
    """A form or flag value (often text) in the field's type; None stays None for
    optional fields; StudyError names the field."""
    if raw is None or (isinstance(raw, str) and not raw.strip() and info.optional):
        if info.optional:
            return None
        raise StudyError(f"{info.name}: a value is needed")
    try:
        if info.kind in ("ints", "floats", "strs"):
            if not isinstance(raw, str | list | tuple):  # a dict's keys are no list
                raise TypeError
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            conv = {"ints": int, "floats": float, "strs": str}[info.kind]
            return tuple(conv(str(v).strip()) for v in items if str(v).strip())
        if info.kind == "bool":
            if isinstance(raw, str):
                return raw.strip().lower() in ("1", "true", "yes", "on")
            return bool(raw)
        return {"int": int, "float": float, "str": str}[info.kind](raw)
    except (TypeError, ValueError):
        raise StudyError(f"{info.name}={raw!r}: not {info.kind}") from None


def make(cls, params=None, values: dict | None = None):
    """`params` (an instance, a dict or None for the defaults) with `values` set."""
    if params is None:
        params = cls()
    elif isinstance(params, dict):
        params = from_dict(cls, params)
    if not isinstance(params, cls):
        raise TypeError(f"params must be {cls.__name__}, got {type(params).__name__}")
    if values:
        params = dataclasses.replace(params, **_typed(cls, values))
    return params


def _typed(cls, values: dict) -> dict:
    infos = {f.name: f for f in fields_of(cls)}
    unknown = sorted(set(values) - set(infos))
    if unknown:
        raise StudyError(
            f"unknown parameter {', '.join(unknown)} of {cls.__module__} study; "
            f"known: {', '.join(infos)}"
        )
    return {k: parse_field(infos[k], v) for k, v in values.items()}


def from_dict(cls, data: dict):
    """The parameters saved in a study's config.json (lists back to tuples)."""
    return cls(**_typed(cls, dict(data or {})))


# Command line ----------
def flag(name: str) -> str:
    return "--set" if name == "overrides" else "--" + name.replace("_", "-")


def add_flags(parser: argparse.ArgumentParser, cls) -> None:
    """One flag per parameter, its help the field's docstring."""
    for info in fields_of(cls):
        default = info.default
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        helptext = info.doc
        if info.kind in ("ints", "floats", "strs") and info.name != "overrides":
            helptext += " Comma-separated."
        if shown not in (None, "", ()):
            helptext += f" Default: {shown}."
        elif info.optional and "default" not in helptext.lower():
            helptext += " Default: the preset's."
        if info.name == "overrides":
            parser.add_argument(
                "--set",
                dest="overrides",
                action="append",
                metavar="SECTION.FIELD=VALUE",
                help=helptext,
            )
        elif info.kind == "bool":
            parser.add_argument(
                flag(info.name),
                dest=info.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=helptext,
            )
        else:
            listed = info.kind in ("ints", "floats", "strs")
            metavar = info.name.upper()
            if info.choices and listed:  # argparse's choices would refuse "a,b"
                metavar = "{" + ",".join(map(str, info.choices)) + "},..."
            parser.add_argument(
                flag(info.name),
                dest=info.name,
                default=None,
                choices=None if listed else info.choices,
                metavar=None if info.choices and not listed else metavar,
                help=helptext,
            )


def from_args(cls, args: argparse.Namespace):
    """The parameters given on the command line (the rest stay defaults)."""
    values = {}
    for info in fields_of(cls):
        v = getattr(args, info.name, None)
        if v is not None:
            values[info.name] = tuple(v) if info.name == "overrides" else v
    return make(cls, None, values)
