"""Execute chapter notebooks the same way for stored outputs, tests, benchmarks and seed sweeps."""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from helpers.benchmark_records import RECORDS_ENV
from helpers.config import FAST_ENV, OFFLINE_ENV
from helpers.paths import cache_dir, data_dir, project_root

__all__ = ["RECORDS_ENV", "Execution", "cell_seconds", "chapter_notebooks", "execute_notebook",
           "notebook_environment", "notebooks_dir", "own_data_dir", "perturbed_arithmetic"]

# What every notebook kernel gets, under nbval (./course test) and in ./course regen, bench and sweep alike.
KERNEL_SETTINGS = {
    # nbval's kernels cannot capture C-level stderr; with this set, neither do ours,
    # and TensorFlow's C++ logging stays silent in both.
    "PYTEST_CURRENT_TEST": "1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "PYTHONWARNINGS": "ignore",
    # live controls (helpers.controls) draw their starting picture only: no widget state in stored outputs
    "COURSE_HEADLESS": "1",
}


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


def numpy_features_above_baseline() -> list[str]:
    """NumPy's dispatched SIMD feature groups that this CPU has beyond NumPy's compiled baseline."""
    from numpy._core import _multiarray_umath as umath

    present = umath.__cpu_features__
    return [name for name in umath.__cpu_dispatch__ if present.get(name) and name not in umath.__cpu_baseline__]


def perturbed_arithmetic() -> dict[str, str]:
    """Settings that change floating-point rounding but not results: other SIMD kernels in oneDNN and NumPy.

    Measured on an AVX2 machine: oneDNN limited to AVX changes a trained CNN's weights in the 3rd
    significant digit; TF_ENABLE_ONEDNN_OPTS=0 changes them only where oneDNN is on by default (CPUs
    with AVX-512 VNNI and newer); NumPy below its top SIMD level changes float reductions and image
    pyramids on CPUs whose top level differs (AVX-512 vs AVX2). Stored outputs made under these and
    tested under a learner's defaults must not depend on the CPU's arithmetic.
    """
    settings = {"TF_ENABLE_ONEDNN_OPTS": "0", "ONEDNN_MAX_CPU_ISA": "AVX"}
    features = numpy_features_above_baseline()
    if features:
        settings["NPY_DISABLE_CPU_FEATURES"] = ",".join(features)
    return settings


def own_data_dir(name: str) -> Path:
    """A data folder of its own, <data>/<name>, for regeneration or a seed sweep; it shares <data>/debian."""
    folder = cache_dir(name)
    debian, link = data_dir() / "debian", folder / "debian"
    if debian.is_dir() and not link.exists():
        link.symlink_to(debian.resolve(), target_is_directory=True)
    return folder


def notebook_environment(fast: bool, offline: bool, extra: dict[str, str] | None = None,
                         base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a kernel that matches what nbval sees (see DESIGN.md on stored outputs)."""
    env = dict(os.environ if base is None else base)
    env.update({FAST_ENV: "1" if fast else "0", OFFLINE_ENV: "1" if offline else "0", **KERNEL_SETTINGS})
    env.update(extra or {})
    return env


class Execution(NamedTuple):
    """One run of a notebook: its wall time and the executed notebook (outputs and cell timings)."""

    seconds: float
    notebook: object


def cell_seconds(notebook) -> dict[int, float]:
    """Each executed code cell's time in seconds, by cell index, from the timestamps nbclient records."""
    times = {}
    for index, cell in enumerate(notebook.cells):
        execution = cell.get("metadata", {}).get("execution", {})
        began, ended = execution.get("iopub.execute_input"), execution.get("shell.execute_reply")
        if cell.cell_type == "code" and began and ended:
            times[index] = (datetime.fromisoformat(ended.replace("Z", "+00:00"))
                            - datetime.fromisoformat(began.replace("Z", "+00:00"))).total_seconds()
    return times


def execute_notebook(path: Path, fast: bool, offline: bool, save: bool, timeout: int = 1800,
                     extra_env: dict[str, str] | None = None, allow_errors: bool = False) -> Execution:
    """Run every cell of `path` in a fresh kernel started with its own environment; optionally save.

    With `allow_errors`, cells after a failing one still run (the errors stay in the outputs).
    """
    import nbformat
    from nbclient import NotebookClient

    from tools.notebook_files import clean_metadata

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                            record_timing=True, resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute(env=notebook_environment(fast, offline, extra_env))
    seconds = time.perf_counter() - start
    if save:
        nbformat.write(clean_metadata(nbformat.from_dict(notebook)), path)
    return Execution(seconds, notebook)
