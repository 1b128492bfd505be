"""The learner's JupyterLab, for the browser test: start it as `./course lab` does, on a scratch copy of a chapter.

Used by tests/browser/ (`./course browser-test`): JupyterLab from this environment on a free loopback port
with a token, settings, workspaces and runtime files in a scratch folder, the notebook a copy with its
stored outputs cleared (so every output on the page comes from this run; JupyterLab's autosave writes only
the copy). The browser is Debian's Chromium driven by Playwright for Python; Playwright's own browser
download needs internet and is never used.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

# Headless, and nothing that phones home: without the networking flags Chromium keeps trying to reach its
# update and sync servers, which an offline machine refuses (many times a second).
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic")
CHROMIUM_ENV = "COURSE_CHROMIUM"
# What `./course lab` sets (quiet_env) besides the two switches the test fixes.
LAB_SETTINGS = {"TF_CPP_MIN_LOG_LEVEL": "3", "COURSE_FAST": "1", "COURSE_OFFLINE": "1"}
# Set for nbval and our tools' kernels, never in a learner's JupyterLab: the browser test must see what they see.
NOT_IN_LAB = ("PYTEST_CURRENT_TEST", "PYTHONWARNINGS", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_TESTRUNUID",
              "COURSE_HEADLESS")


def find_chromium() -> str | None:
    """The Chromium to drive: $COURSE_CHROMIUM, else `chromium` on the PATH or in /usr/bin; None if none."""
    chosen = os.environ.get(CHROMIUM_ENV)
    if chosen:
        return chosen if Path(chosen).is_file() and os.access(chosen, os.X_OK) else None
    return shutil.which("chromium") or ("/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None)


def skip_reason() -> str | None:
    """Why the browser test cannot run here (no Playwright, no Chromium, no JupyterLab), or None if it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed: run ./course setup (it installs requirements.lock)"
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        return "JupyterLab is not installed: run ./course setup"
    if find_chromium() is None:
        chosen = os.environ.get(CHROMIUM_ENV)
        if chosen:
            return f"{CHROMIUM_ENV}={chosen} is not an executable file"
        return ("no Chromium found (`chromium` on the PATH or /usr/bin/chromium): ./course browser-test installs "
                "Debian's package as root; elsewhere install it (sudo apt-get install chromium) or set "
                f"{CHROMIUM_ENV} to a Chromium or Chrome binary")
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def lab_environment(scratch: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """A learner's `./course lab` environment in fast, offline mode, with Jupyter's own folders in `scratch`.

    The data folder stays the learner's (data/, or COURSE_DATA_DIR if set), as in `./course lab`.
    """
    env = {key: value for key, value in (os.environ if base is None else base).items() if key not in NOT_IN_LAB}
    env.update(LAB_SETTINGS)
    env.update({"JUPYTER_CONFIG_DIR": str(scratch / "jupyter-config"), "JUPYTER_DATA_DIR": str(scratch / "jupyter-data"),
                "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"), "IPYTHONDIR": str(scratch / "ipython")})
    return env


def lab_command(port: int, token: str, root: Path, scratch: Path) -> list[str]:
    """`jupyter lab` from this environment, serving `root` on 127.0.0.1:`port` with `token`, app exposed to scripts."""
    jupyter = Path(sys.executable).with_name("jupyter")
    start = [str(jupyter)] if jupyter.exists() else [sys.executable, "-m", "jupyter"]
    as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []  # CI runs as root
    return [*start, "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True", f"--LabApp.user_settings_dir={scratch / 'lab-settings'}",
            f"--LabApp.workspaces_dir={scratch / 'lab-workspaces'}", *as_root]


