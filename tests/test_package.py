"""The helpers package: submodules load lazily, and the NumPy-only modules work without the heavy libraries."""

import importlib
import json
import subprocess
import sys
import textwrap
import types

import pytest

import helpers
from helpers.paths import project_root

HEAVY = ("tensorflow", "keras", "PIL", "matplotlib", "cv2")


def run_python(code: str, tmp_path) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter from the repository root, with the data folder in tmp_path."""
    env = {"PATH": "/usr/bin:/bin", "COURSE_DATA_DIR": str(tmp_path / "data"), "COURSE_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=project_root(), env=env,
                          capture_output=True, text=True, timeout=120)


def test_top_level_has_only_pick_seed_and_setup_plus_the_submodule_names():
    assert helpers.__all__ == [*helpers.SUBMODULES, "pick", "seed", "setup"]
    assert helpers.pick is importlib.import_module("helpers.config").pick
    assert helpers.seed is importlib.import_module("helpers.session").seed


@pytest.mark.parametrize("name", helpers.SUBMODULES)
def test_every_submodule_loads_on_first_use(name):
    module = getattr(helpers, name)
    assert isinstance(module, types.ModuleType) and module.__name__ == f"helpers.{name}"


def test_an_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'helpers' has no attribute 'plot'"):
        helpers.plot  # noqa: B018


def test_import_helpers_alone_loads_no_heavy_library(tmp_path):
    result = run_python(f"""
        import json, sys
        import helpers
        print(json.dumps(sorted(name for name in {HEAVY!r} if name in sys.modules)))
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_numpy_only_modules_work_with_the_heavy_libraries_blocked(tmp_path):
    result = run_python(f"""
        import importlib.abc, sys

        class Blocker(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {HEAVY!r}:
                    raise ImportError(f"{{name}} is blocked in this test")
                return None

        sys.meta_path.insert(0, Blocker())
        import numpy as np
        import helpers
        from helpers import benchmark_records, config, datasets, downloads, evaluation, idx, images, paths

        assert evaluation.parity(np.array([3, 4])).tolist() == [1, 0]
        assert idx.parse_idx(idx.idx_bytes(np.arange(6, dtype=np.uint8).reshape(2, 3))).tolist() == [[0, 1, 2], [3, 4, 5]]
        assert images.pool2d(np.arange(16).reshape(4, 4)).tolist() == [[5, 7], [13, 15]]
        assert config.mode_name() == "full" and helpers.pick(fast=1, full=2) == 2
        assert paths.shown(paths.data_dir() / "x") == "<data>/x"
        downloads.check_sha256(b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "empty")
        assert benchmark_records.record("01", seconds=1.5) is None
        x, y = datasets.stratified_subset(np.arange(20), np.arange(20) % 2, 10)
        assert np.bincount(y).tolist() == [5, 5]
        try:
            import matplotlib
        except ImportError:
            pass
        else:
            raise AssertionError("the blocker did not block")
        assert not [name for name in {HEAVY!r} if name in sys.modules]
        print("ok")
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
