"""Unit tests of the course tooling in tools/: running notebooks like nbval, regenerating them, benchmarking."""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from helpers.benchmark_records import RECORDS_ENV
from helpers.paths import project_root
from tools import benchmark, execution, machine_speed, notebook_files, regenerate, run_tests, sweep


def write_notebook(path, *sources):
    """A notebook of code cells with a python3 kernelspec, written to `path`."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def printed(path, cell=-1):
    """The text a saved notebook's cell printed."""
    return "".join(output.get("text", "") for output in nbformat.read(path, as_version=4).cells[cell].outputs)


@pytest.fixture
def chapters(monkeypatch, tmp_path):
    """A notebooks folder in tmp_path with three chapters and two files that are not chapters."""
    folder = tmp_path / "notebooks"
    for name in ("02_kernels.ipynb", "01_pixels.ipynb", "10_more.ipynb", "scratch.ipynb", "1_short.ipynb"):
        write_notebook(folder / name, "print('hi')")
    monkeypatch.setattr(execution, "notebooks_dir", lambda: folder)
    return folder


# --- execution ----------------------------------------------------------------------------


def test_notebooks_dir_is_the_course_notebooks_folder():
    assert execution.notebooks_dir() == project_root() / "notebooks"


def test_chapter_notebooks_are_ordered_and_only_chapters(chapters):
    assert [p.name for p in execution.chapter_notebooks()] == ["01_pixels.ipynb", "02_kernels.ipynb", "10_more.ipynb"]
    assert execution.chapter_notebooks([]) == execution.chapter_notebooks()


def test_chapter_notebooks_filter_by_parts_of_names(chapters):
    assert [p.name for p in execution.chapter_notebooks(["02"])] == ["02_kernels.ipynb"]
    assert [p.name for p in execution.chapter_notebooks(["more", "pix"])] == ["01_pixels.ipynb", "10_more.ipynb"]
    assert [p.name for p in execution.chapter_notebooks(["0"])] == ["01_pixels.ipynb", "02_kernels.ipynb",
                                                                    "10_more.ipynb"]


def test_chapter_notebooks_name_the_parts_that_match_nothing(chapters):
    with pytest.raises(FileNotFoundError, match=r"no notebook in .*notebooks matches \['scratch', 'nope'\]"):
        execution.chapter_notebooks(["01", "scratch", "nope"])


def test_notebook_environment_uses_the_given_base_and_sets_nbvals_variables(monkeypatch):
    monkeypatch.setenv("FROM_OS", "1")
    env = execution.notebook_environment(fast=True, offline=False, extra={"X": "1", "COURSE_OFFLINE": "1"},
                                         base={"PATH": "/bin", "COURSE_FAST": "0"})
    assert env == {"PATH": "/bin", "COURSE_FAST": "1", "COURSE_OFFLINE": "1", "PYTEST_CURRENT_TEST": "1",
                   "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore", "COURSE_HEADLESS": "1", "X": "1"}
    env = execution.notebook_environment(fast=False, offline=True)
    assert env["FROM_OS"] == "1" and env["COURSE_FAST"] == "0" and env["COURSE_OFFLINE"] == "1"
    assert os.environ.get("PYTEST_CURRENT_TEST") != "1"  # a copy: the test process is not changed


def test_execute_notebook_runs_in_its_own_environment_and_leaves_ours_alone(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_FAST", "0")
    path = write_notebook(tmp_path / "01_probe.ipynb", "import os",
                          "print(os.environ['COURSE_FAST'], os.environ['COURSE_OFFLINE'], os.environ['Y'])")
    before = dict(os.environ)
    run = execution.execute_notebook(path, fast=True, offline=False, save=True, timeout=120, extra_env={"Y": "yes"})
    assert dict(os.environ) == before
    assert run.seconds > 0 and printed(path) == "1 0 yes\n"
    assert notebook_files.metadata_problems(nbformat.read(path, as_version=4)) == []  # saved without timestamps
    unsaved = write_notebook(tmp_path / "02_unsaved.ipynb", "print(1)")
    execution.execute_notebook(unsaved, fast=True, offline=True, save=False, timeout=120)
    assert printed(unsaved) == ""  # save=False leaves the file as it was


def test_execute_notebook_returns_the_executed_notebook_with_each_cells_time(tmp_path):
    path = write_notebook(tmp_path / "03_timed.ipynb", "import time; time.sleep(0.3)", "x = 1")
    run = execution.execute_notebook(path, fast=True, offline=True, save=True, timeout=120)
    times = execution.cell_seconds(run.notebook)
    assert sorted(times) == [0, 1] and 0.3 <= times[0] < 5 and 0 <= times[1] < times[0]
    assert execution.cell_seconds(nbformat.read(path, as_version=4)) == {}  # the saved file keeps no timestamps


def test_cell_seconds_skips_markdown_and_cells_never_run():
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# t"), nbformat.v4.new_code_cell("1"),
                      nbformat.v4.new_code_cell("2")]
    notebook.cells[2].metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00.5Z",
                                               "shell.execute_reply": "2026-01-01T00:00:02.000000Z"}
    assert execution.cell_seconds(notebook) == {2: 1.5}


