"""Benchmark records: a chapter hands its measured numbers to `./course bench` in one call."""

from __future__ import annotations

import json
import math
import numbers
import os
from pathlib import Path

RECORDS_ENV = "COURSE_BENCHMARK_FILE"


def _checked(chapter: str, name: str, value: object) -> float:
    """`value` as a finite float, or a clear error naming the chapter and the record."""
    if not isinstance(chapter, str) or not chapter:
        raise TypeError(f"chapter must be a non-empty string such as '03', got {chapter!r}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"record {chapter}/{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"record {chapter}/{name} is not finite: {value}")
    return value


def record(chapter: str, **values: float) -> None:
    """Check `values` and append them under `chapter` to $COURSE_BENCHMARK_FILE when the benchmark runs.

    Returns nothing, so a record as a cell's last line prints nothing.
    """
    if not values:
        raise ValueError("record needs at least one name=value")
    checked = {name: _checked(chapter, name, value) for name, value in values.items()}
    target = os.environ.get(RECORDS_ENV)
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            for name, value in checked.items():
                handle.write(json.dumps({"chapter": chapter, "name": name, "value": value}) + "\n")


def read_records(path: Path) -> dict[str, dict[str, float]]:
    """Read a file written by `record` into {chapter: {name: value}} (the last value of a name wins)."""
    records: dict[str, dict[str, float]] = {}
    if not Path(path).exists():
        return records
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            records.setdefault(row["chapter"], {})[row["name"]] = float(row["value"])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}:{number}: not a benchmark record ({error}): {line!r}") from error
    return records
