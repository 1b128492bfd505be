"""nbval's test markers as cell tags: a `# NBVAL_IGNORE_OUTPUT` comment line becomes the tag `nbval-ignore-output`.

Usage: .venv/bin/python -m tools.markers notebooks/02_*.ipynb   (rewrites the notebooks in place; idempotent)

nbval reads a marker from a comment line or from the cell's tags alike. As a tag it stays out of the code a
learner reads, in JupyterLab and on the course's website, and `./course regen` keeps it (cell tags survive
regeneration).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

# nbval's comment markers and the tag each one becomes (nbval's own names: lower case, '-' for '_').
TAG_OF_COMMENT = {
    "NBVAL_IGNORE_OUTPUT": "nbval-ignore-output",
    "NBVAL_CHECK_OUTPUT": "nbval-check-output",
    "NBVAL_RAISES_EXCEPTION": "nbval-raises-exception",
    "NBVAL_SKIP": "nbval-skip",
}
IGNORE_OUTPUT = TAG_OF_COMMENT["NBVAL_IGNORE_OUTPUT"]
MARKER_LINE = re.compile(r"^\s*#\s*(NBVAL_\w+)\s*$")


class MarkerError(ValueError):
    """A notebook whose markers cannot be moved into tags as they are."""


def cell_tags(cell) -> list[str]:
    """The cell's tags (an empty list when it has none)."""
    tags = cell.get("metadata", {}).get("tags", [])
    if not isinstance(tags, list):
        raise MarkerError(f"cell tags must be a list of strings, found {tags!r}")
    return tags


def ignores_output(cell) -> bool:
    """True for a code cell whose output nbval does not compare (tagged `nbval-ignore-output`)."""
    return cell.cell_type == "code" and IGNORE_OUTPUT in cell_tags(cell)


def comment_markers(source: str) -> list[str]:
    """The nbval markers written as comment lines in `source`, e.g. ['NBVAL_IGNORE_OUTPUT']."""
    return [match[1] for line in source.splitlines() if (match := MARKER_LINE.match(line))]


def migrate_cell(cell) -> list[str]:
    """Move a code cell's marker comment lines into its tags, in place; return the markers moved (none if done)."""
    if cell.cell_type != "code":
        return []
    markers = comment_markers(cell.source)
    unknown = [marker for marker in markers if marker not in TAG_OF_COMMENT]
    if unknown:
        raise MarkerError(f"unknown nbval marker {unknown[0]}: nbval knows {', '.join(TAG_OF_COMMENT)}")
    if markers:
        tags = cell_tags(cell)
        new_tags = [tag for tag in dict.fromkeys(TAG_OF_COMMENT[marker] for marker in markers) if tag not in tags]
        cell.source = "".join(line for line in cell.source.splitlines(keepends=True) if not MARKER_LINE.match(line))
        cell.setdefault("metadata", {})["tags"] = tags + new_tags
    return markers


def migrate_notebook(notebook) -> int:
    """Move every code cell's marker comments into tags, in place; return how many cells changed."""
    changed = 0
    for index, cell in enumerate(notebook.cells):
        try:
            changed += bool(migrate_cell(cell))
        except MarkerError as error:
            raise MarkerError(f"cell {index}: {error}") from None
    return changed


def migrate_file(path: Path) -> int:
    """Migrate the notebook file at `path` in place (written only if a cell changed); return the cells changed."""
    import nbformat

    path = Path(path)
    if path.suffix != ".ipynb" or not path.is_file():
        raise MarkerError(f"{path}: not a notebook file (.ipynb)")
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises several kinds for a broken file
        raise MarkerError(f"{path}: cannot be read as a notebook ({error})") from None
    try:
        changed = migrate_notebook(notebook)
    except MarkerError as error:
        raise MarkerError(f"{path}: {error}") from None
    if changed:
        nbformat.write(notebook, path)
    return changed


def main(argv: list[str] | None = None) -> int:
    """Migrate the notebooks named on the command line, printing how many cells each one had to change."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path, help="notebook files to rewrite in place")
    args = parser.parse_args(argv)
    try:
        for path in args.notebooks:
            print(f"{path}: {migrate_file(path)} cells moved their markers into tags", flush=True)
    except MarkerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
