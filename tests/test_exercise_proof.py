"""Unit tests of tools.exercise_proof: finding exercise cells, the names exercises must leave alone, the
proof under nbval and standalone, and the registry against the chapter notebooks."""

import dataclasses
import os
import subprocess
import sys

import nbformat
import pytest

from helpers.exercises import REGISTRY, Registry
from helpers.paths import project_root
from tools import exercise_proof
from tools.execution import chapter_notebooks


def notebook_of(*sources, markdown_at=()):
    """A notebook of code cells (and empty markdown cells at the given positions)."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("text") if index in markdown_at else
                      nbformat.v4.new_code_cell(source) for index, source in enumerate(sources)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


# --- finding exercises ---------------------------------------------------------------------


def test_exercise_cells_are_check_cells_and_the_code_cell_before_each():
    notebook = notebook_of("x = 1", "answer = ...", "", 'check("01.2", a, b)', "y = 2", "other = ...",
                           "check('01.3', other)  # again", markdown_at=(2,))
    assert exercise_proof.find_exercise_cells(notebook) == [
        exercise_proof.ExerciseCells("01.2", scaffold=1, check=3), exercise_proof.ExerciseCells("01.3", 5, 6)]
    assert exercise_proof.find_exercise_cells(notebook_of("print('check(\"01.1\", x)')", "x = 1")) == []


@pytest.mark.parametrize("sources, words", [
    (("a = ...", 'check("01.1", a)\ncheck("01.2", a)'), r"cell 1 checks \['01.1', '01.2'\]: give each exercise"),
    (('check("01.1", a)',), "cell 0 checks 01.1 but no scaffold cell comes before it"),
    (("a = ...", 'check("01.1", a)', 'check("01.2", a)'), "cell 2 checks 01.2 but no scaffold cell"),
    (("a = ...", 'check("01.1", a)', "b = ...", 'check("01.1", b)'), "exercise 01.1 is checked in two cells"),
])
def test_badly_laid_out_exercises_are_clear_errors(sources, words):
    with pytest.raises(ValueError, match=words):
        exercise_proof.find_exercise_cells(notebook_of(*sources))


def test_proof_problem_wants_the_exercises_own_correct_line():
    assert exercise_proof.proof_problem("01.2", "a figure\n01.2 correct: Because.\n") is None
    assert exercise_proof.proof_problem("01.2", "01.2 not yet: x and y are swapped\n") == \
        "the reference solution of 01.2 did not pass its check: 01.2 not yet: x and y are swapped"
    assert exercise_proof.proof_problem("01.2", "01.3 correct: Because.\n").endswith(
        "the check printed nothing about it")


def test_printed_text_is_what_went_to_stdout():
    outputs = [nbformat.v4.new_output("stream", name="stdout", text="a\n"),
               nbformat.v4.new_output("stream", name="stderr", text="warning\n"),
               nbformat.v4.new_output("execute_result", data={"text/plain": "3"}, execution_count=1),
               nbformat.v4.new_output("stream", name="stdout", text="b\n")]
    assert exercise_proof.printed_text(outputs) == "a\nb\n"


def test_chapter_of_a_notebook_file():
    assert exercise_proof.chapter_of(project_root() / "notebooks" / "05_fashion.ipynb") == "05"
    with pytest.raises(ValueError, match="scratch.ipynb is not a chapter notebook"):
        exercise_proof.chapter_of("scratch.ipynb")


def test_a_chapter_without_exercise_cells_gets_the_registered_ones_appended():
    notebook = notebook_of("x = 1")
    scratch, appended = exercise_proof.with_exercise_cells(notebook, "01")
    assert appended and len(notebook.cells) == 1  # the original is left alone
    sources = [cell.source for cell in scratch.cells]
    assert sources[1] == exercise_proof.IMPORT_LINE
    assert sources[2:4] == [REGISTRY.get("01.1").scaffold, 'check("01.1", green, closer)']
    assert [item.id for item in exercise_proof.find_exercise_cells(scratch)] == ["01.1", "01.2", "01.3", "01.4",
                                                                                "01.5"]
    own = notebook_of("x = 1", "answer = ...", 'check("01.2", answer)')
    assert exercise_proof.with_exercise_cells(own, "01") == (own, False)
    assert exercise_proof.with_exercise_cells(notebook, "98") == (notebook, False)  # no exercises registered


def test_proofs_run_each_solution_then_the_notebooks_own_check_cell_last_exercise_first():
    notebook = notebook_of("answer = ...", 'check("01.4", answer)', "pos = ...", 'check("01.5", pos)',
                           "z = ...", 'check("77.1", z)')
    with pytest.raises(ValueError, match="there is no exercise 77.1"):
        exercise_proof.proof_cells(notebook)
    proofs = exercise_proof.proof_cells(notebook, skip_unknown=True)
    assert proofs == [("01.5", REGISTRY.get("01.5").solution + '\ncheck("01.5", pos)'),
                      ("01.4", REGISTRY.get("01.4").solution + '\ncheck("01.4", answer)')]


# --- names exercises must leave alone -------------------------------------------------------


def test_bound_names_are_assignments_and_definitions_but_not_imports():
    source = "import numpy as np\n%matplotlib inline\na, (b, c) = 1, (2, 3)\nfor i in range(2): d = i\n" \
             "def f(x):\n    local = x\n    return local\nclass K:\n    attribute = 1\n" \
             "with open('f') as handle: pass\ne += 1\ng: int = 1\nsquares = [n * n for n in range(3)]\ndel a"
    assert exercise_proof.bound_names(source) == {"a", "b", "c", "i", "d", "f", "K", "handle", "e", "g", "squares"}
    assert exercise_proof.bound_names("this is ( not python") == set()


def test_chapter_state_is_what_one_cell_binds_and_another_reads():
    notebook = notebook_of("cat = load()\nfig = show(cat)", "fig = show(cat)\nfig.tight_layout()",
                           "total = 0\ntotal += 1", "answer = ...", 'check("01.2", answer)')
    assert exercise_proof.chapter_state(notebook) == {"cat"}


def test_rebinding_problems_name_the_exercise_and_the_name():
    registry = Registry()
    for item in REGISTRY.of_chapter("01")[:2]:
        registry.add(item)
    clean = notebook_of("cat = load()", "show(cat)")
    assert exercise_proof.rebinding_problems(clean, "01", registry) == []
    clashing = notebook_of("green = cat[..., 1]\ncoffee = 1", "print(green, coffee)")
    assert exercise_proof.rebinding_problems(clashing, "01", registry) == [
        "01.1 rebinds `green`, which the chapter's cells carry from cell to cell",
        "01.2 rebinds `coffee`, which the chapter's cells carry from cell to cell"]
    registry.add(dataclasses.replace(REGISTRY.get("01.3"), solution="coffee = 2\nbrighter = 1"))
    assert exercise_proof.rebinding_problems(clean, "01", registry) == [
        "01.3 rebinds `coffee`, which exercise 01.2 sets in its scaffold"]


@pytest.mark.parametrize("path", [path for path in chapter_notebooks()
                                  if exercise_proof.chapter_of(path) in REGISTRY.chapters()],
                         ids=lambda path: path.name)
def test_exercises_leave_the_chapters_own_names_alone(path):
    chapter = exercise_proof.chapter_of(path)
    notebook, _ = exercise_proof.with_exercise_cells(nbformat.read(path, as_version=4), chapter)
    assert exercise_proof.rebinding_problems(notebook, chapter) == []


@pytest.mark.parametrize("path", [path for path in chapter_notebooks()
                                  if exercise_proof.chapter_of(path) in REGISTRY.chapters()],
                         ids=lambda path: path.name)
def test_a_notebooks_exercise_cells_are_the_registered_ones(path):
    chapter = exercise_proof.chapter_of(path)
    notebook = nbformat.read(path, as_version=4)
    found = exercise_proof.find_exercise_cells(notebook)
    if not found:
        pytest.skip(f"{path.name} has no exercise cells yet (print them: python -m tools.exercise_proof --cells {chapter})")
    registered = REGISTRY.of_chapter(chapter)
    assert [cells.id for cells in found] == [item.id for item in registered]
    for cells, item in zip(found, registered):
        assert notebook.cells[cells.scaffold].source == item.scaffold, f"{item.id}: scaffold differs from the registry"
        assert notebook.cells[cells.check].source == item.check_call, f"{item.id}: check cell differs"


# --- printing the cells ----------------------------------------------------------------------


def test_cells_text_lists_each_scaffold_and_check(capsys):
    assert exercise_proof.main(["--cells", "02"]) == 0
    text = capsys.readouterr().out
    assert text == exercise_proof.cells_text("02")
    assert text.startswith(f"# ---- code cell: import\n{exercise_proof.IMPORT_LINE}\n\n# ---- code cell: 02.1 scaffold\n")
    assert text.count("# ---- code cell: ") == 1 + 2 * len(REGISTRY.of_chapter("02"))
    with pytest.raises(SystemExit):
        exercise_proof.main(["--cells", "98"])
    assert "chapter 98 has no registered exercises" in capsys.readouterr().err


# --- the proof, standalone and under nbval (real kernels, one small exercise) ---------------------


def only_01_2(solution=None):
    """A registry holding exercise 01.2 alone (needs only scikit-image's data), its solution optionally replaced."""
    registry = Registry()
    item = REGISTRY.get("01.2")
    registry.add(dataclasses.replace(item, solution=solution) if solution else item)
    return registry


def test_prove_chapter_runs_the_chapter_then_each_solution_and_its_check(tmp_path):
    path = tmp_path / "01_demo.ipynb"
    nbformat.write(notebook_of("from skimage import data"), path)
    result = exercise_proof.prove_chapter(path, registry=only_01_2(), timeout=120)
    assert result.problems == [] and result.appended and list(result.seconds) == ["01.2"]
    assert 0 <= result.seconds["01.2"] < 30


def test_prove_chapter_reports_a_solution_that_fails_its_check_and_a_chapter_cell_that_fails(tmp_path):
    path = tmp_path / "01_demo.ipynb"
    nbformat.write(notebook_of("from skimage import data", "1 / 0"), path)
    wrong = "coffee = data.coffee()\ncoffee_shape = (600, 400, 3)\ncoffee_pixel = coffee[100, 250]"
    result = exercise_proof.prove_chapter(path, registry=only_01_2(wrong), timeout=120)
    assert result.problems[0].startswith("cell 1: ZeroDivisionError: division by zero")
    assert result.problems[1:] == ["the reference solution of 01.2 did not pass its check: 01.2 not yet: (600, 400, 3) "
                                   "is (width, height, channels): a NumPy shape starts with the rows, the height"]


def test_main_proves_nothing_for_chapters_without_exercises(capsys, monkeypatch):
    monkeypatch.setattr(exercise_proof.REGISTRY, "chapters", lambda: ["01"])     # as if only chapter 01 had some
    assert exercise_proof.main(["10"]) == 0
    assert capsys.readouterr().out == "no chosen chapter has registered exercises\n"


def stored_notebook(path, check_source, printed):
    """A chapter notebook with 01.2's scaffold and a check cell whose stored output is `printed`."""
    notebook = notebook_of("from skimage import data\nfrom helpers.exercises import check",
                           REGISTRY.get("01.2").scaffold, check_source)
    for count, cell in enumerate(notebook.cells, start=1):
        cell.execution_count = count
    notebook.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed + "\n")]
    nbformat.write(notebook, path)