# --- regenerate ------------------------------------------------------------------------------


def test_regenerate_rewrites_the_chosen_notebooks_in_fast_offline_mode_on_perturbed_arithmetic(chapters, capsys,
                                                                                                course_env):
    (course_env / "data" / "debian").mkdir(parents=True)
    write_notebook(chapters / "02_kernels.ipynb", "import os",
                   "print(os.environ['COURSE_FAST'], os.environ['COURSE_OFFLINE'], os.environ['ONEDNN_MAX_CPU_ISA'])",
                   "print(os.environ['COURSE_DATA_DIR'], os.path.isdir(os.path.join(os.environ['COURSE_DATA_DIR'], 'debian')))")
    assert regenerate.main(["02"]) == 0
    assert printed(chapters / "02_kernels.ipynb", cell=1) == "1 1 AVX\n"
    assert printed(chapters / "02_kernels.ipynb") == f"{course_env / 'data' / 'regen-perturbed'} True\n"
    assert printed(chapters / "01_pixels.ipynb") == ""  # not chosen, not run
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("arithmetic: TF_ENABLE_ONEDNN_OPTS=0 ONEDNN_MAX_CPU_ISA=AVX")
    assert out[1] == "regenerating 02_kernels.ipynb ..." and out[2].startswith("  done in ") and len(out) == 3
    assert nbformat.read(chapters / "02_kernels.ipynb", as_version=4).metadata["kernelspec"] == notebook_files.KERNELSPEC


def test_perturbed_arithmetic_limits_onednn_and_numpy_below_this_cpus_top_level(monkeypatch):
    from numpy._core import _multiarray_umath as umath

    monkeypatch.setattr(umath, "__cpu_dispatch__", ["X86_V3", "X86_V4", "AVX512_ICL"])
    monkeypatch.setattr(umath, "__cpu_baseline__", ["X86_V2"])
    monkeypatch.setattr(umath, "__cpu_features__", {"X86_V2": True, "X86_V3": True, "X86_V4": False})
    assert execution.perturbed_arithmetic() == {"TF_ENABLE_ONEDNN_OPTS": "0", "ONEDNN_MAX_CPU_ISA": "AVX",
                                                "NPY_DISABLE_CPU_FEATURES": "X86_V3"}
    monkeypatch.setattr(umath, "__cpu_features__", {"X86_V2": True})
    assert "NPY_DISABLE_CPU_FEATURES" not in execution.perturbed_arithmetic()


def test_perturbed_arithmetic_really_changes_a_float_sum_in_numpy():
    """The NumPy setting is one NumPy accepts here: a fresh interpreter imports NumPy under it."""
    settings = execution.perturbed_arithmetic()
    result = subprocess.run([sys.executable, "-c", "import numpy; print('ok')"], capture_output=True, text=True,
                            timeout=60, env={**os.environ, **settings})
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_own_data_dir_is_under_the_data_folder_and_shares_unpacked_debian_data(course_env):
    first = execution.own_data_dir("sweep-seed-1")
    assert first == course_env / "data" / "sweep-seed-1" and not (first / "debian").exists()
    (course_env / "data" / "debian").mkdir()
    second = execution.own_data_dir("sweep-seed-2")
    assert (second / "debian").resolve() == (course_env / "data" / "debian").resolve()
    assert execution.own_data_dir("sweep-seed-2") == second      # a second call keeps the link


# --- notebook files ----------------------------------------------------------------------------


def messy_notebook():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title"),
                                               nbformat.v4.new_code_cell("# ## 6. Test accuracy\nx = 1")])
    notebook.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                         "language_info": {"name": "python", "version": "3.11.7"}, "jupytext": {"formats": "py"}}
    notebook.cells[1].metadata = {"execution": {"iopub.execute_input": "2026-11-29T22:00:00Z"},
                                  "lines_to_next_cell": 2, "tags": ["keep"]}
    return notebook


