"""Execute chapter notebooks the same way for stored outputs, tests and benchmarks."""

from __future__ import annotations

import os
import time
from pathlib import Path

from helpers.benchmark_records import RECORDS_ENV
from helpers.config import FAST_ENV, OFFLINE_ENV
from helpers.paths import project_root

__all__ = ["RECORDS_ENV", "chapter_notebooks", "execute_notebook", "notebook_environment", "notebooks_dir"]


def notebooks_dir() -> Path:
    """The folder of chapter notebooks."""
    return project_root() / "notebooks"


def chapter_notebooks(names: list[str] | None = None) -> list[Path]:
    """Chapter notebooks in order, or those whose file name contains one of `names`."""
    found = sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return found
    chosen = [path for path in found if any(name in path.name for name in names)]
    missing = [name for name in names if not any(name in path.name for path in found)]
    if missing:
        raise FileNotFoundError(f"no notebook in {notebooks_dir()} matches {missing}")
    return chosen


def notebook_environment(fast: bool, offline: bool, extra: dict[str, str] | None = None,
                         base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a kernel that matches what nbval sees (see DESIGN.md on stored outputs)."""
    env = dict(os.environ if base is None else base)
    env.update({
        FAST_ENV: "1" if fast else "0",
        OFFLINE_ENV: "1" if offline else "0",
        # nbval's kernels cannot capture C-level stderr; with this set, neither do ours,
        # and TensorFlow's C++ logging stays silent in both.
        "PYTEST_CURRENT_TEST": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONWARNINGS": "ignore",
    })
    env.update(extra or {})
    return env


def execute_notebook(path: Path, fast: bool, offline: bool, save: bool, timeout: int = 1800,
                     extra_env: dict[str, str] | None = None) -> float:
    """Run every cell of `path` in a fresh kernel started with its own environment; optionally save; return seconds."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute(env=notebook_environment(fast, offline, extra_env))
    seconds = time.perf_counter() - start
    if save:
        nbformat.write(notebook, path)
    return seconds
