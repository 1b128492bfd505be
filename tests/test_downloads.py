"""Unit tests of helpers.downloads, end to end: real file:// and loopback http:// URLs, no outside network."""

import functools
import hashlib
import http.server
import socket
import ssl
import tarfile
import threading
import time
import urllib.error

import pytest

from helpers import downloads
from helpers.downloads import NotAvailableError


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def http_server(remote, serving):
    """A loopback HTTP server serving the `remote` folder; returns its base URL (http://127.0.0.1:port/)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Quiet, directory=str(remote.folder)))
    with serving(server):
        yield f"http://127.0.0.1:{server.server_address[1]}/"


def leftovers(course_env):
    """Files in the downloads cache (a failed fetch must leave neither the file nor a .partial)."""
    folder = course_env / "data" / "downloads"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- small pieces ------------------------------------------------------------------------


def test_socket_timeout_sets_and_restores_the_default():
    before = socket.getdefaulttimeout()
    with downloads.socket_timeout(2.5):
        assert socket.getdefaulttimeout() == 2.5
    assert socket.getdefaulttimeout() == before
    with pytest.raises(KeyError):
        with downloads.socket_timeout(1):
            raise KeyError("inside")
    assert socket.getdefaulttimeout() == before


@pytest.mark.parametrize("bad", [0, -1, "5", True, None])
def test_socket_timeout_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="timeout must be a positive number of seconds"):
        with downloads.socket_timeout(bad):
            pass


def test_sha256_of_a_file_and_check_sha256(tmp_path):
    data = b"x" * 3_000_000  # more than one read chunk
    (tmp_path / "f").write_bytes(data)
    assert downloads.sha256_of(tmp_path / "f") == sha(data)
    downloads.check_sha256(data, sha(data), "f")
    with pytest.raises(ValueError, match=f"checksum mismatch for f: SHA-256 {sha(data)}, expected 0{{64}}; "
                                         "the file is corrupt or truncated"):
        downloads.check_sha256(data, "0" * 64, "f")


def test_not_available_error_lists_every_place_and_the_fix():
    error = NotAvailableError("x.bin", ["cache: not there", "url: failed"], "connect once", failed=["url: failed"])
    assert str(error) == "x.bin is not available. Looked in:\n  - cache: not there\n  - url: failed\nTo provide it: connect once"
    assert isinstance(error, FileNotFoundError) and error.failed == ["url: failed"]
    assert "(nowhere)" in str(NotAvailableError("y", []))


# --- fetch ----------------------------------------------------------------------------------


def test_fetch_downloads_once_checks_the_checksum_then_uses_the_cache(remote, course_env):
    data = b"real data"
    url = remote("a.bin", data)
    path = downloads.fetch(url, "a.bin", sha256=sha(data), offline=False)
    assert path == course_env / "data" / "downloads" / "a.bin" and path.read_bytes() == data
    assert leftovers(course_env) == ["a.bin"]
    (remote.folder / "a.bin").unlink()  # the cache is used: neither the network nor the source is needed
    assert downloads.fetch(url, "a.bin", sha256=sha(data), offline=True) == path


def test_fetch_into_another_folder_without_a_published_checksum(remote, course_env):
    url = remote("b.bin", b"anything")
    path = downloads.fetch(url, "b.bin", sha256=None, folder="other", offline=False)
    assert path == course_env / "data" / "other" / "b.bin"
    path.write_bytes(b"changed")  # no checksum: the cached copy is trusted as it is
    assert downloads.fetch(url, "b.bin", sha256=None, folder="other", offline=True).read_bytes() == b"changed"


def test_fetch_checksum_mismatch_removes_the_file_and_names_url_and_mismatch(remote, course_env):
    url = remote("c.bin", b"tampered")
    with pytest.raises(NotAvailableError) as info:
        downloads.fetch(url, "c.bin", sha256="0" * 64, offline=False, provide="ask a teacher")
    error = info.value
    mismatch = f"{url}: checksum mismatch (SHA-256 {sha(b'tampered')[:12]}..., expected 000000000000...)"
    assert error.looked == ["<data>/downloads/c.bin: not there", mismatch] and error.failed == [mismatch]
    assert str(error).endswith(f"To provide it: {downloads.MISMATCH_ADVICE}; or ask a teacher")
    assert leftovers(course_env) == []


def test_fetch_replaces_a_corrupt_cached_copy(remote, course_env):
    data = b"good"
    url = remote("d.bin", data)
    cached = course_env / "data" / "downloads" / "d.bin"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"truncat")
    assert downloads.fetch(url, "d.bin", sha256=sha(data), offline=False).read_bytes() == data
    cached.write_bytes(b"truncat")
    with pytest.raises(NotAvailableError) as info:
        downloads.fetch(url, "d.bin", sha256=sha(data), offline=True)
    assert info.value.looked[0] == "<data>/downloads/d.bin: checksum mismatch, removed" and not cached.exists()


def test_fetch_rejects_a_bad_timeout_before_touching_anything(remote, course_env):
    for bad in (0, -1, True, "5"):
        with pytest.raises(ValueError, match="timeout must be a positive number"):
            downloads.fetch(remote("t.bin", b"x"), "t.bin", sha256=None, timeout=bad)


def test_fetch_offline_parameter_names_every_place_looked(remote, course_env):
    url = remote("e.bin", b"never read")
    with pytest.raises(NotAvailableError) as info:
        downloads.fetch(url, "e.bin", sha256=None, offline=True, provide="connect once")
    assert info.value.looked == ["<data>/downloads/e.bin: not there", f"{url}: not tried (offline)"]
    assert info.value.failed == []  # skipped, not failed
    assert str(info.value) == ("e.bin is not available. Looked in:\n  - <data>/downloads/e.bin: not there\n"
                               f"  - {url}: not tried (offline)\nTo provide it: {downloads.RECONNECT}; or connect once")
    assert leftovers(course_env) == []


def test_fetch_follows_course_offline_unless_told_otherwise(remote, monkeypatch):
    url = remote("f.bin", b"data")
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    with pytest.raises(NotAvailableError, match="not tried \\(COURSE_OFFLINE=1\\)"):
        downloads.fetch(url, "f.bin", sha256=None)
    assert downloads.fetch(url, "f.bin", sha256=None, offline=False).read_bytes() == b"data"
    monkeypatch.setenv("COURSE_OFFLINE", "0")
    (remote.folder / "f.bin").unlink()
    with pytest.raises(NotAvailableError, match="download failed \\(FileNotFoundError"):
        downloads.fetch(url, "g.bin", sha256=None)


def test_fetch_over_http_and_an_http_error(remote, http_server, course_env):
    remote("h.bin", b"served")
    assert downloads.fetch(http_server + "h.bin", "h.bin", sha256=sha(b"served"), offline=False).read_bytes() == b"served"
    with pytest.raises(NotAvailableError) as info:
        downloads.fetch(http_server + "missing.bin", "missing.bin", sha256=None, offline=False)
    assert info.value.failed == [f"{http_server}missing.bin: download failed (HTTP 404 Not Found: the server has no "
                                 "file at this address)"]
    assert leftovers(course_env) == ["h.bin"]


def test_fetch_gives_up_within_the_timeout_on_a_server_that_never_answers(silent_listener, course_env):
    host, port = silent_listener
    url = f"http://{host}:{port}/x"
    start = time.perf_counter()
    with pytest.raises(NotAvailableError) as info:
        downloads.fetch(url, "x", sha256=None, offline=False, timeout=1)
    assert time.perf_counter() - start < 1 + 3
    assert info.value.failed == [f"{url}: download failed (no answer within the timeout)"]
    assert leftovers(course_env) == []


def test_fetch_reports_progress_of_large_files_only_when_verbose(remote, capsys):
    data = bytes(21 * 2**20)
    url = remote("big.bin", data)
    downloads.fetch(url, "big.bin", sha256=sha(data), offline=False)
    assert capsys.readouterr().out.splitlines() == [f"  downloaded {n} of 21 MB" for n in (6, 11, 16, 21)]
    downloads.fetch(url, "quiet.bin", sha256=None, offline=False, verbose=False)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("filename", ["../x", "a/b", "/etc/passwd", "", ".", ".."])
def test_fetch_refuses_a_path_as_file_name(remote, filename, course_env):
    with pytest.raises(ValueError, match="filename must be a plain file name"):
        downloads.fetch(remote("x", b"x"), filename, sha256=None, offline=False)
    assert leftovers(course_env) == []


@pytest.mark.parametrize("digest", ["0" * 63, "0" * 65, "A" * 64, "g" * 64, "", sha(b"x")[:-1] + " "])
def test_fetch_refuses_a_malformed_sha256(remote, digest):
    with pytest.raises(ValueError, match="sha256 must be 64 lowercase hex digits"):
        downloads.fetch(remote("x", b"x"), "x", sha256=digest, offline=False)


# --- unpack ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".tgz", ".tar", ".zip"])
def test_unpack_extracts_tar_and_zip_archives_replacing_the_folder(tmp_path, make_archive, suffix):
    archive = make_archive(tmp_path / f"photos{suffix}", {"top/a.txt": b"a", "top/sub/b.txt": b"b"})
    into = tmp_path / "out"
    (into / "old").mkdir(parents=True)
    assert downloads.unpack(archive, into) == into
    assert sorted(p.relative_to(into).as_posix() for p in into.rglob("*.txt")) == ["top/a.txt", "top/sub/b.txt"]
    assert not (into / "old").exists() and not (tmp_path / "out.partial").exists()


def test_unpack_refuses_a_file_that_is_no_archive(tmp_path):
    junk = tmp_path / "photos.tgz"
    junk.write_bytes(b"<html>not found</html>")
    with pytest.raises(ValueError, match="photos.tgz is neither a tar nor a zip archive"):
        downloads.unpack(junk, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


@pytest.mark.parametrize("suffix, error", [(".zip", ValueError), (".tgz", tarfile.FilterError)])
def test_unpack_refuses_members_that_escape_the_folder(tmp_path, make_archive, suffix, error):
    archive = make_archive(tmp_path / "evil" / f"a{suffix}", {"ok.txt": b"ok", "../escaped.txt": b"bad"})
    into = tmp_path / "evil" / "out"
    into.mkdir()
    (into / "kept.txt").write_text("from before")
    with pytest.raises(error, match="escaped.txt"):
        downloads.unpack(archive, into)
    assert not (tmp_path / "evil" / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()
    assert [p.name for p in into.iterdir()] == ["kept.txt"]  # the old folder is untouched
    assert not (tmp_path / "evil" / "out.partial").exists()


# --- first_available -------------------------------------------------------------------------


def failing_download(tmp_path, name="data.bin"):
    """A source whose download really fails: a file:// URL to nothing."""
    return lambda: downloads.fetch((tmp_path / "nowhere" / name).as_uri(), name, sha256=None, offline=False)


