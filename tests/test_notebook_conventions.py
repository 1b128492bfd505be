"""Checks every chapter notebook against the course's conventions (see README, 'Writing and changing a chapter')."""

import re

import nbformat
import pytest

from helpers.paths import project_root
from tools import markers, notebook_files
from tools.execution import chapter_notebooks

NOTEBOOKS = chapter_notebooks()
IDS = [path.name for path in NOTEBOOKS]


def code_cells(path):
    return [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]


def test_chapters_are_numbered_from_01_without_gaps():
    numbers = [int(path.name[:2]) for path in NOTEBOOKS]
    assert numbers == list(range(1, len(numbers) + 1))
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name) for path in NOTEBOOKS)


def test_readme_chapter_table_lists_every_notebook():
    readme = (project_root() / "README.md").read_text(encoding="utf-8")
    missing = [path.name for path in NOTEBOOKS if f"(notebooks/{path.name})" not in readme]
    assert not missing, f"README.md's chapter table lacks {missing}"


TIME_LINE = re.compile(r"\*\*Time\*\* on 2 CPU cores without a GPU: full mode \(your default\) about "
                       r"(?P<full>\d+(?:\.\d+)? (?:min|s))[^;]*; fast mode about (?P<fast>\d+(?:\.\d+)? (?:min|s))")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_first_cell_states_the_measured_times_that_the_readme_table_shows(path):
    intro = nbformat.read(path, as_version=4).cells[0].source
    stated = TIME_LINE.search(intro)
    assert stated, f"the first cell needs a line like '**Time** on 2 CPU cores without a GPU: full mode (your default) about 9 min; fast mode about 1 min'"
    readme = (project_root() / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if f"(notebooks/{path.name})" in line)
    fast, full = [cell.strip() for cell in row.strip("|").split("|")][-2:]
    assert re.sub(r"[¹²³⁴⁵⁶⁷⁸⁹⁰]+$", "", full) == stated["full"], (full, stated["full"])
    assert re.sub(r"[¹²³⁴⁵⁶⁷⁸⁹⁰]+$", "", fast) == stated["fast"], (fast, stated["fast"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_opens_with_title_and_setup(path):
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith(f"# Chapter {path.name[:2]}")
    first_code = code_cells(path)[0]
    assert "helpers.setup(" in first_code.source and markers.ignores_output(first_code), \
        f"the set-up cell prints the versions and the device: tag it {markers.IGNORE_OUTPUT}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_has_asserts_and_stored_outputs_without_errors(path):
    cells = code_cells(path)
    assert sum("assert " in cell.source for cell in cells) >= 3, "claims must be asserts"
    assert all(cell.execution_count for cell in cells), "regenerate outputs with ./course regen"
    errors = [o for cell in cells for o in cell.outputs if o.output_type == "error"]
    assert not errors, f"stored error output: {errors[0].get('ename')}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_avoids_known_traps(path):
    for cell in code_cells(path):
        source, tags = cell.source, markers.cell_tags(cell)
        assert not {"nbval-raises-exception", "raises-exception"} & set(tags), \
            "passes even if nothing is raised: assert it yourself"
        assert "nbval-skip" not in tags
        lines = [line for line in source.splitlines() if line.strip()]
        assert not any(line.lstrip().startswith(("!", "%pip", "%sh", "%%bash")) for line in lines), \
            "no shell escapes: the notebooks run the same on every OS"
        assert not re.search(r"['\"](/home/|/Users/|C:\\\\|/content/)", source), "no absolute home paths"
        if lines:
            assert not lines[-1].rstrip().endswith(";"), \
                f"a trailing ';' does not hide the value under nbval: {lines[-1]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_at_most_a_third_of_code_cells_ignore_their_output(path):
    """nbval must check what the chapter teaches: training and timing cells are the exception."""
    cells = code_cells(path)
    ignored = [cell for cell in cells if markers.ignores_output(cell)]
    assert 3 * len(ignored) <= len(cells), f"{len(ignored)} of {len(cells)} code cells ignore their output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_setup_runs_before_tensorflow_is_imported(path):
    """helpers.setup imports TensorFlow with its start-up noise silenced, so it must come first."""
    first = code_cells(path)[0].source
    setup_at = first.index("helpers.setup(")
    for module in ("import keras", "import tensorflow", "from keras", "from tensorflow"):
        assert module not in first[:setup_at], f"{module!r} comes before helpers.setup() in the first cell"
    assert "from helpers.metrics" not in "".join(cell.source for cell in code_cells(path))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_test_markers_are_cell_tags(path):
    """nbval's markers live in cell tags, out of the code a learner reads (JupyterLab, the website)."""
    commented = [index for index, cell in enumerate(nbformat.read(path, as_version=4).cells)
                 if cell.cell_type == "code" and markers.comment_markers(cell.source)]
    assert not commented, (f"cells {commented} carry '# NBVAL_...' comment lines: move them into tags with "
                           f"`.venv/bin/python -m tools.markers notebooks/{path.name}`")


def test_the_ignore_rule_counts_what_it_should(tmp_path):
    """The one-third rule really fails a notebook that ignores most of its cells."""
    tagged = {"tags": [markers.IGNORE_OUTPUT]}
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1", metadata=tagged),
                                               nbformat.v4.new_code_cell("y = 2", metadata=tagged),
                                               nbformat.v4.new_code_cell("z = 3")])
    path = tmp_path / "01_demo.ipynb"
    nbformat.write(notebook, path)
    with pytest.raises(AssertionError, match="2 of 3 code cells"):
        test_at_most_a_third_of_code_cells_ignore_their_output(path)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_file_has_no_volatile_metadata(path):
    """Timestamps, jupytext layout and a second kernelspec make every regeneration a noisy diff."""
    problems = notebook_files.metadata_problems(nbformat.read(path, as_version=4))
    assert not problems, f"{problems}: regenerate with ./course regen, which strips them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_headings_live_in_markdown_cells(path):
    """A '# ## Section' comment in a code cell never renders and is missing from JupyterLab's contents."""
    found = notebook_files.headings_in_code(nbformat.read(path, as_version=4))
    assert not found, f"move these headings into markdown cells: {found}"
