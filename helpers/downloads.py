"""The one way the course fetches anything from the network, and the one policy when that fails.

Every remote file (data archives, model weights) goes through `fetch`: a cache under the data folder,
the offline switch, a socket timeout so a stalled network fails in seconds, a SHA-256 check, and one
error type, `NotAvailableError`, that names every place looked and how to provide the file.
`first_available` tries a chapter's sources in order (cache, download, offline copy) and, when a
download failed and a fallback is used, prints a banner saying so.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import socket
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from .config import OFFLINE_ENV, is_offline
from .paths import cache_dir, shown

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 10.0
_CHUNK = 1 << 20


class NotAvailableError(FileNotFoundError):
    """Nothing could provide `what`: the message lists every place looked and how to provide it."""

    def __init__(self, what: str, looked: Sequence[str], provide: str = "", failed: Sequence[str] = ()) -> None:
        self.what = what
        self.looked = list(looked)
        self.provide = provide
        self.failed = list(failed)  # the download attempts that failed (not merely skipped or uncached)
        places = "\n".join(f"  - {place}" for place in self.looked) or "  - (nowhere)"
        hint = f"\nTo provide it: {provide}" if provide else ""
        super().__init__(f"{what} is not available. Looked in:\n{places}{hint}")


@contextlib.contextmanager
def socket_timeout(seconds: float) -> Iterator[None]:
    """Give every new socket a timeout while the block runs (libraries that open their own sockets included)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {seconds!r}")
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(float(seconds))
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def sha256_of(path: Path) -> str:
    """SHA-256 of a file's bytes as hex, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def md5_of(path: Path) -> str:
    """MD5 of a file's bytes as hex, for files whose publisher gives only an MD5 (Keras' weight files)."""
    digest = hashlib.md5(usedforsecurity=False)
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(data: bytes, expected: str, name: str) -> None:
    """Raise ValueError naming `name` when the SHA-256 of `data` is not `expected`."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ValueError(f"checksum mismatch for {name}: SHA-256 {actual}, expected {expected}; "
                         "the file is corrupt or truncated: delete it and fetch it again")


def _reason(error: BaseException) -> str:
    """A short, readable reason for a failed download."""
    if isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError):
        error = error.reason if isinstance(error.reason, BaseException) else error
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "no answer within the timeout"
    return f"{type(error).__name__}: {str(error)[:120]}"


def _download(url: str, target: Path, timeout: float, verbose: bool) -> None:
    """Stream `url` into `target`, printing progress for large files; every socket read times out."""
    with urllib.request.urlopen(url, timeout=timeout) as response, target.open("wb") as handle:
        total = int(response.headers.get("Content-Length") or 0)
        done, next_report = 0, 0.25
        for chunk in iter(lambda: response.read(_CHUNK), b""):
            handle.write(chunk)
            done += len(chunk)
            if verbose and total > 20 * _CHUNK and done / total >= next_report:
                print(f"  downloaded {done / _CHUNK:.0f} of {total / _CHUNK:.0f} MB", flush=True)
                next_report += 0.25


def _is_hex(value: str, length: int) -> bool:
    """True for `length` lowercase hex digits."""
    return isinstance(value, str) and len(value) == length and all(c in "0123456789abcdef" for c in value)


def fetch(url: str, filename: str, *, sha256: str | None, folder: str = "downloads", offline: bool | None = None,
          timeout: float = DEFAULT_TIMEOUT_S, provide: str = "", verbose: bool = True, md5: str | None = None) -> Path:
    """The file at `url` as <data>/<folder>/<filename>: from the cache, else downloaded once and SHA-256 checked.

    `sha256=None` only where no checksum is published; `md5=` instead where the publisher gives only an
    MD5 (Keras' weight files). `offline=None` follows COURSE_OFFLINE.
    Raises NotAvailableError (naming the cache, the URL and `provide`) when neither has the file.
    """
    if not filename or Path(filename).name != filename or filename in (".", ".."):
        raise ValueError(f"filename must be a plain file name, got {filename!r}")
    if sha256 is not None and not _is_hex(sha256, 64):
        raise ValueError(f"sha256 must be 64 lowercase hex digits, got {sha256!r}")
    if md5 is not None and (sha256 is not None or not _is_hex(md5, 32)):
        raise ValueError(f"md5 must be 32 lowercase hex digits, given instead of sha256, got {md5!r}")
    digest, expected, algorithm = (md5_of, md5, "MD5") if md5 is not None else (sha256_of, sha256, "SHA-256")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    target = cache_dir(folder) / filename
    looked: list[str] = []
    if target.is_file():
        if expected is None or digest(target) == expected:
            return target
        target.unlink()
        looked.append(f"{shown(target)}: checksum mismatch, removed")
    else:
        looked.append(f"{shown(target)}: not there")
    if is_offline() if offline is None else offline:
        looked.append(f"{url}: not tried ({OFFLINE_ENV}=1)" if offline is None else f"{url}: not tried (offline)")
        raise NotAvailableError(filename, looked, provide)
    partial = target.with_name(target.name + ".partial")
    try:
        with socket_timeout(timeout):
            _download(url, partial, timeout, verbose)
    except (OSError, urllib.error.URLError, ValueError) as error:
        partial.unlink(missing_ok=True)
        looked.append(f"{url}: download failed ({_reason(error)})")
        raise NotAvailableError(filename, looked, provide, failed=[looked[-1]]) from error
    if expected is not None and (actual := digest(partial)) != expected:
        partial.unlink()
        looked.append(f"{url}: checksum mismatch ({algorithm} {actual[:12]}..., expected {expected[:12]}...)")
        raise NotAvailableError(filename, looked, provide, failed=[looked[-1]])
    partial.replace(target)
    return target


def unpack(archive: Path, into: Path) -> Path:
    """Extract a .tgz/.tar.gz/.tar/.zip archive into `into` (nothing may land outside it); return `into`."""
    archive, into = Path(archive), Path(into)
    partial = into.with_name(into.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as handle:
                for member in handle.namelist():
                    if not (partial / member).resolve().is_relative_to(partial.resolve()):
                        raise ValueError(f"{archive.name}: member {member!r} would land outside the folder")
                handle.extractall(partial)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as handle:
                handle.extractall(partial, filter="data")
        else:
            raise ValueError(f"{shown(archive)} is neither a tar nor a zip archive")
    except Exception:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(into, ignore_errors=True)
    partial.replace(into)
    return into


def first_available(what: str, sources: Sequence[tuple[str, Callable[[], T]]], provide: str = "",
                    verbose: bool = True) -> tuple[T, str]:
    """Try (label, load) pairs in order; return (result, label) of the first that works.

    A source says it cannot help by raising NotAvailableError. When a download failed and a later
    source is used, a banner names what failed and what the chapter runs on instead.
    """
    if not sources:
        raise ValueError(f"no sources given for {what}")
    looked: list[str] = []
    failed: list[str] = []
    for label, load in sources:
        try:
            result = load()
        except NotAvailableError as error:
            looked.extend(error.looked)
            failed.extend(error.failed)
            continue
        if failed and verbose:
            print(f"NOTE {what}: {'; '.join(failed)}.\n     Using instead: {label}.", flush=True)
        return result, label
    raise NotAvailableError(what, looked, provide, failed)
