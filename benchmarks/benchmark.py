"""Time every chapter notebook and collect the metrics it records.

Usage: ./course bench [--full] [--online] [NAME ...]
Writes benchmarks/results-<mode>.md (a table) and benchmarks/results-<mode>.json. The notebooks'
stored outputs are not touched: each runs on a temporary copy.
"""

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers.execution import chapter_notebooks, execute_notebook  # noqa: E402
from helpers.metrics import METRICS_ENV, read_metrics  # noqa: E402


def machine() -> str:
    """A short description of where the numbers were measured."""
    import os

    try:
        import tensorflow as tf

        gpu = "GPU" if tf.config.list_physical_devices("GPU") else "no GPU"
    except ImportError:  # pragma: no cover
        gpu = "unknown"
    return f"{platform.machine()}, {os.cpu_count()} CPU cores, {gpu}, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="parts of notebook file names, e.g. 03")
    parser.add_argument("--full", action="store_true", help="full mode (default: fast mode)")
    parser.add_argument("--online", action="store_true", help="allow downloads (default: offline)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks", help="folder for the results")
    args = parser.parse_args()
    mode = "full" if args.full else "fast"
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for path in chapter_notebooks(args.names):
            copy = Path(scratch) / path.name
            shutil.copy(path, copy)
            metrics_file = Path(scratch) / f"{path.stem}.jsonl"
            print(f"{path.name} ({mode}) ...", flush=True)
            status = "ok"
            start = time.perf_counter()
            try:
                execute_notebook(copy, fast=not args.full, offline=not args.online, save=False,
                                 timeout=3600, extra_env={METRICS_ENV: str(metrics_file)})
            except Exception as error:  # a failing chapter is reported, the others still run
                status = f"failed: {type(error).__name__}"
            seconds = time.perf_counter() - start
            metrics = {f"{chapter}/{name}": value
                       for chapter, named in read_metrics(metrics_file).items() for name, value in named.items()}
            print(f"  {status}, {seconds:.1f} s, {metrics}", flush=True)
            rows.append({"notebook": path.name, "status": status, "seconds": round(seconds, 1), "metrics": metrics})
    args.out.mkdir(parents=True, exist_ok=True)
    previous = args.out / f"results-{mode}.json"
    if previous.exists():  # keep the rows of notebooks not run this time
        ran = {row["notebook"] for row in rows}
        kept = [row for row in json.loads(previous.read_text())["notebooks"] if row["notebook"] not in ran]
        rows = sorted(kept + rows, key=lambda row: row["notebook"])
    stamp = time.strftime("%Y-%m-%d %H:%M")
    result = {"mode": mode, "online": args.online, "machine": machine(), "date": stamp, "notebooks": rows}
    (args.out / f"results-{mode}.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# Benchmark, {mode} mode", "", f"{stamp} on {result['machine']}; "
             f"{'online' if args.online else 'offline'}; wall time includes the kernel start.", "",
             "| notebook | status | seconds | metrics |", "|---|---|---:|---|"]
    for row in rows:
        shown = ", ".join(f"{k} = {v:.4g}" for k, v in row["metrics"].items()) or "—"
        lines.append(f"| {row['notebook']} | {row['status']} | {row['seconds']:.1f} | {shown} |")
    lines.append(f"| **total** | | {sum(r['seconds'] for r in rows):.1f} | |")
    (args.out / f"results-{mode}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
