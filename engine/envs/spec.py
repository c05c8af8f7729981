"""What the engine knows about an environment without building it: `EnvSpec`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EnvSpec:
    name: str
    """Registry name, e.g. CartPole-v1, Breakout-MinAtar, hopper."""
    family: str
    """classic, minatar or brax."""
    obs_shape: tuple[int, ...]
    """Shape of one observation."""
    discrete: bool
    """True for a discrete action space."""
    action_dim: int
    """Number of actions (discrete) or action dimensions (continuous)."""
    action_low: float = -1.0
    """Lower bound of continuous actions (executed actions are clipped)."""
    action_high: float = 1.0
    """Upper bound of continuous actions."""
    dt: float = 0.02
    """Seconds per environment step (video frame rate)."""
    max_episode_steps: int = 1000
    """Default episode length."""
    feature_names: tuple[str, ...] = ()
    """Names of the observation features (flattened), where the env has them."""
    action_names: tuple[str, ...] = ()
    """Names of discrete actions or of continuous action dimensions."""
    group: str = ""
    """Heading under which user interfaces list the env."""

    @property
    def obs_size(self) -> int:
        size = 1
        for s in self.obs_shape:
            size *= s
        return size

    def feature_name(self, i: int) -> str:
        return self.feature_names[i] if i < len(self.feature_names) else f"s{i}"

    def action_name(self, i: int) -> str:
        return self.action_names[i] if i < len(self.action_names) else f"a{i}"