def test_metadata_problems_names_each_volatile_field_and_clean_metadata_removes_them():
    notebook = messy_notebook()
    problems = notebook_files.metadata_problems(notebook)
    assert len(problems) == 3 and "kernelspec" in problems[0]
    assert "jupytext" in problems[1] and "language_info.version" in problems[1]
    assert "execution (cell 1)" in problems[2] and "lines_to_next_cell (cell 1)" in problems[2]
    cleaned = notebook_files.clean_metadata(notebook)
    assert notebook_files.metadata_problems(cleaned) == []
    assert cleaned.cells[1].metadata == {"tags": ["keep"]} and cleaned.metadata["language_info"] == {"name": "python"}


def test_headings_in_code_cells_are_found_and_ordinary_comments_are_not():
    notebook = messy_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell("# a comment\n#not a heading\nx = '# ## in a string'"))
    assert notebook_files.headings_in_code(notebook) == ["cell 1: # ## 6. Test accuracy"]


# --- sweep ---------------------------------------------------------------------------------------


def test_sweep_runs_every_seed_in_its_own_data_folder_and_lists_every_failing_cell(chapters, course_env, capsys):
    write_notebook(chapters / "01_pixels.ipynb", "import helpers, os\nseed = helpers.seed()",
                   "assert seed != 1, f'seed {seed}'", "assert os.environ['COURSE_DATA_DIR'].endswith(f'sweep-seed-{seed}')",
                   "assert seed != 1 and seed != 2, 'second'")
    out_file = course_env / "sweep.md"
    assert sweep.main(["01", "--seeds", "0", "1", "2", "--out", str(out_file)]) == 1
    text = out_file.read_text()
    row = [line for line in text.splitlines() if line.startswith("| 01_pixels")][0].split(" | ")
    assert row[1] == "pass"
    assert "cell 1: AssertionError: seed 1 at `assert seed != 1, f'seed {seed}'`" in row[2] and "cell 3:" in row[2]
    assert row[3].startswith("FAIL: cell 3: AssertionError: second")
    assert "01_pixels.ipynb seed 1: FAIL" in capsys.readouterr().out
    assert printed(chapters / "01_pixels.ipynb") == ""               # the stored notebook was not touched


def test_sweep_passes_and_appends_a_partial_run_to_the_earlier_table(chapters, course_env):
    out_file = course_env / "sweep.md"
    out_file.write_text("# Seed sweep, fast mode\n\nearlier table\n")
    assert sweep.main(["02", "--seeds", "3", "--out", str(out_file)]) == 0
    text = out_file.read_text()
    assert text.startswith("# Seed sweep, fast mode\n\nearlier table\n") and "| 02_kernels.ipynb | pass |" in text


def test_full_sweep_runs_in_full_mode_in_its_own_folders_and_prints_the_records(chapters, course_env, capsys):
    write_notebook(chapters / "01_pixels.ipynb", "import helpers, os\nfrom helpers import benchmark_records",
                   "assert helpers.pick(fast=1, full=2) == 2, 'not full mode'",
                   "assert os.environ['COURSE_DATA_DIR'].endswith('sweep-full-seed-4')",
                   "benchmark_records.record('01', seed_seen=helpers.seed())")
    out_file = course_env / "sweep-full.md"
    assert sweep.main(["01", "--seeds", "4", "--full", "--out", str(out_file)]) == 0
    text = out_file.read_text()
    assert text.startswith("# Seed sweep, full mode") and "--seeds 4 --full`" in text
    assert "- 01_pixels.ipynb seed 4: 01/seed_seen = 4" in text
    assert "records: 01/seed_seen = 4" in capsys.readouterr().out


def test_sweep_rejects_negative_seeds(chapters):
    with pytest.raises(SystemExit):
        sweep.main(["01", "--seeds", "-1"])


def test_regenerate_of_an_unknown_chapter_is_an_error(chapters):
    with pytest.raises(FileNotFoundError, match="matches \\['99'\\]"):
        regenerate.main(["99"])


# --- benchmark -------------------------------------------------------------------------------


def row(notebook, seconds, records=None, status="ok", speed=None):
    return {"notebook": notebook, "status": status, "seconds": seconds, "records": records or {},
            **({"machine_speed_s": speed} if speed else {})}


