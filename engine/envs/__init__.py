"""Environments: one registry over gymnax classic control, MinAtar and Brax."""

from engine.envs.registry import ENV_NAMES, get_spec, make_env
from engine.envs.spec import EnvSpec

__all__ = ["ENV_NAMES", "EnvSpec", "get_spec", "make_env"]