class LabServer:
    """A JupyterLab server process serving a folder; a context manager that shuts it and its kernels down."""

    def __init__(self, root: Path, scratch: Path, startup_seconds: float = 60) -> None:
        self.root, self.scratch = Path(root), Path(scratch)
        self.port, self.token = free_port(), os.urandom(16).hex()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = self.scratch / "jupyterlab.log"
        self.startup_seconds = startup_seconds
        self.process: subprocess.Popen | None = None
        self.ready = False

    def __enter__(self) -> LabServer:
        self.scratch.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(lab_command(self.port, self.token, self.root, self.scratch),
                                            env=lab_environment(self.scratch), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def api(self, path: str, method: str = "GET", timeout: float = 5) -> object:
        """Call the server's REST API at `path` (e.g. 'api/status') with the token; the decoded JSON answer."""
        request = urllib.request.Request(self.url + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                self.api("api/status", timeout=2)
                self.ready = True
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.25)
        raise TimeoutError(f"JupyterLab did not answer within {self.startup_seconds:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        """The last lines JupyterLab wrote to its log."""
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    @staticmethod
    def _stat(pid: int | str) -> tuple[int, str] | None:
        """(parent pid, start time) of a process from Linux's /proc, or None if it is gone or unreadable."""
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return int(fields[1]), fields[19]

    def children(self) -> list[tuple[int, str]]:
        """(pid, start time) of the server's child processes, its kernels (Linux; empty elsewhere)."""
        if self.process is None:
            return []
        found = []
        for folder in Path("/proc").glob("[0-9]*"):
            stat = self._stat(folder.name)
            if stat and stat[0] == self.process.pid:
                found.append((int(folder.name), stat[1]))
        return found

    def stop(self, seconds: float = 15) -> None:
        """Ask the server to shut down with its kernels; end whatever of it is left (its kernels run in sessions of
        their own, so they are ended by process id)."""
        if self.process is None:
            return
        kernels = self.children()
        if self.process.poll() is None and self.ready:
            try:
                self.api("api/shutdown", method="POST")
                self.process.wait(seconds)
            except (urllib.error.URLError, ConnectionError, TimeoutError, subprocess.TimeoutExpired):
                pass
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        for pid, started in kernels:  # only a process that is still the same one (same start time)
            stat = self._stat(pid)
            if stat and stat[1] == started:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def scratch_chapter(path: Path, folder: Path) -> Path:
    """A copy of chapter `path` in `folder`, outputs cleared, with exercise cells (the registered ones if none)."""
    import nbformat

    from tools.exercise_proof import chapter_of, with_exercise_cells

    notebook, _ = with_exercise_cells(nbformat.read(path, as_version=4), chapter_of(path))
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / Path(path).name
    nbformat.write(notebook, target)
    return target


def _stderr_by_source(notebook) -> dict[str, str]:
    """Each code cell's stderr text, by the cell's source."""
    return {cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"]):
            "".join(output.get("text", "") if isinstance(output.get("text", ""), str) else "".join(output["text"])
                    for output in cell.get("outputs", [])
                    if output.get("output_type") == "stream" and output.get("name") == "stderr")
            for cell in notebook["cells"] if cell["cell_type"] == "code"}


def output_problems(ran: dict, stored: dict) -> list[str]:
    """Cells of `ran` (the browser's notebook JSON) not run, raising, or writing stderr that `stored` does not show.

    A cell's stderr is compared with the stored notebook's cell of the same source (a warning the chapter
    shows on purpose is fine); cells the stored notebook lacks must write none.
    """
    problems = []
    expected = _stderr_by_source(stored)
    got = _stderr_by_source(ran)
    for index, cell in enumerate(ran["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        first_line = source.strip().splitlines()[0][:60] if source.strip() else ""
        if cell.get("execution_count") is None:
            problems.append(f"cell {index} did not run: {first_line}")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                problems.append(f"cell {index} raised {output.get('ename')}: {output.get('evalue', '')[:200]}")
        if got.get(source) and got[source] != expected.get(source, ""):
            problems.append(f"cell {index} wrote to stderr: {got[source].strip()[:300]!r}")
    return problems


def image_cells(notebook: dict) -> list[int]:
    """Indices of the code cells that output a PNG or JPEG image."""
    return [index for index, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "code"
            and any(re.match(r"image/(png|jpeg)$", key) for output in cell.get("outputs", [])
                    for key in output.get("data", {}))]

