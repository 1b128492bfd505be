"""Unit tests of helpers.metrics: recording and reading a chapter's numbers."""

import numpy as np
import pytest

from helpers import metrics


def test_record_metric_appends_when_a_file_is_set(monkeypatch, tmp_path):
    target = tmp_path / "metrics.jsonl"
    monkeypatch.setenv("COURSE_METRICS_FILE", str(target))
    metrics.record_metric("03", "test_accuracy", np.float32(0.5))
    metrics.record_metric("03", "test_accuracy", 0.75)
    metrics.record_metric("01", "pixels", 12)
    assert metrics.read_metrics(target) == {"03": {"test_accuracy": 0.75}, "01": {"pixels": 12.0}}


def test_record_metric_without_a_file_writes_nothing(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_METRICS_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    metrics.record_metric("01", "x", 3)
    assert list(tmp_path.iterdir()) == []
    assert metrics.read_metrics(tmp_path / "missing.jsonl") == {}


@pytest.mark.parametrize(
    "value, error, words",
    [("0.9", TypeError, "must be a number"), (True, TypeError, "must be a number"),
     (float("nan"), ValueError, "not finite")],
)
def test_record_metric_rejects_non_numbers(value, error, words):
    with pytest.raises(error, match=words):
        metrics.record_metric("01", "x", value)


def test_record_metric_needs_names():
    with pytest.raises(ValueError, match="non-empty"):
        metrics.record_metric("", "x", 1)


def test_read_metrics_names_the_bad_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"chapter": "01", "name": "a", "value": 1}\n\nnot json\n')
    with pytest.raises(ValueError, match="m.jsonl:3: not a metrics line"):
        metrics.read_metrics(path)
