"""Process-wide JAX settings: the persistent compilation cache.

With the cache on, a second launch of the same config loads compiled programs from
disk instead of recompiling. Directory: $HADES_JAX_CACHE, else
$XDG_CACHE_HOME/hades/jax (~/.cache/hades/jax). HADES_JAX_CACHE=0 turns it off.
"""

from __future__ import annotations

import os
from pathlib import Path

_enabled: str | None = None


def cache_dir() -> Path | None:
    env = os.environ.get("HADES_JAX_CACHE")
    if env == "0":
        return None
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hades" / "jax"


def enable_compilation_cache() -> str | None:
    """Turn the persistent cache on (idempotent); returns its directory or None."""
    global _enabled
    if _enabled is not None:
        return _enabled
    d = cache_dir()
    if d is None:
        return None
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # an unwritable cache only costs compile time
    import jax

    jax.config.update("jax_compilation_cache_dir", str(d))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    _enabled = str(d)
    return _enabled