def test_under_nbval_each_chapter_gets_its_proofs_after_its_last_cell(tmp_path):
    blank = REGISTRY.verdict("01.2", ..., ...)
    stored_notebook(tmp_path / "01_good.ipynb", 'check("01.2", coffee_shape, coffee_pixel)', blank)
    # a check cell that passes the wrong pixel: the committed scaffold still prints what is stored, the proof fails
    partly = REGISTRY.verdict("01.2", ..., 0)
    stored_notebook(tmp_path / "02_bad.ipynb", 'check("01.2", coffee_shape, coffee[0, 0] if coffee_shape is not ... else 0)',
                    partly)
    # two checks in one cell: a failing item says how to lay exercises out
    twice = notebook_of("from helpers.exercises import check\nx = ...", 'check("01.2", x, x)\ncheck("01.3", x)')
    twice.cells[0].execution_count, twice.cells[1].execution_count = 1, None
    nbformat.write(twice, tmp_path / "03_twice.ipynb")
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "tools.exercise_proof", "--nbval",
                             "--nbval-current-env", "-p", "no:cacheprovider", "-q", "-rA", "01_good.ipynb",
                             "02_bad.ipynb", "03_twice.ipynb"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "PYTHONPATH": str(project_root())})
    lines = result.stdout.splitlines()
    passed = [line.removeprefix("PASSED ") for line in lines if line.startswith("PASSED ")]
    failed = [line.split(" - ")[0].removeprefix("FAILED ") for line in lines if line.startswith("FAILED ")]
    assert passed == ["01_good.ipynb::Cell 0", "01_good.ipynb::Cell 1", "01_good.ipynb::Cell 2",
                      "01_good.ipynb::exercise 01.2 reference solution", "02_bad.ipynb::Cell 0",
                      "02_bad.ipynb::Cell 1", "02_bad.ipynb::Cell 2", "03_twice.ipynb::Cell 0",
                      "03_twice.ipynb::Cell 1"], result.stdout
    assert failed == ["02_bad.ipynb::exercise 01.2 reference solution", "03_twice.ipynb::exercise cells"], result.stdout
    assert "the reference solution of 01.2 did not pass its check: 01.2 not yet: [" in result.stdout
    assert "cell 1 checks ['01.2', '01.3']: give each exercise a check cell of its own" in result.stdout
    assert "2 failed, 9 passed" in result.stdout


def test_without_nbval_no_proofs_are_added(tmp_path):
    (tmp_path / "test_plain.py").write_text("def test_one():\n    pass\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "tools.exercise_proof", "-p", "no:cacheprovider",
                             "-q", "test_plain.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(project_root())})
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr
