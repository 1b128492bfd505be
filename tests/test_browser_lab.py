"""Unit tests of tools.browser_lab: finding Chromium, the skip reasons, the learner's JupyterLab environment and
command, the server's start and shutdown (against a stand-in server), the scratch chapter, and what counts as a
problem in the notebook a browser ran."""

import os
import socket
import stat
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from tools import browser_lab
from tools.execution import chapter_notebooks
from tools.exercise_proof import find_exercise_cells


def executable(path):
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_find_chromium_prefers_the_variable_then_the_path(monkeypatch, tmp_path):
    chosen = executable(tmp_path / "my-chrome")
    monkeypatch.setenv(browser_lab.CHROMIUM_ENV, str(chosen))
    assert browser_lab.find_chromium() == str(chosen)
    monkeypatch.setenv(browser_lab.CHROMIUM_ENV, str(tmp_path / "missing"))
    assert browser_lab.find_chromium() is None
    monkeypatch.delenv(browser_lab.CHROMIUM_ENV)
    (tmp_path / "bin").mkdir()
    on_path = executable(tmp_path / "bin" / "chromium")
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert browser_lab.find_chromium() == str(on_path)


def test_skip_reasons_say_what_is_missing_and_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv(browser_lab.CHROMIUM_ENV, str(tmp_path / "nothing"))
    assert browser_lab.skip_reason() == f"{browser_lab.CHROMIUM_ENV}={tmp_path / 'nothing'} is not an executable file"
    monkeypatch.delenv(browser_lab.CHROMIUM_ENV)
    monkeypatch.setattr(browser_lab, "find_chromium", lambda: None)
    assert browser_lab.skip_reason().startswith("no Chromium found (`chromium` on the PATH or /usr/bin/chromium)")
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
    assert browser_lab.skip_reason() == ("Playwright for Python is not installed: run ./course setup "
                                         "(it installs requirements.lock)")
    monkeypatch.setitem(sys.modules, "playwright.sync_api", sys)  # any module will do
    monkeypatch.setattr(browser_lab, "find_chromium", lambda: "/usr/bin/chromium")
    assert browser_lab.skip_reason() is None


def test_free_port_can_be_bound():
    port = browser_lab.free_port()
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
    assert 1024 <= port < 65536


def test_the_lab_environment_is_a_learners_in_fast_offline_mode_with_folders_in_scratch(tmp_path):
    base = {"PATH": "/bin", "PYTEST_CURRENT_TEST": "x", "PYTHONWARNINGS": "ignore", "COURSE_FAST": "0", "HOME": "/h"}
    env = browser_lab.lab_environment(tmp_path, base)
    assert "PYTEST_CURRENT_TEST" not in env and "PYTHONWARNINGS" not in env
    assert env["PATH"] == "/bin" and env["HOME"] == "/h"
    assert {key: env[key] for key in browser_lab.LAB_SETTINGS} == {"TF_CPP_MIN_LOG_LEVEL": "3", "COURSE_FAST": "1",
                                                                    "COURSE_OFFLINE": "1"}
    for key in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        assert env[key].startswith(str(tmp_path))
    assert "COURSE_DATA_DIR" not in env  # the learner's data folder, as in ./course lab
    assert browser_lab.lab_environment(tmp_path, {"COURSE_DATA_DIR": "/d"})["COURSE_DATA_DIR"] == "/d"


def test_the_lab_command_serves_the_folder_on_loopback_with_a_token(tmp_path):
    command = browser_lab.lab_command(8123, "secret", tmp_path / "nb", tmp_path / "lab")
    assert command[0].endswith("jupyter") or command[1:3] == ["-m", "jupyter"]
    assert "lab" in command and "--no-browser" in command
    for flag in ("--ServerApp.ip=127.0.0.1", "--ServerApp.port=8123", "--ServerApp.port_retries=0",
                 "--IdentityProvider.token=secret", f"--ServerApp.root_dir={tmp_path / 'nb'}",
                 "--LabApp.expose_app_in_browser=True"):
        assert flag in command
    assert ("--allow-root" in command) == (os.geteuid() == 0)  # JupyterLab refuses root without it (CI is root)


