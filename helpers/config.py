"""The course's two switches, read from the environment: fast or full mode, online or offline."""

from __future__ import annotations

import os
from typing import TypeVar

T = TypeVar("T")

FAST_ENV = "COURSE_FAST"
OFFLINE_ENV = "COURSE_OFFLINE"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def env_flag(name: str) -> bool:
    """Read a yes/no environment variable, rejecting values that are neither."""
    raw = os.environ.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{name}={os.environ[name]!r} is not a yes/no value; use 1 or 0")


def is_fast() -> bool:
    """True when COURSE_FAST asks for the small, quick settings (tests and CI)."""
    return env_flag(FAST_ENV)


def is_offline() -> bool:
    """True when COURSE_OFFLINE says not to try the network at all."""
    return env_flag(OFFLINE_ENV)


def mode_name() -> str:
    """'fast' or 'full', for printing."""
    return "fast" if is_fast() else "full"


def pick(*, fast: T, full: T) -> T:
    """Return the fast-mode or full-mode value: the one place where the modes differ."""
    return fast if is_fast() else full
