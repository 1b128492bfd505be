"""Unit tests of helpers.downloads, end to end: real file:// and loopback http:// URLs, no outside network."""

import functools
import hashlib
import http.server
import socket
import tarfile
import threading
import time

import pytest

from helpers import downloads
from helpers.downloads import NotAvailableError


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def http_server(remote):
    """A loopback HTTP server serving the `remote` folder; returns its base URL (http://127.0.0.1:port/)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Quiet, directory=str(remote.folder)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join(5)


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
    assert str(error).endswith("To provide it: ask a teacher")
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
                               f"  - {url}: not tried (offline)\nTo provide it: connect once")
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
    assert info.value.failed == [f"{http_server}missing.bin: download failed (HTTPError: HTTP Error 404: File not found)"]
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
