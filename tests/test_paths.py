"""Unit tests of helpers.paths: the repository, the data cache and its folders, paths shown short."""

import pytest

from helpers import paths


def test_project_root_holds_the_helpers_package():
    root = paths.project_root()
    assert (root / "helpers" / "paths.py").is_file() and (root / "pyproject.toml").is_file()


def test_data_dir_follows_the_environment_and_is_created(course_env):
    path = paths.data_dir()
    assert path == course_env / "data" and path.is_dir()


def test_data_dir_defaults_to_the_repository(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR")
    assert paths.data_dir() == paths.project_root() / "data"


def test_cache_dir_and_artifacts_dir_are_created_inside_the_data_folder(course_env):
    downloads = paths.cache_dir("downloads")
    assert downloads == course_env / "data" / "downloads" and downloads.is_dir()
    assert paths.artifacts_dir() == course_env / "data" / "artifacts" and paths.artifacts_dir().is_dir()


@pytest.mark.parametrize("name", ["../x", "a/b", "/tmp", "", ".", ".."])
def test_cache_dir_refuses_anything_but_one_plain_folder_name(name, course_env):
    with pytest.raises(ValueError, match="one plain folder name"):
        paths.cache_dir(name)
    assert not (course_env / "x").exists()


def test_shown_replaces_the_data_and_course_folders_by_labels(course_env):
    data = paths.data_dir()
    assert paths.shown(data / "downloads" / "mnist.npz") == "<data>/downloads/mnist.npz"
    assert paths.shown(data) == "<data>"
    assert paths.shown(paths.project_root() / "notebooks" / "x.ipynb") == "<course>/notebooks/x.ipynb"
    assert paths.shown(paths.project_root()) == "<course>"
    assert paths.shown(course_env / "elsewhere.txt") == str(course_env / "elsewhere.txt")


def test_shown_prefers_the_data_label_when_the_data_folder_is_inside_the_course(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR")
    assert paths.shown(paths.project_root() / "data" / "x") == "<data>/x"