def test_write_results_writes_markdown_and_json_keeping_notebooks_not_rerun(tmp_path):
    old = [row("01_a.ipynb", 10.0, {"01/pixels": 4}), {**row("02_b.ipynb", 30.0), "machine_speed_s": 3.0},
           {"notebook": "03_c.ipynb", "status": "ok", "seconds": 8.0, "metrics": {"03/test_accuracy": 0.98}}]
    (tmp_path / "results-fast.json").write_text(json.dumps({"notebooks": old}))
    text = benchmark.write_results(tmp_path, "fast", False, [{**row("01_a.ipynb", 30.0, {"01/pixels": 5}, speed=2.5),
                                                              "slowest_cells": [[4, 20.04], [2, 5.0]]}])
    saved = json.loads((tmp_path / "results-fast.json").read_text())
    assert saved["mode"] == "fast" and saved["online"] is False and saved["machine"] == benchmark.machine()
    assert [r["notebook"] for r in saved["notebooks"]] == ["01_a.ipynb", "02_b.ipynb", "03_c.ipynb"]
    assert saved["notebooks"][0] == {**row("01_a.ipynb", 30.0, {"01/pixels": 5}, speed=2.5),
                                     "slowest_cells": [[4, 20.04], [2, 5.0]]}
    assert saved["notebooks"][1]["machine_speed_s"] == 3.0  # a kept row keeps its own machine speed
    assert (tmp_path / "results-fast.md").read_text() == text
    lines = text.splitlines()
    assert lines[0] == "# Benchmark, fast mode" and "offline" in lines[2]
    assert "| 01_a.ipynb | ok | 30.0 | 2.5 | 12.0 | 4: 20 s, 2: 5 s | 01/pixels = 5 |" in lines
    assert "| 02_b.ipynb | ok | 30.0 | 3.0 | 10.0 | — | — |" in lines
    assert "| 03_c.ipynb | ok | 8.0 | — | — | — | 03/test_accuracy = 0.98 |" in lines
    assert lines[-1] == "| **total** | | 68.0 | | | | |"


def test_write_results_without_earlier_results(tmp_path):
    text = benchmark.write_results(tmp_path / "new", "full", True,
                                   [row("01_a.ipynb", 5.0, status="failed: cell 3: a | b", speed=2.0)])
    assert "| 01_a.ipynb | failed: cell 3: a \\| b | 5.0 | 2.0 | 2.5 | — | — |" in text and "; online;" in text
    assert json.loads((tmp_path / "new" / "results-full.json").read_text())["online"] is True


def test_machine_describes_cores_and_python():
    assert f"{os.cpu_count()} CPU cores" in benchmark.machine() and "Python 3." in benchmark.machine()


def test_machine_speed_runs_the_measurement_in_a_fresh_process_and_reads_its_last_line(monkeypatch):
    calls = []

    def fake_run(command, **kwargs):
        calls.append((command, kwargs))
        return SimpleNamespace(stdout="some notice\n3.21\n")

    monkeypatch.setattr(benchmark.subprocess, "run", fake_run)
    assert benchmark.machine_speed() == 3.21
    (command, kwargs), = calls
    assert command == [sys.executable, "-m", "tools.machine_speed"]
    assert kwargs["cwd"] == project_root() and kwargs["env"]["TF_CPP_MIN_LOG_LEVEL"] == "3" and kwargs["check"]


def test_machine_speed_measure_times_a_small_training(monkeypatch):
    monkeypatch.setattr(machine_speed, "SAMPLES", 64)
    monkeypatch.setattr(machine_speed, "EPOCHS", 1)
    assert 0 < machine_speed.measure() < 60


def test_run_one_runs_a_copy_and_collects_its_records_and_slowest_cells(tmp_path):
    original = write_notebook(tmp_path / "03_x.ipynb", "import time; time.sleep(0.5)",
                              "from helpers import benchmark_records\nbenchmark_records.record('03', test_accuracy=0.9)")
    (tmp_path / "scratch").mkdir()
    result = benchmark.run_one(original, tmp_path / "scratch", full=False, online=False)
    assert result["notebook"] == "03_x.ipynb" and result["status"] == "ok" and result["seconds"] > 0.5
    assert result["records"] == {"03/test_accuracy": 0.9}
    assert [index for index, _ in result["slowest_cells"]] == [0, 1] and result["slowest_cells"][0][1] >= 0.5
    assert printed(original) == ""  # the original is not touched


def test_run_one_runs_every_cell_and_names_each_failing_one(tmp_path):
    path = write_notebook(tmp_path / "04_y.ipynb", "assert 1 == 2, 'one is not two'", "x = 1",
                          "import os; open(os.environ['MARK'], 'w').write('ran')", "1 / 0")
    (tmp_path / "scratch").mkdir()
    mark = tmp_path / "mark"
    result = benchmark.run_one(path, tmp_path / "scratch", full=True, online=True, extra_env={"MARK": str(mark)})
    assert result["status"].startswith("failed: cell 0: AssertionError: one is not two")
    assert "; cell 3: ZeroDivisionError" in result["status"] and mark.read_text() == "ran"
    assert len(result["slowest_cells"]) == 3  # timed although cells failed