def skipped_download(tmp_path, name="data.bin"):
    """A source that is skipped: offline."""
    return lambda: downloads.fetch((tmp_path / "nowhere" / name).as_uri(), name, sha256=None, offline=True)


def test_first_available_uses_the_first_source_that_works(capsys):
    result = downloads.first_available("data", [("cache", lambda: 1), ("other", lambda: 2)])
    assert result == (1, "cache") and capsys.readouterr().out == ""


def test_first_available_prints_a_banner_when_a_download_failed(tmp_path, capsys):
    result, label = downloads.first_available("MNIST", [("download", failing_download(tmp_path)),
                                                        ("offline copy", lambda: "offline arrays")])
    assert (result, label) == ("offline arrays", "offline copy")
    url = (tmp_path / "nowhere" / "data.bin").as_uri()
    out = capsys.readouterr().out
    assert out.startswith(f"NOTE MNIST: {url}: download failed (FileNotFoundError:")
    assert out.endswith(".\n     Using instead: offline copy.\n")


def test_first_available_prints_no_banner_when_a_download_was_only_skipped(tmp_path, capsys):
    assert downloads.first_available("MNIST", [("download", skipped_download(tmp_path)),
                                               ("offline copy", lambda: 3)]) == (3, "offline copy")
    assert downloads.first_available("MNIST", [("download", failing_download(tmp_path)),
                                               ("offline copy", lambda: 3)], verbose=False) == (3, "offline copy")
    assert capsys.readouterr().out == ""


