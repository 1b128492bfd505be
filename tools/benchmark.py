"""Time every chapter notebook and collect the numbers it records.

Usage: ./course bench [--full] [--online] [NAME ...]
Writes benchmarks/results-<mode>.md (a table) and benchmarks/results-<mode>.json. The notebooks'
stored outputs are not touched: each runs on a temporary copy. Beside every time stands the
machine-speed figure (tools.machine_speed), measured right before that notebook, because this
machine's speed changes within a run; times taken on different machines compare as ratios. A
failing cell does not stop the run (the cells after it still run, so the time is the whole
notebook's); the row names every failing cell. The slowest cells are listed with their times.

--standins (full mode, offline) times a learner's online full run where its data cannot be
downloaded, on stand-ins of the same size: chapters 03 and 04 get Fashion-MNIST's 60,000 training
images under MNIST's name (helpers.datasets.MNIST_STANDIN_ENV), same shapes and steps; chapter 06
gets 3,670 synthetic flowers, as many as the real photos (helpers.flowers.FLOWERS_STANDIN_ENV).
Accuracies of such a run are the stand-ins', and bars set for the real data may fail: the row says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from helpers.benchmark_records import RECORDS_ENV, read_records
from helpers.datasets import MNIST_STANDIN_ENV
from helpers.flowers import FLOWERS_STANDIN_ENV
from helpers.paths import project_root
from tools.execution import cell_seconds, chapter_notebooks, execute_notebook
from tools.sweep import failures

SLOWEST_SHOWN = 3


def machine() -> str:
    """A short description of where the numbers were measured."""
    gpu = "GPU" if Path("/proc/driver/nvidia").exists() else "no GPU"
    return f"{platform.machine()}, {os.cpu_count()} CPU cores, {gpu}, Python {platform.python_version()}"


def machine_speed() -> float:
    """Seconds of the fixed reference training run, measured in a fresh process."""
    output = subprocess.run([sys.executable, "-m", "tools.machine_speed"], check=True, capture_output=True,
                            text=True, cwd=project_root(), env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return float(output.stdout.strip().splitlines()[-1])


def run_one(path: Path, scratch: Path, full: bool, online: bool, extra_env: dict[str, str] | None = None) -> dict:
    """Run one notebook on a copy; return its row (status, seconds, slowest cells, records)."""
    copy = scratch / path.name
    shutil.copy(path, copy)
    records_file = scratch / f"{path.stem}.jsonl"
    status, slowest = "ok", []
    start = time.perf_counter()
    try:
        executed = execute_notebook(copy, fast=not full, offline=not online, save=False, timeout=3600,
                                    allow_errors=True, extra_env={**(extra_env or {}), RECORDS_ENV: str(records_file)})
    except Exception as error:  # a kernel that dies or times out is reported, the other notebooks still run
        status = f"failed: {type(error).__name__}"
    else:
        failed = failures(executed.notebook)
        status = "ok" if not failed else "failed: " + "; ".join(failed)
        times = cell_seconds(executed.notebook)
        slowest = [[index, round(seconds, 1)] for index, seconds in
                   sorted(times.items(), key=lambda item: -item[1])[:SLOWEST_SHOWN]]
    seconds = time.perf_counter() - start
    records = {f"{chapter}/{name}": value
               for chapter, named in read_records(records_file).items() for name, value in named.items()}
    return {"notebook": path.name, "status": status, "seconds": round(seconds, 1), "slowest_cells": slowest,
            "records": records}


def write_results(out: Path, mode: str, online: bool, rows: list[dict]) -> str:
    """Merge `rows` (each with its machine_speed_s) into results-<mode>.json, keeping notebooks not rerun; write the table."""
    out.mkdir(parents=True, exist_ok=True)
    previous = out / f"results-{mode}.json"
    if previous.exists():
        ran = {row["notebook"] for row in rows}
        kept = [row for row in json.loads(previous.read_text())["notebooks"] if row["notebook"] not in ran]
        rows = sorted(kept + rows, key=lambda row: row["notebook"])
    stamp = time.strftime("%Y-%m-%d %H:%M")
    result = {"mode": mode, "online": online, "machine": machine(), "date": stamp, "notebooks": rows}
    previous.write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# Benchmark, {mode} mode", "",
             f"{stamp} on {result['machine']}; {'online' if online else 'offline'}; wall time includes the kernel "
             "start. *speed* is the machine-speed figure measured right before the notebook (seconds of a fixed small "
             "training, `python -m tools.machine_speed`); *ratio* = seconds / speed compares across machines. "
             "*slowest cells*: cell index: seconds.", "",
             "| notebook | status | seconds | speed | ratio | slowest cells | records |",
             "|---|---|---:|---:|---:|---|---|"]
    for row in rows:
        shown = ", ".join(f"{k} = {v:.4g}" for k, v in row.get("records", row.get("metrics", {})).items()) or "—"
        row_speed = row.get("machine_speed_s")
        ratio = f"{row['seconds'] / row_speed:.1f}" if row_speed else "—"
        slowest = ", ".join(f"{index}: {seconds:.0f} s" for index, seconds in row.get("slowest_cells", [])) or "—"
        status = row["status"].replace("|", "\\|")
        name = row["notebook"] + (" (stand-ins)" if row.get("standins") else "")
        lines.append(f"| {name} | {status} | {row['seconds']:.1f} | "
                     f"{row_speed or '—'} | {ratio} | {slowest} | {shown} |")
    lines.append(f"| **total** | | {sum(r['seconds'] for r in rows):.1f} | | | | |")
    text = "\n".join(lines) + "\n"
    (out / f"results-{mode}.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    """Measure the machine, run the chosen notebooks, write the results; exit 1 if any notebook failed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="parts of notebook file names, e.g. 03")
    parser.add_argument("--full", action="store_true", help="full mode (default: fast mode)")
    parser.add_argument("--online", action="store_true", help="allow downloads (default: offline)")
    parser.add_argument("--standins", action="store_true",
                        help="full mode, offline: time on stand-ins as large as the online data (MNIST, flowers)")
    parser.add_argument("--out", type=Path, default=project_root() / "benchmarks", help="folder for the results")
    args = parser.parse_args(argv)
    if args.standins and (not args.full or args.online):
        parser.error("--standins times full mode offline: use it with --full and without --online")
    mode = "full" if args.full else "fast"
    extra_env = {MNIST_STANDIN_ENV: "1", FLOWERS_STANDIN_ENV: "1"} if args.standins else {}
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for path in chapter_notebooks(args.names):
            speed = machine_speed()
            print(f"{path.name} ({mode}; machine speed {speed:.2f} s) ...", flush=True)
            row = {**run_one(path, Path(scratch), args.full, args.online, extra_env), "machine_speed_s": speed}
            if args.standins:
                row["standins"] = True
            print(f"  {row['status']}, {row['seconds']:.1f} s, slowest cells {row.get('slowest_cells')}, "
                  f"{row['records']}", flush=True)
            rows.append(row)
    print(write_results(args.out, mode, args.online, rows))
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