STAND_IN = textwrap.dedent("""
    import http.server, json, sys, threading
    port = int(sys.argv[sys.argv.index("--port") + 1])

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self):
            ok = self.headers.get("Authorization") == "token " + sys.argv[sys.argv.index("--token") + 1]
            self.send_response(200 if ok else 403)
            self.end_headers()
            self.wfile.write(b"{}")

        def do_GET(self):
            self.answer()

        def do_POST(self):
            self.answer()
            threading.Thread(target=server.shutdown).start()

    import subprocess
    kernel = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    print("stand-in serving; kernel", kernel.pid, flush=True)
    server = http.server.HTTPServer(("127.0.0.1", port), Handler)
    server.serve_forever()
""")


def alive(pid):
    """True while process `pid` runs (a zombie, killed and waiting to be reaped, does not count)."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stand_in_command(script):
    return lambda port, token, root, scratch: [sys.executable, str(script), "--port", str(port), "--token", token]


def test_the_server_starts_answers_with_its_token_and_shuts_down(monkeypatch, tmp_path):
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN)
    monkeypatch.setattr(browser_lab, "lab_command", stand_in_command(script))
    with browser_lab.LabServer(tmp_path / "nb", tmp_path / "lab", startup_seconds=30) as server:
        assert server.api("api/status") == {} and server.url == f"http://127.0.0.1:{server.port}/"
        process = server.process
    assert process.returncode == 0 and "stand-in serving" in server.log_tail()
    kernel = int(server.log_tail().split("kernel ")[1].split()[0])  # a child in a session of its own, left running
    deadline = time.monotonic() + 5
    while alive(kernel) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(kernel), "the server's kernel was left running"


def test_a_server_that_dies_or_never_answers_is_a_clear_error_and_leaves_nothing_running(monkeypatch, tmp_path):
    monkeypatch.setattr(browser_lab, "lab_command",
                        lambda *args: [sys.executable, "-c", "print('port in use'); raise SystemExit(3)"])
    with pytest.raises(RuntimeError, match="JupyterLab exited with code 3:\nport in use"):
        browser_lab.LabServer(tmp_path / "nb", tmp_path / "lab").__enter__()
    monkeypatch.setattr(browser_lab, "lab_command", lambda *args: [sys.executable, "-c", "import time; time.sleep(60)"])
    server = browser_lab.LabServer(tmp_path / "nb", tmp_path / "lab2", startup_seconds=1)
    with pytest.raises(TimeoutError, match="JupyterLab did not answer within 1 s"):
        server.__enter__()
    assert server.process.poll() is not None


def test_the_scratch_chapter_is_a_copy_without_outputs_and_with_exercise_cells(tmp_path):
    (path,) = chapter_notebooks(["01_"])
    copy = browser_lab.scratch_chapter(path, tmp_path / "nb")
    assert copy == tmp_path / "nb" / path.name
    notebook = nbformat.read(copy, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert [item.id for item in find_exercise_cells(notebook)][:2] == ["01.1", "01.2"]


def cell(source, outputs=(), count=1):
    return {"cell_type": "code", "source": source, "execution_count": count, "outputs": list(outputs), "metadata": {}}


def stderr(text):
    return {"output_type": "stream", "name": "stderr", "text": text}


def test_output_problems_are_errors_cells_not_run_and_stderr_the_stored_notebook_lacks():
    stored = {"cells": [cell("warn()", [stderr("Clipping input data\n")]), cell("x = 1"), cell("y = 2")]}
    ran = {"cells": [cell("warn()", [stderr("Clipping input data\n")]), cell("x = 1", [stderr("oneDNN notice\n")]),
                     cell(["y = ", "2"], [{"output_type": "error", "ename": "NameError", "evalue": "z"}]),
                     cell("check()", count=None), {"cell_type": "markdown", "source": "# t", "metadata": {}}]}
    assert browser_lab.output_problems(ran, stored) == ["cell 1 wrote to stderr: 'oneDNN notice'",
                                                        "cell 2 raised NameError: z", "cell 3 did not run: check()"]
    assert browser_lab.output_problems(stored, stored) == []


def test_image_cells_are_the_cells_with_a_png_or_jpeg():
    notebook = {"cells": [cell("a", [{"output_type": "display_data", "data": {"image/png": "x", "text/plain": "f"}}]),
                          cell("b", [{"output_type": "display_data", "data": {"text/plain": "f"}}]),
                          cell("c", [{"output_type": "execute_result", "data": {"image/jpeg": "x"}}])]}
    assert browser_lab.image_cells(notebook) == [0, 2]