def test_first_available_names_every_place_when_nothing_works(tmp_path):
    with pytest.raises(NotAvailableError) as info:
        downloads.first_available("data", [("download", failing_download(tmp_path)),
                                           ("mirror", skipped_download(tmp_path, "mirror.bin"))], provide="plug in")
    error = info.value
    assert error.what == "data" and error.provide == "plug in" and len(error.failed) == 1
    assert [place.split(": ")[-1] for place in error.looked][::2] == ["not there", "not there"]
    assert "mirror.bin: not tried (offline)" in str(error) and "download failed" in str(error)


def test_first_available_lets_other_errors_through_and_needs_sources():
    def corrupt():
        raise ValueError("checksum mismatch for x")

    with pytest.raises(ValueError, match="checksum mismatch"):
        downloads.first_available("data", [("cache", corrupt), ("other", lambda: 2)])
    with pytest.raises(ValueError, match="no sources given for data"):
        downloads.first_available("data", [])


# --- MD5 instead of SHA-256 (Keras publishes only MD5s for its weight files) -------------------


def test_fetch_checks_an_md5_when_only_an_md5_is_published(remote, course_env):
    data = b"weights"
    url = remote("w.h5", data)
    md5 = hashlib.md5(data).hexdigest()
    path = downloads.fetch(url, "w.h5", sha256=None, md5=md5, offline=False)
    assert path.read_bytes() == data and downloads.md5_of(path) == md5
    path.write_bytes(b"truncat")  # a corrupt cached copy is removed, then fetched again
    assert downloads.fetch(url, "w.h5", sha256=None, md5=md5, offline=False).read_bytes() == data


