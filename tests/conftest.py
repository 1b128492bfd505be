"""Shared pytest set-up: a headless plot backend and a clean course environment per test."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every figure a test opened."""
    yield
    plt.close("all")


@pytest.fixture
def course_env(monkeypatch, tmp_path):
    """Fast, offline, with data and metrics in a temporary folder."""
    monkeypatch.setenv("COURSE_FAST", "1")
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("COURSE_METRICS_FILE", raising=False)
    return tmp_path
