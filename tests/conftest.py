"""Shared pytest set-up: no network, a headless plot backend, and a clean course environment per test."""

import contextlib
import io
import ipaddress
import socket
import tarfile
import zipfile

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

NETWORK_DISABLED = "network disabled in unit tests"


def is_loopback(address) -> bool:
    """True for a connect() address on this machine: 127.0.0.0/8, ::1, 'localhost', or a Unix socket path."""
    if isinstance(address, (str, bytes)):  # AF_UNIX
        return True
    host = address[0].decode() if isinstance(address[0], bytes) else str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:  # a host name other than localhost
        return False


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any connection to a non-loopback address fails at once, so an accidental download fails the test.

    Returns the check it applies (address -> allowed), for the tests of the guard itself.
    """
    connect, connect_ex, create_connection = socket.socket.connect, socket.socket.connect_ex, socket.create_connection

    def guarded_connect(self, address):
        if not is_loopback(address):
            raise OSError(NETWORK_DISABLED)
        return connect(self, address)

    def guarded_connect_ex(self, address):
        if not is_loopback(address):
            raise OSError(NETWORK_DISABLED)
        return connect_ex(self, address)

    def guarded_create_connection(address, *args, **kwargs):
        if not is_loopback(address):
            raise OSError(NETWORK_DISABLED)
        return create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "create_connection", guarded_create_connection)
    return is_loopback


@pytest.fixture(autouse=True)
def course_env(monkeypatch, tmp_path):
    """Fast, offline, with the data folder in tmp_path and no benchmark file; returns tmp_path."""
    monkeypatch.setenv("COURSE_FAST", "1")
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("COURSE_BENCHMARK_FILE", raising=False)
    return tmp_path


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every figure a test opened."""
    yield
    plt.close("all")


@pytest.fixture
def rng():
    """A random generator of this test's own, seeded the same every run."""
    return np.random.default_rng(1234)


@pytest.fixture
def write_jpeg():
    """A writer of small valid JPEGs: write_jpeg(path, size=(w, h), colour=(r, g, b)) -> path."""
    from PIL import Image

    def write(path, size=(20, 16), colour=(200, 30, 30)):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, colour).save(path, quality=90)
        return path

    return write


@pytest.fixture
def make_archive():
    """A packer: make_archive(archive_path, {member name: bytes}) writes a .tgz, .tar or .zip by its suffix."""

    def make(archive, members):
        archive.parent.mkdir(parents=True, exist_ok=True)
        if archive.suffix == ".zip":
            with zipfile.ZipFile(archive, "w") as handle:
                for name, data in members.items():
                    handle.writestr(name, data)
            return archive
        with tarfile.open(archive, "w:gz" if archive.suffix == ".tgz" else "w") as handle:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                handle.addfile(info, io.BytesIO(data))
        return archive

    return make


@pytest.fixture
def silent_listener():
    """A local TCP port that accepts connections and never answers: (host, port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()


@pytest.fixture
def remote(tmp_path):
    """A 'server' folder in tmp_path: remote(name, data) writes a file there and returns its file:// URL."""
    folder = tmp_path / "remote"
    folder.mkdir()

    def put(name: str, data: bytes) -> str:
        (folder / name).write_bytes(data)
        return (folder / name).as_uri()

    put.folder = folder
    return put


class FakeServer:
    """A loopback HTTP server with programmable answers: add(path, body, ...) returns the file's URL.

    Every path not added answers 404 with a small HTML page. A route can answer any status, content type
    and extra headers, send fewer bytes than its Content-Length (`cut_at`) and then close the connection,
    and serves `Range: bytes=a-b` requests with 206 (`ranges=False` to ignore them, as some servers do).
    `requests` lists (method, path, headers) of every request received.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.routes: dict[str, dict] = {}
        self.requests: list[tuple[str, str, dict]] = []

    def add(self, path: str, body: bytes = b"", *, status: int = 200, content_type: str = "application/octet-stream",
            headers: dict | None = None, cut_at: int | None = None, ranges: bool = True) -> str:
        """Answer GET/HEAD of /`path` as described; return its URL."""
        self.routes["/" + path.lstrip("/")] = {"body": body, "status": status, "content_type": content_type,
                                               "headers": headers or {}, "cut_at": cut_at, "ranges": ranges}
        return self.url + path.lstrip("/")


def _fake_handler(server: FakeServer):
    """The request handler class of a FakeServer."""
    import http.server
    import re

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, head_only: bool) -> None:
            path = self.path.split("?", 1)[0]
            server.requests.append((self.command, self.path, dict(self.headers)))
            route = server.routes.get(path, {"body": b"<html><body>404 Not Found</body></html>", "status": 404,
                                             "content_type": "text/html", "headers": {}, "cut_at": None,
                                             "ranges": False})
            body, status, extra = route["body"], route["status"], dict(route["headers"])
            wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
            if wanted and status == 200 and route["ranges"]:
                first = int(wanted[1])
                last = min(int(wanted[2]) if wanted[2] else len(body) - 1, len(body) - 1)
                extra["Content-Range"] = f"bytes {first}-{last}/{len(body)}"
                body, status = body[first:last + 1], 206
            self.send_response(status)
            self.send_header("Content-Type", route["content_type"])
            self.send_header("Content-Length", str(len(body)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            if not head_only:
                self.wfile.write(body if route["cut_at"] is None else body[:route["cut_at"]])
            self.wfile.flush()
            self.close_connection = True

        def do_GET(self):
            self.answer(head_only=False)

        def do_HEAD(self):
            self.answer(head_only=True)

    return Handler


@contextlib.contextmanager
def serving(server):
    """Run an http.server in a background thread while the block runs; shut it down and close it after."""
    import threading

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(name="serving")
def serving_fixture():
    """The `serving` context manager, for tests that start a server of their own."""
    return serving


@pytest.fixture
def fake_server():
    """A FakeServer on 127.0.0.1, stopped after the test."""
    import http.server

    state = FakeServer("")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _fake_handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}/"
    with serving(server):
        yield state
