"""The environment registry: static facts about every supported environment.

Specs are written out here (not read from a constructed env) so that validating a
config or drawing a dataset never has to build a Brax system. `make_env` builds an
adapter (`gymnax_env`, `brax_env`); the adapters import `EnvSpec` from `spec`, never
this module.
"""

from __future__ import annotations

import functools

from engine.envs.spec import EnvSpec

_MINATAR_CHANNELS = {
    "Breakout-MinAtar": (
        4,
        ("paddle", "ball", "trail", "brick"),
        ("no-op", "left", "right"),
    ),
    "Asterix-MinAtar": (
        4,
        ("player", "enemy", "trail", "gold"),
        ("no-op", "left", "up", "right", "down"),
    ),
    "SpaceInvaders-MinAtar": (
        6,
        (
            "cannon",
            "alien",
            "alien_left",
            "alien_right",
            "friendly_bullet",
            "enemy_bullet",
        ),
        ("no-op", "left", "right", "fire"),
    ),
    "Freeway-MinAtar": (
        7,
        ("chicken", "car", "speed1", "speed2", "speed3", "speed4", "speed5"),
        ("no-op", "up", "down"),
    ),
}
_MINATAR_STEPS = {"Freeway-MinAtar": 2500}

_BRAX = {
    # name: (obs size, action size, dt)
    "hopper": (11, 3, 0.008),
    "walker2d": (17, 6, 0.008),
    "halfcheetah": (17, 6, 0.05),
    "ant": (27, 8, 0.05),
    "humanoid": (244, 17, 0.015),
    "humanoidstandup": (244, 17, 0.015),
    "reacher": (11, 2, 0.02),
    "inverted_double_pendulum": (8, 1, 0.05),
}
_BRAX_FEATURES = {
    "hopper": (
        "rootz",
        "rooty",
        "thigh",
        "leg",
        "foot",
        "vel_rootx",
        "vel_rootz",
        "vel_rooty",
        "vel_thigh",
        "vel_leg",
        "vel_foot",
    ),
    "walker2d": (
        "rootz",
        "rooty",
        "thigh",
        "leg",
        "foot",
        "thigh_left",
        "leg_left",
        "foot_left",
        "vel_rootx",
        "vel_rootz",
        "vel_rooty",
        "vel_thigh",
        "vel_leg",
        "vel_foot",
        "vel_thigh_left",
        "vel_leg_left",
        "vel_foot_left",
    ),
}
_BRAX_ACTIONS = {
    "hopper": ("thigh", "leg", "foot"),
    "walker2d": ("thigh", "leg", "foot", "thigh_left", "leg_left", "foot_left"),
}
BRAX_BACKENDS = ("positional", "spring", "generalized", "mjx")


def _build() -> dict[str, EnvSpec]:
    specs = {
        "CartPole-v1": EnvSpec(
            "CartPole-v1",
            "classic",
            (4,),
            True,
            2,
            dt=0.02,
            max_episode_steps=500,
            feature_names=("x", "x_dot", "theta", "theta_dot"),
            action_names=("push left", "push right"),
            group="Classic control",
        ),
        "Acrobot-v1": EnvSpec(
            "Acrobot-v1",
            "classic",
            (6,),
            True,
            3,
            dt=0.2,
            max_episode_steps=500,
            feature_names=(
                "cos_theta1",
                "sin_theta1",
                "cos_theta2",
                "sin_theta2",
                "theta1_dot",
                "theta2_dot",
            ),
            action_names=("torque -1", "torque 0", "torque +1"),
            group="Classic control",
        ),
        "MountainCar-v0": EnvSpec(
            "MountainCar-v0",
            "classic",
            (2,),
            True,
            3,
            dt=0.05,
            max_episode_steps=200,
            feature_names=("position", "velocity"),
            action_names=("left", "none", "right"),
            group="Classic control",
        ),
        "Pendulum-v1": EnvSpec(
            "Pendulum-v1",
            "classic",
            (3,),
            False,
            1,
            action_low=-2.0,
            action_high=2.0,
            dt=0.05,
            max_episode_steps=200,
            feature_names=("cos_theta", "sin_theta", "theta_dot"),
            action_names=("torque",),
            group="Classic control",
        ),
        "MountainCarContinuous-v0": EnvSpec(
            "MountainCarContinuous-v0",
            "classic",
            (2,),
            False,
            1,
            dt=0.05,
            max_episode_steps=999,
            feature_names=("position", "velocity"),
            action_names=("force",),
            group="Classic control",
        ),
    }
    for name, (c, channels, actions) in _MINATAR_CHANNELS.items():
        feats = tuple(
            f"{ch}[{r},{col}]"
            for r in range(10)
            for col in range(10)
            for ch in channels
        )
        specs[name] = EnvSpec(
            name,
            "minatar",
            (10, 10, c),
            True,
            len(actions),
            dt=0.04,
            max_episode_steps=_MINATAR_STEPS.get(name, 1000),
            feature_names=feats,
            action_names=actions,
            group="MinAtar",
        )
    for name, (obs, act, dt) in _BRAX.items():
        specs[name] = EnvSpec(
            name,
            "brax",
            (obs,),
            False,
            act,
            dt=dt,
            max_episode_steps=1000,
            feature_names=_BRAX_FEATURES.get(name, ()),
            action_names=_BRAX_ACTIONS.get(name, ()),
            group="Brax",
        )
    return specs


SPECS: dict[str, EnvSpec] = _build()
ENV_NAMES: tuple[str, ...] = tuple(SPECS)
MINATAR_CHANNEL_NAMES = {k: v[1] for k, v in _MINATAR_CHANNELS.items()}


def get_spec(name: str) -> EnvSpec:
    if name not in SPECS:
        raise KeyError(f"unknown environment {name!r}; known: {', '.join(ENV_NAMES)}")
    return SPECS[name]


@functools.cache
def make_env(name: str, backend: str = "positional", episode_length: int = 1000):
    """Build the functional environment adapter (cached: Brax systems are slow)."""
    spec = get_spec(name)
    if spec.family == "brax":
        from engine.envs.brax_env import BraxEnv

        return BraxEnv(spec, backend=backend, episode_length=episode_length)
    from engine.envs.gymnax_env import GymnaxEnv

    return GymnaxEnv(spec)