def test_fetch_md5_mismatch_is_named_as_such(remote, course_env):
    url = remote("m.h5", b"tampered")
    with pytest.raises(NotAvailableError) as info:
        downloads.fetch(url, "m.h5", sha256=None, md5="0" * 32, offline=False)
    assert info.value.failed == [f"{url}: checksum mismatch (MD5 {hashlib.md5(b'tampered').hexdigest()[:12]}..., "
                                 "expected 000000000000...)"]
    assert leftovers(course_env) == []


@pytest.mark.parametrize("digest", ["0" * 31, "A" * 32, "g" * 32])
def test_fetch_refuses_a_malformed_md5_or_both_checksums(remote, digest):
    with pytest.raises(ValueError, match="md5 must be 32 lowercase hex digits"):
        downloads.fetch(remote("x", b"x"), "x", sha256=None, md5=digest, offline=False)
    with pytest.raises(ValueError, match="given instead of sha256"):
        downloads.fetch(remote("x", b"x"), "x", sha256=sha(b"x"), md5="0" * 32, offline=False)


# --- what a learner online meets: cut-short downloads, sign-in pages, refusals, certificates, DNS ---------


def hdf5_bytes(tmp_path) -> bytes:
    """A small valid HDF5 file's bytes (what a Keras .h5 weight file starts like)."""
    import h5py
    import numpy as np

    with h5py.File(tmp_path / "w.h5", "w") as handle:
        handle["kernel"] = np.arange(2000, dtype="float32")
    return (tmp_path / "w.h5").read_bytes()


def jpeg_bytes(tmp_path, write_jpeg) -> bytes:
    """A small valid JPEG's bytes."""
    return write_jpeg(tmp_path / "p.jpg", size=(64, 48)).read_bytes()


PORTAL = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Welcome to Cafe Wi-Fi</body></html>"


