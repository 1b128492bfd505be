"""Unit tests of helpers.config: modes, offline switch, seeding and the set-up line."""

import numpy as np
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


def test_offline_switch(monkeypatch):
    monkeypatch.setenv("COURSE_OFFLINE", "yes")
    assert config.is_offline()
    monkeypatch.setenv("COURSE_OFFLINE", "off")
    assert not config.is_offline()


def test_a_flag_that_is_not_yes_or_no_is_an_error(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "maybe")
    with pytest.raises(ValueError, match="COURSE_FAST='maybe' is not a yes/no value"):
        config.is_fast()


def test_data_dir_follows_the_environment(course_env):
    path = config.data_dir()
    assert path == course_env / "data" and path.is_dir()


def test_data_dir_defaults_to_the_repository(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    assert config.data_dir() == config.project_root() / "data"


def test_seed_everything_makes_numpy_and_tensorflow_repeat():
    import tensorflow as tf

    config.seed_everything(7)
    first = np.random.rand(3), tf.random.uniform((3,)).numpy()
    config.seed_everything(7)
    second = np.random.rand(3), tf.random.uniform((3,)).numpy()
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])


@pytest.mark.parametrize("seed", [-1, 1.5, "42", True])
def test_seed_everything_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        config.seed_everything(seed)


def test_setup_prints_mode_versions_device_and_data(course_env, capsys):
    assert config.setup(seed=1, data_source="scikit-image sample photos") is None
    line = capsys.readouterr().out.strip()
    for part in ("mode: fast", "offline: yes", "TensorFlow 2.", "Keras 3.", "device: ", "seed: 1",
                 "data: scikit-image sample photos"):
        assert part in line


def test_socket_timeout_sets_and_restores_the_default():
    import socket

    before = socket.getdefaulttimeout()
    with config.socket_timeout(2.5):
        assert socket.getdefaulttimeout() == 2.5
    assert socket.getdefaulttimeout() == before
