"""Prove every exercise's reference solution in its chapter's own state.

Usage: ./course exercises [NAME ...]        run chapters, then each reference solution and its check
       python -m tools.exercise_proof --cells NN   print chapter NN's scaffold and check cells to paste

An exercise in a notebook is a scaffold cell with blanks followed by a check cell, `check("05.3", ...)`.
The proof runs, after the chapter's last cell and in the same kernel, each registered solution
(helpers.exercises) followed by the notebook's own check cell, last exercise first, and fails unless the
check printed "<id> correct". Under `pytest --nbval` (./course test) these runs are extra test items after
each chapter's cells, in the chapter's own kernel (the repository's conftest.py loads this module's hook),
so the proof costs only the solutions' own time. Standalone, each chapter runs with nbclient on a
temporary copy; a chapter whose notebook has no exercise cells yet gets its registered scaffold and check
cells appended to that copy. Either way the committed scaffolds must print "<id> not attempted yet".
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from helpers.exercises import REGISTRY, Registry

CHECK_CALL = re.compile(r"""^check\(\s*(["'])(?P<id>\d\d\.\d+)\1""", re.MULTILINE)
IMPORT_LINE = "from helpers.exercises import check, hint, solution"


@dataclass(frozen=True)
class ExerciseCells:
    """Where one exercise sits in a notebook: its id and the indices of its scaffold and check cells."""

    id: str
    scaffold: int
    check: int


def find_exercise_cells(notebook) -> list[ExerciseCells]:
    """A notebook's exercises: each code cell holding one `check("NN.k", ...)` call, and the code cell before it."""
    found: list[ExerciseCells] = []
    previous_code = None
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        calls = [match["id"] for match in CHECK_CALL.finditer(cell.source)]
        if len(calls) > 1:
            raise ValueError(f"cell {index} checks {calls}: give each exercise a check cell of its own")
        if calls:
            if previous_code is None or any(item.check == previous_code for item in found):
                raise ValueError(f"cell {index} checks {calls[0]} but no scaffold cell comes before it")
            if any(item.id == calls[0] for item in found):
                raise ValueError(f"exercise {calls[0]} is checked in two cells")
            found.append(ExerciseCells(calls[0], previous_code, index))
        previous_code = index
    return found


def proof_problem(exercise_id: str, printed: str) -> str | None:
    """None if `printed` has the line "<id> correct: ...", else what it printed instead."""
    lines = [line for line in printed.splitlines() if line.startswith(f"{exercise_id} ")]
    if any(line.startswith(f"{exercise_id} correct:") for line in lines):
        return None
    return f"the reference solution of {exercise_id} did not pass its check: " + \
        (lines[-1] if lines else "the check printed nothing about it")


def printed_text(outputs) -> str:
    """The text that a cell's outputs printed to stdout."""
    return "".join(output.get("text", "") for output in outputs
                   if output.get("output_type") == "stream" and output.get("name") == "stdout")


def chapter_of(path: Path) -> str:
    """The two-digit chapter number of a notebook file 'NN_slug.ipynb'."""
    if not re.match(r"\d\d_", Path(path).name):
        raise ValueError(f"{Path(path).name} is not a chapter notebook (NN_slug.ipynb)")
    return Path(path).name[:2]


def registered_cells(chapter: str, registry: Registry = REGISTRY) -> list:
    """A chapter's exercise cells built from the registry: the import, then scaffold and check per exercise."""
    import nbformat

    cells = [nbformat.v4.new_code_cell(IMPORT_LINE)]
    for item in registry.of_chapter(chapter):
        cells += [nbformat.v4.new_code_cell(item.scaffold), nbformat.v4.new_code_cell(item.check_call)]
    return cells


def with_exercise_cells(notebook, chapter: str, registry: Registry = REGISTRY) -> tuple[object, bool]:
    """A copy of `notebook` that has exercise cells: its own, or else the registered ones appended (then True)."""
    result = copy.deepcopy(notebook)
    if find_exercise_cells(result) or not registry.of_chapter(chapter):
        return result, False
    result.cells.extend(registered_cells(chapter, registry))
    return result, True


def proof_cells(notebook, registry: Registry = REGISTRY, skip_unknown: bool = False) -> list[tuple[str, str]]:
    """(id, source) of each proof: the reference solution then the notebook's check cell, last exercise first.

    An id that is not registered is an error, or is left out with `skip_unknown`.
    """
    found = [cells for cells in reversed(find_exercise_cells(notebook))
             if not skip_unknown or registry.knows(cells.id)]
    return [(cells.id, f"{registry.get(cells.id).solution}\n{notebook.cells[cells.check].source}") for cells in found]


# --- names that exercises must leave alone ---------------------------------------------------


class _Names(ast.NodeVisitor):
    """Collects the names a cell binds at its top level and every name it reads."""

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.read: set[str] = set()
        self._depth = 0  # inside a function, lambda or comprehension, bindings are local

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            if not self._depth:
                self.bound.add(node.id)
        else:
            self.read.add(node.id)

    def _scope(self, node: ast.AST) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    def _definition(self, node: ast.AST) -> None:
        if not self._depth:
            self.bound.add(node.name)
        self._scope(node)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _definition
    visit_Lambda = visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _scope


def _names(source: str) -> tuple[set[str], set[str]]:
    """(bound, read): names a cell binds at its top level (imports excluded), and names it reads anywhere."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set(), set()
    names = _Names()
    names.visit(tree)
    return names.bound, names.read


def bound_names(source: str) -> set[str]:
    """Names a cell assigns or defines (imports excluded): what rerunning it rebinds."""
    return _names(source)[0]


def chapter_state(notebook) -> set[str]:
    """Names the chapter's cells carry from cell to cell: bound in one, read in another that does not bind them."""
    exercise_cells = {index for item in find_exercise_cells(notebook) for index in (item.scaffold, item.check)}
    bound, carried = set(), set()
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and index not in exercise_cells:
            cell_bound, cell_read = _names(cell.source)
            bound |= cell_bound
            carried |= cell_read - cell_bound
    return bound & carried


def rebinding_problems(notebook, chapter: str, registry: Registry = REGISTRY) -> list[str]:
    """Names an exercise binds that the chapter carries between its cells, or that another exercise's scaffold binds.

    Rebinding those would break a rerun of the chapter's cells, or of another exercise, after this one ran.
    """
    state = chapter_state(notebook)
    items = registry.of_chapter(chapter)
    givens = {item.id: bound_names(item.scaffold) for item in items}
    problems = []
    for item in items:
        names = bound_names(item.scaffold) | bound_names(item.solution)
        problems += [f"{item.id} rebinds `{name}`, which the chapter's cells carry from cell to cell"
                     for name in sorted(names & state)]
        problems += [f"{item.id} rebinds `{name}`, which exercise {other} sets in its scaffold"
                     for other, scaffold_names in givens.items() if other != item.id
                     for name in sorted(names & scaffold_names)]
    return problems


# --- the proof under nbval: extra items after each chapter's last cell ------------------------

_PROOF_ITEM = None


def proof_item_class():
    """nbval's cell item, made to run a proof and to fail unless the check printed "correct" (built on first use)."""
    global _PROOF_ITEM
    if _PROOF_ITEM is None:
        from nbval.plugin import IPyNbCell

        class ExerciseProof(IPyNbCell):
            """A reference solution and its check cell, run in the chapter's kernel after its last cell."""

            def __init__(self, name, parent, cell_num, cell, options, exercise_id):
                super().__init__(name, parent, cell_num, cell, options)
                self.exercise_id = exercise_id

            def reportinfo(self):
                return self.path, 0, f"{self.parent.name}::{self.name}"

            def runtest(self):
                super().runtest()  # runs the cell in the chapter's kernel; an error fails here
                problem = proof_problem(self.exercise_id, printed_text(self.test_outputs or []))
                if problem:
                    self.raise_cell_error(problem, printed_text(self.test_outputs or []))

        _PROOF_ITEM = ExerciseProof
    return _PROOF_ITEM


def pytest_collection_modifyitems(session, config, items) -> None:
    """Under --nbval, add each notebook's exercise proofs right after its last collected cell."""
    if not (getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False)):
        return
    import nbformat
    from nbval.plugin import IPyNbFile

    last: dict[object, int] = {}
    for position, item in enumerate(items):
        if isinstance(item.parent, IPyNbFile):
            last[item.parent] = position
    for notebook_file, position in sorted(last.items(), key=lambda pair: -pair[1]):
        try:  # a check of an unknown id fails in the chapter's own check cell ("there is no exercise ..."): no proof
            proofs = [(f"exercise {exercise_id} reference solution", source, exercise_id)
                      for exercise_id, source in proof_cells(notebook_file.nb, skip_unknown=True)]
        except ValueError as error:  # exercise cells laid out wrongly: one failing item says how
            proofs = [("exercise cells", f"raise ValueError({str(error)!r})", "")]
        proofs = [proof_item_class().from_parent(
            notebook_file, name=name, cell_num=len(notebook_file.nb.cells) + number,
            cell=nbformat.v4.new_code_cell(source), options=defaultdict(bool, check=False), exercise_id=exercise_id)
            for number, (name, source, exercise_id) in enumerate(proofs)]
        items[position + 1:position + 1] = proofs


# --- the standalone proof --------------------------------------------------------------------


@dataclass
class ChapterProof:
    """The outcome of one chapter's proof: seconds per exercise and every problem found."""

    name: str
    appended: bool
    seconds: dict[str, float]
    problems: list[str]


def prove_chapter(path: Path, registry: Registry = REGISTRY, timeout: int = 1800) -> ChapterProof:
    """Run a copy of the chapter, then its exercises' proofs, in one kernel (fast, offline); collect problems."""
    import nbformat

    from tools.execution import cell_seconds, execute_notebook
    from tools.sweep import failures

    chapter = chapter_of(path)
    notebook, appended = with_exercise_cells(nbformat.read(path, as_version=4), chapter, registry)
    problems = rebinding_problems(notebook, chapter, registry)
    exercises = find_exercise_cells(notebook)
    proofs = proof_cells(notebook, registry)
    first_proof = len(notebook.cells)
    notebook.cells.extend(nbformat.v4.new_code_cell(source) for _, source in proofs)
    with tempfile.TemporaryDirectory() as scratch:
        copy_path = Path(scratch) / Path(path).name
        nbformat.write(notebook, copy_path)
        executed = execute_notebook(copy_path, fast=True, offline=True, save=False, timeout=timeout,
                                    allow_errors=True).notebook
    problems += failures(executed)
    for item in exercises:
        printed = printed_text(executed.cells[item.check].outputs)
        if not printed.startswith(f"{item.id} not attempted yet:"):
            problems.append(f"{item.id}: the scaffold as committed should print 'not attempted yet', printed "
                            f"{printed.strip()[:200]!r}")
    timings = cell_seconds(executed)
    seconds = {}
    for offset, (exercise_id, _) in enumerate(proofs):
        index = first_proof + offset
        seconds[exercise_id] = timings.get(index, float("nan"))
        problem = proof_problem(exercise_id, printed_text(executed.cells[index].outputs))
        if problem:
            problems.append(problem)
    return ChapterProof(Path(path).name, appended, dict(sorted(seconds.items())), problems)


def cells_text(chapter: str, registry: Registry = REGISTRY) -> str:
    """A chapter's scaffold and check cells as text to paste into its notebook, each headed by a marker line."""
    parts = [f"# ---- code cell: import\n{IMPORT_LINE}"]
    for item in registry.of_chapter(chapter):
        parts.append(f"# ---- code cell: {item.id} scaffold\n{item.scaffold}")
        parts.append(f"# ---- code cell: {item.id} check\n{item.check_call}")
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Prove the chosen chapters' exercises (all chapters that have some); exit 1 on any problem."""
    from tools.execution import chapter_notebooks

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="parts of notebook file names, e.g. 01 or kernels")
    parser.add_argument("--cells", metavar="NN", help="print chapter NN's exercise cells and stop")
    args = parser.parse_args(argv)
    if args.cells:
        if not REGISTRY.of_chapter(args.cells):
            parser.error(f"chapter {args.cells} has no registered exercises")
        print(cells_text(args.cells), end="")
        return 0
    chapters = set(REGISTRY.chapters())
    paths = [path for path in chapter_notebooks(args.names) if chapter_of(path) in chapters]
    if not paths:
        print("no chosen chapter has registered exercises")
        return 0
    failed = False
    for path in paths:
        result = prove_chapter(path)
        note = " (exercise cells appended from helpers.exercises: the notebook has none yet)" if result.appended else ""
        timings = ", ".join(f"{exercise_id} {seconds:.1f} s" for exercise_id, seconds in result.seconds.items())
        print(f"{result.name}: {'pass' if not result.problems else 'FAIL'}{note}; proofs: {timings}", flush=True)
        for problem in result.problems:
            print(f"  {problem}", flush=True)
        failed = failed or bool(result.problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
