"""Record a chapter's measured numbers so the benchmark can collect them."""

from __future__ import annotations

import json
import math
import numbers
import os
from pathlib import Path

METRICS_ENV = "COURSE_METRICS_FILE"


def record_metric(chapter: str, name: str, value: float) -> None:
    """Append `chapter/name = value` to $COURSE_METRICS_FILE when the benchmark sets it."""
    if not chapter or not name:
        raise ValueError("chapter and name must be non-empty strings")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"metric {name!r} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"metric {name!r} is not finite: {value}")
    target = os.environ.get(METRICS_ENV)
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"chapter": chapter, "name": name, "value": value}) + "\n")


def read_metrics(path: Path) -> dict[str, dict[str, float]]:
    """Read a metrics file written by record_metric into {chapter: {name: value}} (last value wins)."""
    metrics: dict[str, dict[str, float]] = {}
    if not path.exists():
        return metrics
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            metrics.setdefault(row["chapter"], {})[row["name"]] = float(row["value"])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}:{number}: not a metrics line ({error}): {line!r}") from error
    return metrics
