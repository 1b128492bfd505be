"""Time every chapter notebook and collect the numbers it records.

Usage: ./course bench [--full] [--online] [NAME ...]
Writes benchmarks/results-<mode>.md (a table) and benchmarks/results-<mode>.json. The notebooks'
stored outputs are not touched: each runs on a temporary copy. Beside every time stands the
machine-speed figure (tools.machine_speed) measured in the same run, so times taken on different
machines compare as ratios.
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
from helpers.paths import project_root
from tools.execution import chapter_notebooks, execute_notebook


def machine() -> str:
    """A short description of where the numbers were measured."""
    gpu = "GPU" if Path("/proc/driver/nvidia").exists() else "no GPU"
    return f"{platform.machine()}, {os.cpu_count()} CPU cores, {gpu}, Python {platform.python_version()}"


def machine_speed() -> float:
    """Seconds of the fixed reference training run, measured in a fresh process."""
    output = subprocess.run([sys.executable, "-m", "tools.machine_speed"], check=True, capture_output=True,
                            text=True, cwd=project_root(), env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return float(output.stdout.strip().splitlines()[-1])


def run_one(path: Path, scratch: Path, full: bool, online: bool) -> dict:
    """Run one notebook on a copy; return its row (status, seconds, records)."""
    copy = scratch / path.name
    shutil.copy(path, copy)
    records_file = scratch / f"{path.stem}.jsonl"
    status = "ok"
    start = time.perf_counter()
    try:
        execute_notebook(copy, fast=not full, offline=not online, save=False, timeout=3600,
                         extra_env={RECORDS_ENV: str(records_file)})
    except Exception as error:  # a failing chapter is reported, the others still run
        status = f"failed: {type(error).__name__}"
    seconds = time.perf_counter() - start
    records = {f"{chapter}/{name}": value
               for chapter, named in read_records(records_file).items() for name, value in named.items()}
    return {"notebook": path.name, "status": status, "seconds": round(seconds, 1), "records": records}


def write_results(out: Path, mode: str, online: bool, speed: float, rows: list[dict]) -> str:
    """Merge `rows` into results-<mode>.json (keeping notebooks not rerun) and write the Markdown table."""
    out.mkdir(parents=True, exist_ok=True)
    previous = out / f"results-{mode}.json"
    for row in rows:
        row["machine_speed_s"] = speed
    if previous.exists():
        ran = {row["notebook"] for row in rows}
        kept = [row for row in json.loads(previous.read_text())["notebooks"] if row["notebook"] not in ran]
        rows = sorted(kept + rows, key=lambda row: row["notebook"])
    stamp = time.strftime("%Y-%m-%d %H:%M")
    result = {"mode": mode, "online": online, "machine": machine(), "date": stamp, "notebooks": rows}
    previous.write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# Benchmark, {mode} mode", "",
             f"{stamp} on {result['machine']}; {'online' if online else 'offline'}; wall time includes the kernel "
             "start. *speed* is the machine-speed figure of the run (seconds of a fixed small training, "
             "`python -m tools.machine_speed`); *ratio* = seconds / speed compares across machines.", "",
             "| notebook | status | seconds | speed | ratio | records |", "|---|---|---:|---:|---:|---|"]
    for row in rows:
        shown = ", ".join(f"{k} = {v:.4g}" for k, v in row.get("records", row.get("metrics", {})).items()) or "—"
        row_speed = row.get("machine_speed_s")
        ratio = f"{row['seconds'] / row_speed:.1f}" if row_speed else "—"
        lines.append(f"| {row['notebook']} | {row['status']} | {row['seconds']:.1f} | "
                     f"{row_speed or '—'} | {ratio} | {shown} |")
    lines.append(f"| **total** | | {sum(r['seconds'] for r in rows):.1f} | | | |")
    text = "\n".join(lines) + "\n"
    (out / f"results-{mode}.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    """Measure the machine, run the chosen notebooks, write the results; exit 1 if any notebook failed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="parts of notebook file names, e.g. 03")
    parser.add_argument("--full", action="store_true", help="full mode (default: fast mode)")
    parser.add_argument("--online", action="store_true", help="allow downloads (default: offline)")
    parser.add_argument("--out", type=Path, default=project_root() / "benchmarks", help="folder for the results")
    args = parser.parse_args(argv)
    mode = "full" if args.full else "fast"
    speed = machine_speed()
    print(f"machine speed: {speed:.2f} s for the reference training run", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for path in chapter_notebooks(args.names):
            print(f"{path.name} ({mode}) ...", flush=True)
            row = run_one(path, Path(scratch), args.full, args.online)
            print(f"  {row['status']}, {row['seconds']:.1f} s, {row['records']}", flush=True)
            rows.append(row)
    print(write_results(args.out, mode, args.online, speed, rows))
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
