"""nbval's marker comments moved into cell tags (tools.markers): what moves, what stays, and bad input."""

import nbformat
import pytest

from tools import markers


def notebook_of(*sources, tags=None):
    """A notebook of code cells (the first one with `tags`, if given) and one markdown cell."""
    cells = [nbformat.v4.new_code_cell(source) for source in sources]
    if tags is not None:
        cells[0].metadata["tags"] = tags
    return nbformat.v4.new_notebook(cells=[*cells, nbformat.v4.new_markdown_cell("# NBVAL_IGNORE_OUTPUT in prose")])


def test_a_marker_line_becomes_a_tag_and_leaves_the_code():
    notebook = notebook_of("# NBVAL_IGNORE_OUTPUT\n# (timings vary)\nx = 1", "y = 2")
    assert markers.migrate_notebook(notebook) == 1
    first, second, prose = notebook.cells
    assert first.source == "# (timings vary)\nx = 1" and first.metadata["tags"] == ["nbval-ignore-output"]
    assert markers.ignores_output(first) and not markers.ignores_output(second)
    assert "tags" not in second.metadata and prose.source.startswith("# NBVAL")  # prose is not code


def test_migration_is_idempotent_and_keeps_other_tags():
    notebook = notebook_of("#NBVAL_SKIP\n  # NBVAL_IGNORE_OUTPUT  \nx = 1", tags=["keep-me", "nbval-skip"])
    assert markers.migrate_notebook(notebook) == 1
    once = nbformat.writes(notebook)
    assert markers.migrate_notebook(notebook) == 0
    assert nbformat.writes(notebook) == once
    assert notebook.cells[0].metadata["tags"] == ["keep-me", "nbval-skip", "nbval-ignore-output"]
    assert notebook.cells[0].source == "x = 1"


def test_a_marker_inside_a_line_of_code_is_not_a_marker_line():
    notebook = notebook_of('text = "# NBVAL_IGNORE_OUTPUT"  # NBVAL_IGNORE_OUTPUT')
    assert markers.migrate_notebook(notebook) == 0
    assert markers.comment_markers(notebook.cells[0].source) == []


def test_nbval_reads_the_tags_it_is_given():
    """The tag names are nbval's own: the comment's name in lower case with '-' for '_'."""
    from nbval.plugin import comment_markers, metadata_tags

    for comment, tag in markers.TAG_OF_COMMENT.items():
        assert metadata_tags[tag] == comment_markers[comment]


def test_an_unknown_marker_is_refused_naming_the_cell():
    notebook = notebook_of("x = 1", "# NBVAL_IGNORE_OUTPUTS\ny = 2")
    with pytest.raises(markers.MarkerError, match="cell 1: unknown nbval marker NBVAL_IGNORE_OUTPUTS"):
        markers.migrate_notebook(notebook)


def test_tags_that_are_not_a_list_are_refused():
    notebook = notebook_of("# NBVAL_SKIP\nx = 1")
    notebook.cells[0].metadata["tags"] = "nbval-skip"   # what a hand-edited file can hold
    with pytest.raises(markers.MarkerError, match="cell 0: cell tags must be a list"):
        markers.migrate_notebook(notebook)


def test_the_command_rewrites_files_in_place_and_reports(tmp_path, capsys):
    path = tmp_path / "02_demo.ipynb"
    nbformat.write(notebook_of("# NBVAL_IGNORE_OUTPUT\nx = 1"), path)
    assert markers.main([str(path)]) == 0
    assert "1 cells moved" in capsys.readouterr().out
    written = path.read_bytes()
    assert markers.main([str(path)]) == 0
    assert path.read_bytes() == written and "0 cells moved" in capsys.readouterr().out
    assert nbformat.read(path, as_version=4).cells[0].metadata["tags"] == ["nbval-ignore-output"]


@pytest.mark.parametrize("name, content, problem", [
    ("missing.ipynb", None, "not a notebook file"),
    ("notes.md", "# NBVAL_SKIP", "not a notebook file"),
    ("broken.ipynb", "{not json", "cannot be read as a notebook"),
])
def test_the_command_names_a_file_it_cannot_migrate(tmp_path, capsys, name, content, problem):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    assert markers.main([str(path)]) == 1
    assert f"{name}: {problem}" in capsys.readouterr().err
