"""Rewrite the stored outputs of chapter notebooks exactly as the tests will see them.

Usage: ./course regen [NAME ...]   (all chapters, or those whose file name contains NAME)
Runs in fast, offline mode with nbval's environment (see tools.execution), so stored outputs
and tested outputs match.
"""

from __future__ import annotations

import argparse
import sys

from tools.execution import chapter_notebooks, execute_notebook


def main(argv: list[str] | None = None) -> int:
    """Regenerate the chosen notebooks one after another, printing each one's time."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="parts of notebook file names, e.g. 01 or kernels")
    args = parser.parse_args(argv)
    for path in chapter_notebooks(args.names):
        print(f"regenerating {path.name} ...", flush=True)
        seconds = execute_notebook(path, fast=True, offline=True, save=True)
        print(f"  done in {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
