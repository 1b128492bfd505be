"""Unit tests of helpers.execution: finding and running notebooks like nbval does."""

import nbformat
import pytest

from helpers import execution


def test_chapter_notebooks_are_ordered_and_filterable():
    all_books = execution.chapter_notebooks()
    assert [p.name for p in all_books] == sorted(p.name for p in all_books)
    assert all(p.name[:2].isdigit() for p in all_books)
    first = all_books[0].name
    assert execution.chapter_notebooks([first[:2] + "_"]) == [all_books[0]]
    with pytest.raises(FileNotFoundError, match="matches \\['no-such-chapter'\\]"):
        execution.chapter_notebooks(["no-such-chapter"])


def test_notebook_environment_matches_nbval():
    env = execution.notebook_environment(fast=True, offline=False, extra={"X": "1"})
    assert env["COURSE_FAST"] == "1" and env["COURSE_OFFLINE"] == "0"
    assert env["PYTEST_CURRENT_TEST"] and env["TF_CPP_MIN_LOG_LEVEL"] == "3" and env["X"] == "1"


def test_execute_notebook_runs_cells_in_the_chosen_mode(tmp_path):
    path = tmp_path / "01_probe.ipynb"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("import os; print(os.environ['COURSE_FAST'], os.environ['Y'])")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    seconds = execution.execute_notebook(path, fast=True, offline=True, save=True, timeout=120,
                                         extra_env={"Y": "yes"})
    assert seconds > 0
    outputs = nbformat.read(path, as_version=4).cells[0].outputs
    assert outputs[0]["text"] == "1 yes\n"
