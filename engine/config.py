"""Configuration of a HaDES run: one frozen dataclass per concern.

Every field carries a docstring (cleanrl style); `field_docs` reads them so the same
text is the help of a CLI flag and of a dashboard widget. Values are validated at the
door: a bad value raises `ConfigError` naming the field, the value and what is allowed.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import json
import math
import textwrap
from dataclasses import dataclass, field
from typing import Any


class ConfigError(ValueError):
    """A configuration value is invalid; `field` names it (``section.name``)."""

    def __init__(self, field_name: str, value: Any, allowed: str):
        self.field = field_name
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field_name}={value!r} is invalid: {allowed}")


def _check(ok: bool, name: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(name, value, allowed)


def _positive_int(section: str, obj: Any, *names: str) -> None:
    for n in names:
        v = getattr(obj, n)
        _check(
            isinstance(v, int) and not isinstance(v, bool) and v > 0,
            f"{section}.{n}",
            v,
            "must be a positive integer",
        )


def _finite_nonneg(section: str, obj: Any, *names: str, positive=False) -> None:
    for n in names:
        v = getattr(obj, n)
        ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        ok = ok and (v > 0 if positive else v >= 0)
        _check(
            ok,
            f"{section}.{n}",
            v,
            "must be a finite number " + ("> 0" if positive else ">= 0"),
        )


def _choice(section: str, obj: Any, name: str, choices) -> None:
    v = getattr(obj, name)
    _check(v in choices, f"{section}.{name}", v, f"must be one of {sorted(choices)}")


NORMALIZATIONS = ("none", "constant", "running")
LABEL_KINDS = ("auto", "continuous", "onehot", "soft")
MAX_DATASET_SIZE = 100_000
"""Most states of a dataset (readers size their checks by it)."""
ACTIVATIONS = ("tanh", "relu", "gelu", "silu", "elu")
REDUCTIONS = ("mean_completed", "last_completed")
SHAPINGS = ("identity", "centered_rank", "z_score", "normalize")
ES_OPTIMIZERS = ("adam", "sgd")
INNER_OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class EnvConfig:
    name: str = "CartPole-v1"
    """Environment from the registry (classic control, MinAtar or Brax)."""
    backend: str = "positional"
    """Brax physics backend: positional, spring, generalized, mjx (Brax only)."""
    episode_length: int = 1000
    """Brax episode length in steps (auto-reset after it); ignored elsewhere."""
    normalize: str = "none"
    """Observation normalisation: none, constant (fixed statistics) or running."""
    stats_file: str = ""
    """For constant normalisation: .npz with `mean` and `var` arrays, or a dataset
    .npz with constant statistics (an imported paper dataset's). Empty: estimate
    them from random-policy rollouts at the start of the run (stored in the dataset)."""

    def __post_init__(self):
        from engine.envs import registry

        _check(
            self.name in registry.ENV_NAMES,
            "env.name",
            self.name,
            "must be one of " + ", ".join(registry.ENV_NAMES),
        )
        _choice("env", self, "backend", registry.BRAX_BACKENDS)
        _positive_int("env", self, "episode_length")
        _choice("env", self, "normalize", NORMALIZATIONS)


@dataclass(frozen=True)
class DatasetConfig:
    size: int = 4
    """Number N of synthetic state-action pairs in the distilled dataset."""
    labels: str = "auto"
    """Labels: auto (continuous actions for continuous envs, fixed one-hot for
    discrete), onehot (fixed round-robin classes), soft (evolved logits), continuous."""

    def __post_init__(self):
        _positive_int("dataset", self, "size")
        _check(
            self.size <= MAX_DATASET_SIZE,
            "dataset.size",
            self.size,
            f"must be <= {MAX_DATASET_SIZE}",
        )
        _choice("dataset", self, "labels", LABEL_KINDS)


@dataclass(frozen=True)
class InnerConfig:
    width: int = 512
    """Hidden units per layer of the policy MLP trained on the dataset."""
    depth: int = 2
    """Number of hidden layers of the policy MLP."""
    activation: str = "tanh"
    """Hidden activation: tanh, relu, gelu, silu or elu."""
    steps: int = 400
    """Full-batch behaviour-cloning gradient steps on the N pairs."""
    lr: float = 5e-3
    """Learning rate of the inner (behaviour cloning) optimiser."""
    optimizer: str = "adam"
    """Inner optimiser: adam or sgd."""
    adam_eps: float = 1e-5
    """Adam epsilon of the inner optimiser."""
    max_grad_norm: float = 0.5
    """Clip the global gradient norm to this value; 0 disables clipping."""

    def __post_init__(self):
        _positive_int("inner", self, "width", "depth", "steps")
        _check(self.width <= 16384, "inner.width", self.width, "must be <= 16384")
        _choice("inner", self, "activation", ACTIVATIONS)
        _choice("inner", self, "optimizer", INNER_OPTIMIZERS)
        _finite_nonneg("inner", self, "lr", "adam_eps", positive=True)
        _finite_nonneg("inner", self, "max_grad_norm")


@dataclass(frozen=True)
class FitnessConfig:
    num_envs: int = 4
    """Parallel environments per (candidate, init) rollout."""
    num_steps: int = 1024
    """Environment steps per rollout (episodes auto-reset inside the window)."""
    reduction: str = "mean_completed"
    """How returns become fitness: mean_completed (mean over all episodes finished in
    the window, the paper's Brax rule) or last_completed (last finished episode per
    env, averaged; the paper's MinAtar rule). An env with no finished episode counts
    its partial return, never a silent 0."""
    greedy: bool = False
    """Act with the policy's mode instead of sampling (the paper samples)."""
    inits: int = 2
    """Policy initialisations per candidate (k); fitness is their mean (HaDES-R: 2)."""
    fixed_init: bool = False
    """HaDES-F: train every candidate from one fixed init (key fixed_init_seed)."""
    fixed_init_seed: int = -1
    """Init key for HaDES-F; -1 means 420 + run seed, as the paper."""
    common_random_numbers: bool = True
    """All population members share a generation's init and rollout keys (paper)."""
    member_batch: int = 0
    """Members vectorised together (lax.map over groups of this size); 0 chooses:
    on CPU groups of 2 for policies of 100k+ parameters (a pair's weights and Adam
    state stay in cache: 2.5x faster on Breakout W512), else all at once. Set it to
    the population size to vectorise every member at once."""

    def __post_init__(self):
        _positive_int("fitness", self, "num_envs", "num_steps", "inits")
        _choice("fitness", self, "reduction", REDUCTIONS)
        _check(
            isinstance(self.member_batch, int) and self.member_batch >= 0,
            "fitness.member_batch",
            self.member_batch,
            "must be an integer >= 0",
        )
        _check(
            isinstance(self.fixed_init_seed, int) and self.fixed_init_seed >= -1,
            "fitness.fixed_init_seed",
            self.fixed_init_seed,
            "must be an integer >= -1",
        )
        _check(
            not (self.fixed_init and self.inits != 1),
            "fitness.inits",
            self.inits,
            "must be 1 with fitness.fixed_init (HaDES-F uses one fixed init)",
        )


@dataclass(frozen=True)
class OuterConfig:
    strategy: str = "Open_ES"
    """Evolution strategy from evosax's distribution-based registry."""
    population: int = 64
    """Candidate datasets per generation."""
    generations: int = 50
    """Generations to run."""
    sigma: float = 0.03
    """Initial search standard deviation (can be tuned live)."""
    sigma_decay: float = 1.0
    """Multiply sigma by this after every generation (1 keeps it constant)."""
    sigma_floor: float = 0.0
    """Sigma never decays below this."""
    lr: float = 0.05
    """ES learning rate of the mean update (can be tuned live)."""
    lr_decay: float = 1.0
    """Multiply the ES learning rate by this after every generation."""
    lr_floor: float = 0.0
    """The ES learning rate never decays below this."""
    optimizer: str = "adam"
    """Optimiser of the ES mean for gradient-based strategies: adam or sgd."""
    adam_b1: float = 0.99
    """Adam beta1 of the ES optimiser (the paper: 0.99)."""
    adam_b2: float = 0.999
    """Adam beta2 of the ES optimiser."""
    adam_eps: float = 1e-8
    """Adam epsilon of the ES optimiser."""
    fitness_shaping: str = "identity"
    """Fitness shaping: identity (raw, the paper's OpenES), centered_rank, z_score,
    normalize. SNES always uses its temperature weights."""
    temperature: float = 20.0
    """SNES recombination temperature: weights softmax(-T * centred rank)."""
    antithetic: bool = True
    """Mirrored sampling (OpenES): population must then be even."""
    init_std: float = 0.0
    """Std of a random ES initial mean; 0 starts at all zeros (the paper)."""
    chunk: int = 10
    """Generations per jitted chunk; progress, checkpoints and control in between."""
    eval_every: int = 10
    """Evaluate the ES mean dataset every this many generations (and at the end)."""
    eval_inits: int = 2
    """Fresh inits used to score the mean dataset during a run."""

    def __post_init__(self):
        from engine.strategy_registry import STRATEGIES

        _choice("outer", self, "strategy", STRATEGIES)
        _positive_int(
            "outer",
            self,
            "population",
            "generations",
            "chunk",
            "eval_every",
            "eval_inits",
        )
        _check(
            self.population >= 2,
            "outer.population",
            self.population,
            "must be at least 2",
        )
        _finite_nonneg("outer", self, "sigma", "lr", positive=True)
        _finite_nonneg(
            "outer",
            self,
            "sigma_floor",
            "lr_floor",
            "init_std",
            "temperature",
            "adam_eps",
        )
        for n in ("sigma_decay", "lr_decay", "adam_b1", "adam_b2"):
            v = getattr(self, n)
            _check(
                isinstance(v, int | float) and 0 < v <= 1,
                f"outer.{n}",
                v,
                "must be in (0, 1]",
            )
        _choice("outer", self, "optimizer", ES_OPTIMIZERS)
        _choice("outer", self, "fitness_shaping", SHAPINGS)
        _check(
            not (
                self.antithetic and self.strategy == "Open_ES" and self.population % 2
            ),
            "outer.population",
            self.population,
            "must be even with antithetic sampling (outer.antithetic=true)",
        )


@dataclass(frozen=True)
class EvalConfig:
    inits: int = 8
    """Fresh policies trained on the dataset for `hades evaluate`."""
    seed: int = 0
    """Seed of the evaluation inits and rollouts."""
    random_inits: bool = False
    """Ignore a HaDES-F dataset's fixed init and use random inits."""

    def __post_init__(self):
        _positive_int("eval", self, "inits")


SECTIONS = {
    "env": EnvConfig,
    "dataset": DatasetConfig,
    "inner": InnerConfig,
    "fitness": FitnessConfig,
    "outer": OuterConfig,
    "eval": EvalConfig,
}


@dataclass(frozen=True)
class HadesConfig:
    env: EnvConfig = field(default_factory=EnvConfig)
    """The environment and its observation normalisation."""
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    """The synthetic dataset being distilled."""
    inner: InnerConfig = field(default_factory=InnerConfig)
    """The inner loop: policy network and behaviour cloning."""
    fitness: FitnessConfig = field(default_factory=FitnessConfig)
    """How a candidate dataset is scored."""
    outer: OuterConfig = field(default_factory=OuterConfig)
    """The evolution strategy (outer loop)."""
    eval: EvalConfig = field(default_factory=EvalConfig)
    """Evaluation of a finished dataset."""
    seed: int = 0
    """Run seed: every random number of the run derives from it."""
    preset: str = "custom"
    """Name of the preset this config started from (informational)."""

    def __post_init__(self):
        _check(
            isinstance(self.seed, int)
            and not isinstance(self.seed, bool)
            and self.seed >= 0,
            "seed",
            self.seed,
            "must be an integer >= 0",
        )
        from engine.envs import registry

        spec = registry.get_spec(self.env.name)
        if self.dataset.labels == "continuous":
            _check(
                not spec.discrete,
                "dataset.labels",
                self.dataset.labels,
                f"{self.env.name} has discrete actions: use auto, onehot or soft",
            )
        if self.dataset.labels in ("onehot", "soft"):
            _check(
                spec.discrete,
                "dataset.labels",
                self.dataset.labels,
                f"{self.env.name} has continuous actions: use auto or continuous",
            )
        if self.dataset.labels == "onehot" and spec.discrete:
            _check(
                self.dataset.size >= 1,
                "dataset.size",
                self.dataset.size,
                "must be >= 1",
            )

    @property
    def fixed_init_seed(self) -> int:
        """The HaDES-F init key (420 + seed unless set)."""
        f = self.fitness.fixed_init_seed
        return 420 + self.seed if f < 0 else f

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> HadesConfig:
        """Build from a (possibly partial) nested dict; unknown keys are errors."""
        if not isinstance(d, dict):
            raise ConfigError("config", type(d).__name__, "must be a JSON object")
        kwargs: dict[str, Any] = {}
        top = {f.name for f in dataclasses.fields(cls)}
        for k, v in d.items():
            if k not in top:
                raise ConfigError(k, v, f"unknown section; known: {sorted(top)}")
            if k in SECTIONS:
                sec = SECTIONS[k]
                if not isinstance(v, dict):
                    raise ConfigError(k, v, "must be an object of fields")
                names = {f.name for f in dataclasses.fields(sec)}
                for kk in v:
                    if kk not in names:
                        raise ConfigError(
                            f"{k}.{kk}", v[kk], f"unknown field; known: {sorted(names)}"
                        )
                kwargs[k] = sec(**v)
            else:
                kwargs[k] = v
        return cls(**kwargs)

    def replace(self, **sections) -> HadesConfig:
        return dataclasses.replace(self, **sections)

    def with_overrides(self, overrides: dict[str, Any]) -> HadesConfig:
        """Apply {"section.field": value} overrides (values typed already or str)."""
        cfg = self.to_dict()
        for dotted, raw in overrides.items():
            parts = dotted.split(".")
            if len(parts) == 1 and parts[0] in ("seed", "preset"):
                cfg[parts[0]] = parse_value(HadesConfig, parts[0], raw)
                continue
            if len(parts) != 2 or parts[0] not in SECTIONS:
                raise ConfigError(
                    dotted,
                    raw,
                    "use section.field with section in "
                    + ", ".join(SECTIONS)
                    + " (or seed)",
                )
            sec, name = parts
            cfg[sec][name] = parse_value(SECTIONS[sec], name, raw, prefix=sec)
        return HadesConfig.from_dict(cfg)


def parse_overrides(items, where: str = "--set") -> dict[str, str]:
    """``section.field=value`` strings -> {"section.field": "value"}: the one parser
    of overrides (CLI ``--set``, study flags, dashboard text boxes). Blank items and
    ``#`` comments are skipped; values stay strings (`with_overrides` types them).
    `where` names the input in the error.
    """
    out: dict[str, str] = {}
    for item in items or ():
        text = str(item).strip()
        if not text or text.startswith("#"):
            continue
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                where, text, "not section.field=value (e.g. outer.population=32)"
            )
        out[key.strip()] = value.strip()
    return out


def parse_value(cls, name: str, raw: Any, prefix: str = "") -> Any:
    """Convert `raw` (often a CLI string) to the type of field `name` of `cls`."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    full = f"{prefix}.{name}" if prefix else name
    if name not in fields:
        raise ConfigError(full, raw, f"unknown field; known: {sorted(fields)}")
    default = fields[name].default
    if not isinstance(raw, str):
        return raw
    try:
        if isinstance(default, bool):
            low = raw.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise ConfigError(full, raw, f"must be a {type(default).__name__}") from None
    return raw


@functools.cache
def field_docs(cls) -> dict[str, str]:
    """The docstring under each field of a dataclass, by field name."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body
    docs = {}
    for a, b in zip(body, body[1:], strict=False):
        if (
            isinstance(a, ast.AnnAssign)
            and isinstance(a.target, ast.Name)
            and isinstance(b, ast.Expr)
            and isinstance(b.value, ast.Constant)
            and isinstance(b.value.value, str)
        ):
            docs[a.target.id] = " ".join(b.value.value.split())
    return docs


def all_field_docs() -> dict[str, str]:
    """Docs of every `section.field`, for help texts."""
    out = {}
    for sec, cls in SECTIONS.items():
        for k, v in field_docs(cls).items():
            out[f"{sec}.{k}"] = v
    out["seed"] = field_docs(HadesConfig)["seed"]
    return out
