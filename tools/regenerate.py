"""Rewrite the stored outputs of chapter notebooks on a perturbed numeric path, as the tests will compare them.

Usage: ./course regen [NAME ...]   (all chapters, or those whose file name contains NAME)
Runs in fast, offline mode with nbval's environment (see tools.execution), but with the CPU's
arithmetic perturbed (tools.execution.perturbed_arithmetic) and a data folder of its own, so that
cached models are trained there under that arithmetic. `./course test` then runs with a learner's
defaults in the usual data folder: a stored output that depends on the CPU's rounding fails at
once, on the machine that wrote it. Volatile metadata is stripped from the saved files.
"""

from __future__ import annotations

import argparse
import sys

from helpers.paths import DATA_ENV
from tools.execution import chapter_notebooks, execute_notebook, own_data_dir, perturbed_arithmetic

REGEN_DATA = "regen-perturbed"


def main(argv: list[str] | None = None) -> int:
    """Regenerate the chosen notebooks one after another, printing each one's time."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="parts of notebook file names, e.g. 01 or kernels")
    args = parser.parse_args(argv)
    paths = chapter_notebooks(args.names)
    perturbed = perturbed_arithmetic()
    extra = {**perturbed, DATA_ENV: str(own_data_dir(REGEN_DATA))}
    print("arithmetic: " + " ".join(f"{key}={value}" for key, value in perturbed.items()), flush=True)
    for path in paths:
        print(f"regenerating {path.name} ...", flush=True)
        seconds = execute_notebook(path, fast=True, offline=True, save=True, extra_env=extra).seconds
        print(f"  done in {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
