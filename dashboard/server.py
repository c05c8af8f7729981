"""How the dashboard server is started: the Streamlit settings shipped inside the
package, passed to Streamlit as command-line flags.

The settings live in ``dashboard/streamlit_config.toml`` (theme, loopback address,
upload limit, no usage statistics). Streamlit reads a ``.streamlit/config.toml``
only from the working directory or the home folder, so `command` turns each
setting into a ``--section.option value`` flag instead: they apply from any
directory and from an installed wheel. Flags given by the user come after them and
win (the last occurrence of a flag counts).
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
APP = HERE / "app.py"
CONFIG = HERE / "streamlit_config.toml"


def settings(path: Path = CONFIG) -> dict[str, dict]:
    """{section: {option: value}} of the shipped Streamlit settings."""
    with open(path, "rb") as f:
        return tomllib.load(f)


def _flag_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def config_flags(path: Path = CONFIG) -> list[str]:
    """The settings as Streamlit command-line flags."""
    flags = []
    for section, options in settings(path).items():
        for name, value in options.items():
            flags += [f"--{section}.{name}", _flag_value(value)]
    return flags


def command(extra: list[str] | None = None) -> list[str]:
    """The command line that serves the dashboard (``extra`` flags win)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        *config_flags(),
        *(extra or []),
    ]
