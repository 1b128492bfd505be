"""Unit tests of helpers.benchmark_records: a chapter's measured numbers, checked, appended and read back."""

import math

import numpy as np
import pytest

from helpers import benchmark_records


@pytest.fixture
def records_file(monkeypatch, tmp_path):
    """COURSE_BENCHMARK_FILE pointed at a file in tmp_path, as `./course bench` does."""
    target = tmp_path / "records.jsonl"
    monkeypatch.setenv("COURSE_BENCHMARK_FILE", str(target))
    return target


def test_record_appends_every_value_and_the_last_one_wins(records_file):
    assert benchmark_records.record("03", test_accuracy=np.float32(0.5), epochs=3) is None  # a cell's last line shows nothing
    benchmark_records.record("03", test_accuracy=0.75)
    benchmark_records.record("01", pixels=np.int64(12))
    assert len(records_file.read_text().splitlines()) == 4
    assert benchmark_records.read_records(records_file) == {"03": {"test_accuracy": 0.75, "epochs": 3.0},
                                                            "01": {"pixels": 12.0}}


def test_record_without_a_benchmark_file_checks_but_writes_nothing(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COURSE_BENCHMARK_FILE", raising=False)
    benchmark_records.record("01", x=3)
    with pytest.raises(ValueError, match="not finite"):
        benchmark_records.record("01", x=math.inf)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("chapter", [3, None, "", b"03"])
def test_record_refuses_a_chapter_that_is_not_a_non_empty_string(chapter, records_file):
    with pytest.raises(TypeError, match="chapter must be a non-empty string such as '03'"):
        benchmark_records.record(chapter, x=1)
    assert not records_file.exists()


@pytest.mark.parametrize("value, error, words", [
    ("0.9", TypeError, "record 01/x must be a number, got str"),
    (True, TypeError, "record 01/x must be a number, got bool"),
    (None, TypeError, "got NoneType"),
    (1 + 2j, TypeError, "got complex"),
    (float("nan"), ValueError, "record 01/x is not finite: nan"),
    (-math.inf, ValueError, "not finite: -inf"),
])
def test_record_refuses_values_that_are_not_finite_numbers(value, error, words, records_file):
    with pytest.raises(error, match=words):
        benchmark_records.record("01", ok=1.0, x=value)
    assert not records_file.exists()  # nothing half-written


def test_record_needs_at_least_one_value():
    with pytest.raises(ValueError, match="record needs at least one name=value"):
        benchmark_records.record("01")


def test_read_records_of_a_missing_file_is_empty_and_blank_lines_are_skipped(tmp_path):
    assert benchmark_records.read_records(tmp_path / "missing.jsonl") == {}
    path = tmp_path / "r.jsonl"
    path.write_text('\n{"chapter": "01", "name": "a", "value": 1}\n  \n')
    assert benchmark_records.read_records(path) == {"01": {"a": 1.0}}


@pytest.mark.parametrize("line", ["not json", '{"chapter": "01", "value": 1}', '{"chapter": "01", "name": "a", '
                                  '"value": "high"}', "[1, 2]"])
def test_read_records_names_the_bad_line(tmp_path, line):
    path = tmp_path / "r.jsonl"
    path.write_text('{"chapter": "01", "name": "a", "value": 1}\n\n' + line + "\n")
    with pytest.raises(ValueError, match="r.jsonl:3: not a benchmark record"):
        benchmark_records.read_records(path)
