"""The one error type of the run layer; its message says what to do."""

from __future__ import annotations


class RunError(RuntimeError):
    """A run cannot be created, opened, written, resumed or found."""
