"""Notebook files that diff cleanly: what regeneration strips, and the checks the convention tests apply."""

from __future__ import annotations

import re

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# Notebook-level keys worth keeping; everything else (jupytext, widgets, the Python patch version) is volatile.
KEPT_LANGUAGE_INFO = ("codemirror_mode", "file_extension", "mimetype", "name", "nbconvert_exporter", "pygments_lexer")
# Cell metadata that means something to JupyterLab or nbval; timestamps and jupytext layout are dropped.
KEPT_CELL_METADATA = ("tags", "collapsed", "scrolled", "jupyter")
HEADING_IN_CODE = re.compile(r"^\s*#\s*#{1,6}\s")   # '# ## 6. Test accuracy': a markdown heading commented out


def clean_metadata(notebook):
    """Strip volatile metadata in place (execution timestamps, jupytext, Python version) and set one kernelspec."""
    language = notebook.metadata.get("language_info", {})
    notebook.metadata = {"kernelspec": dict(KERNELSPEC),
                         "language_info": {key: language[key] for key in KEPT_LANGUAGE_INFO if key in language}}
    for cell in notebook.cells:
        cell.metadata = {key: value for key, value in cell.metadata.items() if key in KEPT_CELL_METADATA}
    return notebook


def metadata_problems(notebook) -> list[str]:
    """What `clean_metadata` would change, one line per kind of problem (empty when the file is clean)."""
    problems = []
    if notebook.metadata.get("kernelspec") != KERNELSPEC:
        problems.append(f"kernelspec is {notebook.metadata.get('kernelspec')}, expected {KERNELSPEC}")
    extra = sorted(set(notebook.metadata) - {"kernelspec", "language_info"})
    extra += sorted(f"language_info.{key}" for key in set(notebook.metadata.get("language_info", {}))
                    - set(KEPT_LANGUAGE_INFO))
    if extra:
        problems.append(f"volatile notebook metadata: {extra}")
    cells = sorted({f"{key} (cell {index})" for index, cell in enumerate(notebook.cells)
                    for key in cell.metadata if key not in KEPT_CELL_METADATA})
    if cells:
        problems.append(f"volatile cell metadata: {cells[:5]}{' ...' if len(cells) > 5 else ''}")
    return problems


def headings_in_code(notebook) -> list[str]:
    """Markdown headings written as comments inside code cells ('cell N: # ## Title'): they never render."""
    return [f"cell {index}: {line.strip()}" for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"
            for line in cell.source.splitlines() if HEADING_IN_CODE.match(line)]
