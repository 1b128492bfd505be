"""Unit tests of helpers.session: silenced stderr, quiet TensorFlow, seeding, the status line and setup()."""

import logging
import os
import platform
import random
import sys

import matplotlib
import numpy as np
import pytest

import helpers
from helpers import session


@pytest.fixture
def restored_state(monkeypatch):
    """Undo what seeding and setup change globally: the environment variables and matplotlib's style."""
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    with matplotlib.rc_context():
        yield


def draws():
    """One number from each random source a chapter uses: Python, NumPy, TensorFlow and a Keras initializer."""
    import keras
    import tensorflow as tf

    weights = keras.initializers.GlorotUniform()((2, 2))
    return (random.random(), float(np.random.rand()), float(tf.random.uniform(())),
            keras.ops.convert_to_numpy(weights).tolist())


def test_stderr_silenced_hides_writes_to_file_descriptor_2(capfd):
    with session.stderr_silenced():
        os.write(2, b"C library noise\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_stderr_silenced_restores_stderr_after_an_error(capfd):
    with pytest.raises(RuntimeError):
        with session.stderr_silenced():
            raise RuntimeError("boom")
    os.write(2, b"still here\n")
    assert capfd.readouterr().err == "still here\n"


def test_quiet_tensorflow_sets_the_log_levels(restored_state):
    from absl import logging as absl_logging

    session.quiet_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3" and "tensorflow" in sys.modules
    assert logging.getLogger("tensorflow").level == logging.ERROR
    assert absl_logging.get_verbosity() == absl_logging.ERROR


def test_seed_everything_makes_every_random_source_repeat(restored_state):
    session.seed_everything(7)
    first = draws()
    session.seed_everything(7)
    assert draws() == first
    session.seed_everything(8)
    assert draws() != first
    assert os.environ["PYTHONHASHSEED"] == "8"


@pytest.mark.parametrize("seed", [-1, 1.5, "42", True, None])
def test_seed_everything_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        session.seed_everything(seed)


def test_device_name_is_gpu_or_the_cpu_architecture():
    import tensorflow as tf

    expected = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({platform.machine()})"
    assert session.device_name() == expected


def test_status_line_names_mode_network_versions_device_seed_and_data(monkeypatch):
    import keras
    import tensorflow as tf

    monkeypatch.setenv("COURSE_FAST", "0")
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    line = session.status_line(3, "scikit-image sample photos")
    assert line == (f"mode: full | offline: no | TensorFlow {tf.__version__} | Keras {keras.__version__} | "
                    f"device: {session.device_name()} | seed: 3 | data: scikit-image sample photos")
    assert "data:" not in session.status_line(3)


def test_setup_prints_the_status_line_seeds_and_styles_plots(restored_state, capsys, monkeypatch):
    import keras
    import tensorflow as tf

    monkeypatch.setenv("COURSE_SEED", "5")
    helpers.setup(data_source="tiny test data")
    first = draws()
    line = capsys.readouterr().out.strip()
    assert line == session.status_line(5, "tiny test data")
    for part in ("mode: fast", "offline: yes", f"TensorFlow {tf.__version__}", f"Keras {keras.__version__}",
                 "seed: 5", "data: tiny test data"):
        assert part in line
    assert matplotlib.rcParams["figure.dpi"] == 80 and matplotlib.rcParams["image.interpolation"] == "nearest"
    helpers.setup()
    assert draws() == first


def test_the_runs_seed_is_42_unless_course_seed_names_another(monkeypatch):
    monkeypatch.delenv("COURSE_SEED", raising=False)
    assert helpers.seed() == session.DEFAULT_SEED == 42
    monkeypatch.setenv("COURSE_SEED", " 3 ")
    assert helpers.seed() == 3
    monkeypatch.setenv("COURSE_SEED", "")
    assert helpers.seed() == 42


@pytest.mark.parametrize("raw", ["-1", "1.5", "three"])
def test_a_course_seed_that_is_no_whole_number_is_named(monkeypatch, raw):
    monkeypatch.setenv("COURSE_SEED", raw)
    with pytest.raises(ValueError, match=f"COURSE_SEED={raw!r} is not a non-negative whole number"):
        helpers.seed()


def test_setup_in_a_fresh_process_prints_no_tensorflow_start_up_noise():
    """JupyterLab shows whatever reaches file descriptor 2; the first import of TensorFlow must add nothing."""
    import os
    import subprocess
    import sys

    from helpers.paths import project_root

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-c", "import helpers; helpers.setup()"], cwd=project_root(),
                            env=env, capture_output=True, text=True, timeout=120, check=True)
    assert result.stderr == "", result.stderr
    assert result.stdout.startswith("mode: ") and "TensorFlow" in result.stdout
