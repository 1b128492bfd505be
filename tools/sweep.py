"""Run chapters under other seeds and report every cell that fails, asserts included, and the numbers they record.

Usage: ./course sweep [NAME ...] --seeds 0 1 2 [--full]
Each seed runs in a data folder of its own (<data>/sweep-seed-N, or sweep-full-seed-N in full mode), so
models a chapter caches are trained under that seed too; notebooks run on temporary copies, stored
outputs are not touched, and cells after a failing one still run, so one run lists every failing assert.
Fast mode unless --full. Prints each run's benchmark records (helpers.benchmark_records), writes the
table to benchmarks/seed-sweep.md (fast) or benchmarks/seed-sweep-full.md, and exits 1 if any cell failed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from helpers.benchmark_records import RECORDS_ENV, read_records
from helpers.paths import DATA_ENV, project_root
from helpers.session import SEED_ENV
from tools.execution import chapter_notebooks, execute_notebook, own_data_dir

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def failures(notebook) -> list[str]:
    """One line per failing code cell of an executed notebook: 'cell N: Error: the failing line'."""
    found = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            lines = [ANSI.sub("", line) for frame in output.get("traceback", []) for line in frame.splitlines()]
            arrows = [line.split("---->", 1)[1].strip() for line in lines if "---->" in line]
            where = re.sub(r"^\d+\s*", "", arrows[-1]) if arrows else ""
            message = f"{output.get('ename', 'Error')}{': ' + output['evalue'] if output.get('evalue') else ''}"
            found.append(f"cell {index}: {message[:120]}" + (f" at `{where[:100]}`" if where else ""))
    return found


def run_seed(path: Path, seed: int, scratch: Path, fast: bool = True) -> tuple[float, list[str], dict[str, float]]:
    """Run a copy of one chapter with `seed` in its own data folder; return (seconds, failures, records)."""
    copy = scratch / path.name
    shutil.copy(path, copy)
    seed_data = own_data_dir(f"sweep-seed-{seed}" if fast else f"sweep-full-seed-{seed}")
    records_file = scratch / f"{path.stem}-{seed}.jsonl"
    seconds, executed = execute_notebook(copy, fast=fast, offline=True, save=False, timeout=3600, allow_errors=True,
                                         extra_env={SEED_ENV: str(seed), DATA_ENV: str(seed_data),
                                                    RECORDS_ENV: str(records_file)})
    records = {f"{chapter}/{name}": value
               for chapter, named in read_records(records_file).items() for name, value in named.items()}
    return seconds, failures(executed), records


def table(results: dict[str, dict[int, list[str]]], seeds: list[int]) -> str:
    """A Markdown table chapter x seed -> pass, or the failing cells."""
    lines = ["| chapter | " + " | ".join(f"seed {seed}" for seed in seeds) + " |",
             "|---|" + "---|" * len(seeds)]
    for name, by_seed in results.items():
        cells = ["pass" if not by_seed[seed] else "FAIL: " + "; ".join(by_seed[seed]).replace("|", "\\|")
                 for seed in seeds]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run every chosen chapter under every seed; print and write the table; exit 1 on any failure."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="parts of notebook file names, e.g. 03")
    parser.add_argument("--seeds", type=int, nargs="+", required=True, help="seeds to run, e.g. 0 1 2")
    parser.add_argument("--full", action="store_true", help="full mode (default: fast mode)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    mode = "full" if args.full else "fast"
    out = args.out or project_root() / "benchmarks" / ("seed-sweep-full.md" if args.full else "seed-sweep.md")
    if any(seed < 0 for seed in args.seeds):
        parser.error(f"seeds must be non-negative, got {args.seeds}")
    results: dict[str, dict[int, list[str]]] = {}
    recorded: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        for path in chapter_notebooks(args.names):
            results[path.name] = {}
            for seed in args.seeds:
                seconds, failed, records = run_seed(path, seed, Path(scratch), fast=not args.full)
                results[path.name][seed] = failed
                print(f"{path.name} seed {seed}: {'pass' if not failed else 'FAIL'} ({seconds:.0f} s)", flush=True)
                for line in failed:
                    print(f"  {line}", flush=True)
                if records:
                    recorded.append(f"- {path.name} seed {seed}: " + ", ".join(f"{name} = {value:.4g}"
                                                                              for name, value in records.items()))
                    print("  records: " + recorded[-1].split(": ", 1)[1], flush=True)
    command = " ".join(["./course sweep", *args.names, "--seeds", *map(str, args.seeds), *(["--full"] if args.full else [])])
    section = f"## {time.strftime('%Y-%m-%d %H:%M')}: `{command}`\n\n" + table(results, args.seeds)
    if recorded:
        section += "\nNumbers the chapters recorded:\n\n" + "\n".join(recorded) + "\n"
    partial = set(results) != {path.name for path in chapter_notebooks()}
    header = f"# Seed sweep, {mode} mode\n\nEach seed ran in a data folder of its own; FAIL lists the failing cells.\n\n"
    text = (out.read_text(encoding="utf-8") + "\n" if partial and out.exists() else header) + section
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(section)
    return 0 if not any(failed for by_seed in results.values() for failed in by_seed.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
