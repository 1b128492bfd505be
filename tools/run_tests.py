"""Run pytest with the environment every notebook kernel gets (tools.execution), in fast, offline mode.

Usage: python -m tools.run_tests [PYTEST ARGS ...]   (behind ./course test and ./course unit)
The same variables and warning filters as ./course regen, so stored and tested outputs are made alike;
only the arithmetic differs: tests run with a learner's defaults, regeneration perturbs it.
"""

from __future__ import annotations

import os
import sys

from tools.execution import notebook_environment


def pytest_command(args: list[str]) -> list[str]:
    """The pytest command line for `args`, run by this interpreter."""
    return [sys.executable, "-m", "pytest", *args]


def main(argv: list[str] | None = None) -> int:
    """Replace this process with pytest in the notebook environment (returns only if exec fails)."""
    args = sys.argv[1:] if argv is None else argv
    os.execve(sys.executable, pytest_command(args), notebook_environment(fast=True, offline=True))
    return 1  # pragma: no cover - execve does not return


if __name__ == "__main__":
    sys.exit(main())