def test_run_one_reports_a_kernel_that_fails_instead_of_stopping(monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        raise RuntimeError("kernel died")

    monkeypatch.setattr(benchmark, "execute_notebook", broken)
    (tmp_path / "scratch").mkdir()
    result = benchmark.run_one(write_notebook(tmp_path / "04_y.ipynb", "1"), tmp_path / "scratch", True, True)
    assert result["status"] == "failed: RuntimeError" and result["records"] == {} and result["slowest_cells"] == []


def test_benchmark_main_runs_the_chosen_chapters_and_fails_if_one_failed(chapters, monkeypatch, tmp_path, capsys):
    ran, speeds = [], iter([2.0, 3.0, 4.0])

    def fake_run_one(path, scratch, full, online, extra_env):
        ran.append((path.name, full, online, extra_env))
        return row(path.name, 4.0, status="ok" if path.name.startswith("01") else "failed: RuntimeError")

    monkeypatch.setattr(benchmark, "machine_speed", lambda: next(speeds))
    monkeypatch.setattr(benchmark, "run_one", fake_run_one)
    assert benchmark.main(["01", "--out", str(tmp_path / "out")]) == 0
    assert benchmark.main(["01", "02", "--full", "--online", "--out", str(tmp_path / "out")]) == 1
    assert ran == [("01_pixels.ipynb", False, False, {}), ("01_pixels.ipynb", True, True, {}),
                   ("02_kernels.ipynb", True, True, {})]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["results-fast.json", "results-fast.md",
                                                                    "results-full.json", "results-full.md"]
    full = json.loads((tmp_path / "out" / "results-full.json").read_text())["notebooks"]
    assert [r["machine_speed_s"] for r in full] == [3.0, 4.0]  # measured before each notebook
    assert "01_pixels.ipynb (fast; machine speed 2.00 s)" in capsys.readouterr().out


def test_benchmark_standins_run_full_offline_only(chapters, monkeypatch, tmp_path):
    ran = []
    monkeypatch.setattr(benchmark, "machine_speed", lambda: 2.0)
    monkeypatch.setattr(benchmark, "run_one", lambda path, scratch, full, online, extra_env: ran.append(extra_env)
                        or row(path.name, 1.0))
    assert benchmark.main(["01", "--full", "--standins", "--out", str(tmp_path)]) == 0
    assert ran == [{"COURSE_MNIST_TIMING_STANDIN": "1", "COURSE_FLOWERS_TIMING_STANDIN": "1"}]
    assert json.loads((tmp_path / "results-full.json").read_text())["notebooks"][0]["standins"] is True
    assert "| 01_pixels.ipynb (stand-ins) | ok | 1.0 |" in (tmp_path / "results-full.md").read_text()
    for wrong in (["01", "--standins"], ["01", "--full", "--online", "--standins"]):
        with pytest.raises(SystemExit):
            benchmark.main([*wrong, "--out", str(tmp_path)])


def test_tools_run_as_modules_from_the_repository_root():
    result = subprocess.run([sys.executable, "-m", "tools.regenerate", "--help"], cwd=project_root(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "./course regen" in result.stdout


# --- run_tests -------------------------------------------------------------------------------------


def test_run_tests_runs_pytest_with_the_notebook_environment(monkeypatch):
    calls = []
    monkeypatch.setattr(os, "execve", lambda path, args, env: calls.append((path, args, env)))
    assert run_tests.main(["-q", "tests"]) == 1
    path, args, env = calls[0]
    assert path == sys.executable and args == [sys.executable, "-m", "pytest", "-q", "tests"]
    assert env == execution.notebook_environment(fast=True, offline=True)


def test_plain_pytest_from_the_repository_root_imports_tools():
    """The `pytest` script, unlike `python -m pytest`, does not put the current folder on sys.path."""
    script = Path(sys.executable).parent / "pytest"
    result = subprocess.run([str(script), "-q", "-p", "no:cacheprovider", "--co", "tests/test_tools.py"], cwd=project_root(), capture_output=True, text=True, timeout=120,
                            env={key: value for key, value in os.environ.items() if key != "PYTHONPATH"})
    assert result.returncode == 0 and "ModuleNotFoundError" not in result.stdout, result.stdout[-2000:]
