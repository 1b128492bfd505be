"""Unit tests of helpers.config: the fast/full and online/offline switches."""

import pytest

from helpers import config


def test_fast_and_full_modes(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    assert config.is_fast() and config.mode_name() == "fast"
    assert config.pick(fast=2, full=20) == 2
    monkeypatch.setenv("COURSE_FAST", "0")
    assert not config.is_fast() and config.mode_name() == "full"
    assert config.pick(fast=2, full=20) == 20
    monkeypatch.delenv("COURSE_FAST")
    assert config.mode_name() == "full"


@pytest.mark.parametrize("raw, expected", [("yes", True), (" TRUE ", True), ("on", True), ("1", True),
                                           ("off", False), ("No", False), ("", False), ("0", False)])
def test_env_flag_reads_yes_and_no_words(monkeypatch, raw, expected):
    monkeypatch.setenv("COURSE_OFFLINE", raw)
    assert config.env_flag("COURSE_OFFLINE") is expected
    assert config.is_offline() is expected


def test_an_unset_flag_is_false(monkeypatch):
    monkeypatch.delenv("COURSE_OFFLINE", raising=False)
    assert config.is_offline() is False


def test_a_flag_that_is_not_yes_or_no_is_an_error(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "maybe")
    with pytest.raises(ValueError, match="COURSE_FAST='maybe' is not a yes/no value; use 1 or 0"):
        config.is_fast()
