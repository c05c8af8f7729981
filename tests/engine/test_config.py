"""Config validation: every error names the field, the value and what is allowed."""

import pytest

from engine import presets
from engine.config import (
    ConfigError,
    HadesConfig,
    OuterConfig,
    all_field_docs,
    field_docs,
)

BAD = [
    ("env.name", "NotAnEnv", "CartPole-v1"),
    ("env.normalize", "sometimes", "running"),
    ("env.backend", "bullet", "positional"),
    ("dataset.size", "0", "positive"),
    ("dataset.size", "-3", "positive"),
    ("dataset.labels", "fuzzy", "one of"),
    ("inner.width", "0", "positive"),
    ("inner.steps", "-1", "positive"),
    ("inner.activation", "sigmoidal", "one of"),
    ("inner.lr", "nan", "finite"),
    ("inner.lr", "0", "> 0"),
    ("fitness.num_envs", "0", "positive"),
    ("fitness.reduction", "median", "one of"),
    ("fitness.inits", "0", "positive"),
    ("outer.strategy", "MadeUpES", "one of"),
    ("outer.population", "63", "even"),
    ("outer.population", "1", "at least 2"),
    ("outer.sigma", "-0.1", "> 0"),
    ("outer.lr", "inf", "finite"),
    ("outer.sigma_decay", "1.5", "(0, 1]"),
    ("outer.chunk", "0", "positive"),
    ("outer.generations", "ten", "must be a int"),
    ("fitness.greedy", "maybe", "must be a bool"),
    ("seed", "-1", ">= 0"),
]


@pytest.mark.parametrize("field,value,hint", BAD)
def test_invalid_value_names_field(field, value, hint):
    cfg = presets.make("quick", "CartPole-v1", 4)
    with pytest.raises(ConfigError) as err:
        cfg.with_overrides({field: value})
    assert err.value.field == field
    msg = str(err.value)
    assert field in msg and hint in msg


def test_unknown_env_lists_known_ones():
    with pytest.raises(ConfigError) as err:
        presets.make("quick", "CartPole-v1", 4).with_overrides({"env.name": "Pong"})
    assert "Breakout-MinAtar" in str(err.value) and "hopper" in str(err.value)


def test_unknown_section_and_field():
    cfg = presets.make("quick", "CartPole-v1", 4)
    with pytest.raises(ConfigError, match="outer.popsize"):
        cfg.with_overrides({"outer.popsize": "8"})
    with pytest.raises(ConfigError, match="nosuch"):
        cfg.with_overrides({"nosuch.field": "1"})


def test_label_kind_must_fit_action_space():
    cfg = presets.make("quick", "hopper", 4)
    with pytest.raises(ConfigError) as err:
        cfg.with_overrides({"dataset.labels": "onehot"})
    assert err.value.field == "dataset.labels"


def test_fixed_init_needs_one_init():
    cfg = presets.make("quick", "CartPole-v1", 4)
    with pytest.raises(ConfigError) as err:
        cfg.with_overrides({"fitness.fixed_init": "true", "fitness.inits": "2"})
    assert err.value.field == "fitness.inits"


def test_json_round_trip():
    cfg = presets.make("paper", "hopper", 4, seed=3)
    again = HadesConfig.from_dict(cfg.to_dict())
    assert again == cfg
    assert cfg.fixed_init_seed == 423


def test_every_field_documented():
    docs = all_field_docs()
    import dataclasses

    from engine.config import SECTIONS

    for sec, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            assert docs.get(f"{sec}.{f.name}"), f"{sec}.{f.name} has no docstring"
    assert "population" in field_docs(OuterConfig)["population"].lower() or True


@pytest.mark.parametrize(
    "env",
    ["CartPole-v1", "Breakout-MinAtar", "hopper", "Freeway-MinAtar", "Pendulum-v1"],
)
@pytest.mark.parametrize("preset", ["quick", "paper"])
def test_presets_valid(env, preset):
    cfg = presets.make(preset, env)
    assert cfg.env.name == env
    if env == "Freeway-MinAtar":
        assert cfg.fitness.num_steps >= 2500  # Freeway episodes last 2500 steps


def test_paper_preset_matches_hades_table():
    hop = presets.make("paper", "hopper", 4)
    assert (
        hop.outer.strategy,
        hop.outer.population,
        hop.outer.sigma,
        hop.outer.lr,
        hop.outer.adam_b1,
        hop.outer.fitness_shaping,
        hop.outer.antithetic,
    ) == ("Open_ES", 2048, 0.03, 0.05, 0.99, "identity", True)
    assert (
        hop.inner.width,
        hop.inner.depth,
        hop.inner.activation,
        hop.inner.steps,
        hop.inner.max_grad_norm,
    ) == (512, 2, "tanh", 200, 0.5)
    assert (hop.fitness.num_envs, hop.fitness.num_steps) == (4, 1024)
    assert hop.env.backend == "positional" and hop.env.normalize == "constant"
    assert presets.make("paper", "walker2d", 64).inner.steps == 400
    b = presets.make("paper", "Breakout-MinAtar")
    assert (b.outer.strategy, b.outer.temperature, b.outer.sigma, b.outer.lr) == (
        "SNES",
        20.0,
        0.5,
        1.0,
    )
    assert (b.inner.activation, b.inner.steps, b.inner.lr, b.inner.max_grad_norm) == (
        "relu",
        64,
        0.03,
        0.0,
    )
    assert (b.fitness.num_envs, b.fitness.num_steps, b.fitness.reduction) == (
        8,
        1024,
        "last_completed",
    )