def test_fetch_refuses_a_download_shorter_than_its_content_length(fake_server, course_env, tmp_path):
    data = hdf5_bytes(tmp_path)
    url = fake_server.add("w.h5", data, cut_at=len(data) // 3)
    with pytest.raises(NotAvailableError) as info:
        downloads.fetch(url, "w.h5", sha256=None, offline=False)
    assert info.value.failed == [f"{url}: download failed (cut short: received {len(data) // 3:,} of "
                                 f"{len(data):,} bytes)"]
    assert leftovers(course_env) == []  # nothing cached: the next run downloads it again


@pytest.mark.parametrize("name, kind", [("w.h5", "an HDF5 file"), ("photo.jpg", "a JPEG image"),
                                        ("x.npz", "a zip archive"), ("y.gz", "a gzip file")])
def test_fetch_refuses_an_html_page_where_a_file_was_expected(fake_server, course_env, name, kind):
    url = fake_server.add(name, PORTAL, content_type="text/html; charset=utf-8")
    with pytest.raises(NotAvailableError) as info:
        downloads.fetch(url, name, sha256=None, offline=False)
    assert info.value.failed == [f"{url}: download failed (an HTML page (Content-Type text/html), not {kind})"]
    assert "sign in" in str(info.value) and leftovers(course_env) == []


def test_fetch_checks_files_without_a_checksum_whole_not_only_their_first_bytes(fake_server, course_env, tmp_path,
                                                                               write_jpeg):
    h5, jpg = hdf5_bytes(tmp_path), jpeg_bytes(tmp_path, write_jpeg)
    assert downloads.fetch(fake_server.add("ok.h5", h5), "ok.h5", sha256=None, offline=False).read_bytes() == h5
    assert downloads.fetch(fake_server.add("ok.jpg", jpg), "ok.jpg", sha256=None, offline=False).read_bytes() == jpg
    for name, data, kind in (("bad.h5", h5[:len(h5) // 2], "HDF5 file"), ("bad.jpg", jpg[:len(jpg) // 2],
                                                                             "JPEG image")):
        url = fake_server.add(name, data)  # a server that itself holds a broken file: the length matches
        with pytest.raises(NotAvailableError, match=f"not a complete {kind}"):
            downloads.fetch(url, name, sha256=None, offline=False)
    assert leftovers(course_env) == ["ok.h5", "ok.jpg"]


@pytest.mark.parametrize("data, problem", [(PORTAL, "an HTML page, not an HDF5 file"),
                                           (b"\x89HDF\r\n\x1a\n" + bytes(100), "not a complete HDF5 file")])
def test_a_bad_cached_file_without_checksum_is_removed_not_served(course_env, data, problem):
    cached = course_env / "data" / "downloads" / "w.h5"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(data)  # left by an earlier version of the course, which cached whatever arrived
    with pytest.raises(NotAvailableError) as info:
        downloads.fetch("https://example.org/w.h5", "w.h5", sha256=None, offline=True)
    assert info.value.looked[0].startswith(f"<data>/downloads/w.h5: {problem}") and info.value.looked[0].endswith(
        ", removed")
    assert not cached.exists()


def test_fetch_bounds_a_stalled_name_resolution(monkeypatch, course_env):
    release = threading.Event()

    def stalled(*args, **kwargs):
        release.wait(8)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", stalled)
    start = time.perf_counter()
    try:
        with pytest.raises(NotAvailableError) as info:
            downloads.fetch("http://localhost:9/x.bin", "x.bin", sha256=None, offline=False, timeout=1)
    finally:
        release.set()
    assert time.perf_counter() - start < 1 + 2
    assert info.value.failed == ["http://localhost:9/x.bin: download failed (name resolution of localhost gave no "
                                 "answer within 1 s)"]
    assert socket.getaddrinfo is stalled  # restored after the block


@pytest.mark.parametrize("status, reason, advice", [
    (404, "HTTP 404 Not Found: the server has no file at this address", "reconnecting will not help"),
    (403, "HTTP 403 Forbidden: the server refused the download", "reconnecting will not help"),
    (503, "HTTP 503 Service Unavailable: the server failed", "try again later"),
])
def test_the_hint_follows_the_servers_answer(fake_server, course_env, status, reason, advice):
    url = fake_server.add("w.h5", b"<html>no</html>", status=status, content_type="text/html")
    with pytest.raises(NotAvailableError) as info:
        downloads.fetch(url, "w.h5", sha256=None, offline=False, provide="place w.h5 in the folder")
    assert info.value.failed == [f"{url}: download failed ({reason})"]
    hint = str(info.value).split("To provide it: ")[1]
    assert advice in hint and "connect to the internet" not in hint and hint.endswith("or place w.h5 in the folder")


def test_a_network_failure_still_says_connect(silent_listener, course_env):
    host, port = silent_listener
    with pytest.raises(NotAvailableError) as info:
        downloads.fetch(f"http://{host}:{port}/x", "x", sha256=None, offline=False, timeout=0.5)
    assert str(info.value).endswith(f"To provide it: {downloads.RECONNECT}")


@pytest.fixture
def tls_server(tmp_path, serving):
    """An HTTPS server on localhost with a self-signed certificate (what Python sees without root certificates)."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem"), "-days", "1",
                    "-subj", "/CN=localhost"], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with serving(server):
        yield f"https://localhost:{server.server_address[1]}/"


def test_a_certificate_failure_says_how_to_install_certificates(tls_server, course_env):
    with pytest.raises(NotAvailableError) as info:
        downloads.fetch(tls_server + "x.bin", "x.bin", sha256=None, offline=False)
    assert info.value.failed[0].startswith(f"{tls_server}x.bin: download failed (TLS certificate verification failed")
    hint = str(info.value).split("To provide it: ")[1]
    assert "Install Certificates.command" in hint and "connect to the internet" not in hint


def test_the_banner_says_what_to_do_about_the_failure(fake_server, capsys):
    url = fake_server.add("gone.bin", status=404)
    downloads.first_available("data", [("download", lambda: downloads.fetch(url, "gone.bin", sha256=None,
                                                                             offline=False)),
                                       ("offline copy", lambda: 1)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (f"NOTE data: {url}: download failed (HTTP 404 Not Found: the server has no file at this "
                        "address).")
    assert lines[1].startswith("     To fix: the file has moved or the course's address is out of date")
    assert lines[2] == "     Using instead: offline copy."


def test_unpack_works_on_python_3_11_before_3_11_4(tmp_path, make_archive, monkeypatch):
    """Python 3.11.0-3.11.3 have neither tarfile.data_filter nor extractall(filter=...)."""
    original = tarfile.TarFile.extractall

    def extractall_of_3_11_3(self, path=".", members=None, *, numeric_owner=False):
        return original(self, path, members, numeric_owner=numeric_owner)

    monkeypatch.delattr(tarfile, "data_filter")
    monkeypatch.setattr(tarfile.TarFile, "extractall", extractall_of_3_11_3)
    archive = make_archive(tmp_path / "photos.tgz", {"top/a.txt": b"a", "top/sub/b.txt": b"b"})
    into = downloads.unpack(archive, tmp_path / "out")
    assert sorted(p.relative_to(into).as_posix() for p in into.rglob("*.txt")) == ["top/a.txt", "top/sub/b.txt"]
    evil = make_archive(tmp_path / "evil.tgz", {"ok.txt": b"ok", "../escaped.txt": b"bad"})
    with pytest.raises(ValueError, match="evil.tgz: member '../escaped.txt' would land outside the folder"):
        downloads.unpack(evil, tmp_path / "evil_out")
    linked = tmp_path / "link.tar"
    with tarfile.open(linked, "w") as handle:
        link = tarfile.TarInfo("top/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        handle.addfile(link)
    with pytest.raises(ValueError, match="link.tar: member 'top/passwd' is a link or special file"):
        downloads.unpack(linked, tmp_path / "link_out")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "link_out").exists()


def test_socket_timeout_restores_the_resolver_when_blocks_nest_or_interleave():
    original = socket.getaddrinfo
    with downloads.socket_timeout(5):
        outer = socket.getaddrinfo
        with downloads.socket_timeout(1):
            assert socket.getaddrinfo is not outer and socket.getaddrinfo.__wrapped__ is original
        assert socket.getaddrinfo is outer  # nested: the outer block keeps its bound
    assert socket.getaddrinfo is original
    first, second = downloads.socket_timeout(5), downloads.socket_timeout(1)
    first.__enter__()
    second.__enter__()  # as if another thread started a download meanwhile
    first.__exit__(None, None, None)
    assert socket.getaddrinfo.__wrapped__ is original  # the running block keeps its bound
    second.__exit__(None, None, None)
    assert socket.getaddrinfo is original  # nothing left behind
    assert socket.getaddrinfo("127.0.0.1", 80)[0][4][0] == "127.0.0.1"


def test_a_resolver_error_reaches_the_caller_with_its_reason():
    def fails(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(socket.gaierror):
        downloads.bounded_getaddrinfo(fails, 1)("nowhere.invalid", 80)
    assert downloads.diagnose(urllib.error.URLError(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
                              ) == downloads.Diagnosis("the server's name could not be resolved (Name or service not "
                                                       "known)", downloads.RECONNECT)


@pytest.mark.parametrize("error, reason, advice", [
    (urllib.error.HTTPError("u", 407, "Proxy", {}, None), "HTTP 407 Proxy Authentication Required: the proxy refused "
                                                          "the download", downloads.PROXY_ADVICE),
    (urllib.error.HTTPError("u", 429, "Slow down", {}, None), "HTTP 429 Too Many Requests: the server limits downloads",
     "wait a few minutes, then run again"),
    (urllib.error.HTTPError("u", 418, "Teapot", {}, None), "HTTP 418 I'm a Teapot: the server answered with an error",
     downloads.SERVER_ADVICE),
    (urllib.error.HTTPError("u", 599, "Odd", {}, None), "HTTP 599 Odd: the server failed", downloads.SERVER_ADVICE),
    (urllib.error.URLError(ssl.SSLError(1, "wrong version number")), "TLS error: wrong version number",
     downloads.TLS_ADVICE),
    (ConnectionRefusedError(111, "Connection refused"), "ConnectionRefusedError: [Errno 111] Connection refused",
     downloads.RECONNECT),
    (downloads.WrongContentError("not a complete JPEG image (OSError: truncated)"),
     "not a complete JPEG image (OSError: truncated)", downloads.CUT_SHORT_ADVICE),
])
def test_diagnose_names_the_reason_and_the_advice_that_follows(error, reason, advice):
    assert downloads.diagnose(error) == downloads.Diagnosis(reason, advice, getattr(error, "code", None))


def test_a_checksum_mismatch_on_an_html_page_says_so(fake_server, course_env):
    url = fake_server.add("mnist.npz", b"<html><body>Sign in</body></html>", content_type="text/html")
    with pytest.raises(NotAvailableError) as info:
        downloads.fetch(url, "mnist.npz", sha256="0" * 64, offline=False)
    assert info.value.failed[0].endswith("expected 000000000000...; an HTML page)")
    assert info.value.advice == [downloads.PAGE_ADVICE]


def test_format_check_of_unknown_suffixes_and_json(tmp_path):
    page = tmp_path / "x.bin"
    page.write_bytes(b"<html>hi</html>")
    downloads.check_format(page)  # no suffix known, no content type: nothing to hold against it
    with pytest.raises(downloads.WrongContentError, match="an HTML page \\(Content-Type text/html\\), not the file"):
        downloads.check_format(page, "text/html; charset=utf-8")
    broken = tmp_path / "index.json"
    broken.write_bytes(b'{"0": ["n01", ')
    with pytest.raises(downloads.WrongContentError, match="not a complete JSON file \\(JSONDecodeError"):
        downloads.check_format(broken)
    gz = tmp_path / "x.gz"
    gz.write_bytes(b"PK\x03\x04")
    with pytest.raises(downloads.WrongContentError, match="not a gzip file: it starts with b'PK"):
        downloads.check_format(gz)


def test_hdf5_with_a_user_block_passes_the_format_check(tmp_path):
    import h5py

    with h5py.File(tmp_path / "w.h5", "w", userblock_size=512) as handle:
        handle["x"] = [1, 2, 3]
    downloads.check_format(tmp_path / "w.h5")
