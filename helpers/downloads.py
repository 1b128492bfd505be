"""The one way the course fetches anything from the network, and the one policy when that fails.

Every remote file (data archives, model weights) goes through `fetch`: a cache under the data folder,
the offline switch, a socket timeout and a bounded name resolution so a stalled network fails in
seconds, a download that must deliver its whole Content-Length, a SHA-256 (or MD5) check, a format
check of files without a published checksum (an HTML sign-in page is not an .h5 file), and one error
type, `NotAvailableError`, that names every place looked and what to do, following the real reason
(`diagnose`): a server's 403 or 404 or a certificate failure is not cured by connecting again.
`first_available` tries a chapter's sources in order (cache, download, offline copy) and, when a
download failed and a fallback is used, prints a banner saying so.
"""

from __future__ import annotations

import contextlib
import hashlib
import http
import json
import shutil
import socket
import ssl
import sys
import tarfile
import threading
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .config import OFFLINE_ENV, is_offline
from .paths import cache_dir, shown

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 10.0
_CHUNK = 1 << 20

# What to do about a download, by its cause. The first two are the network's cure; the others are not.
RECONNECT = "connect to the internet once (downloads are cached)"
GO_ONLINE = f"connect to the internet and run without {OFFLINE_ENV}=1 (downloads are cached)"
NETWORK_ADVICE = (RECONNECT, GO_ONLINE)
MISSING_ADVICE = ("the file has moved or the course's address is out of date: update the course (git pull) or "
                  "report it; reconnecting will not help")
REFUSED_ADVICE = ("your connection works but the server said no: try again later (servers limit or block some "
                  "downloads); reconnecting will not help")
SERVER_ADVICE = "the server is in trouble, not your connection: try again later"
PROXY_ADVICE = "your network's proxy wants a login: set HTTPS_PROXY to http://user:password@proxy:port"
CERTIFICATE_ADVICE = (
    "Python cannot verify the server's certificate, so it has no root certificates to check it with: on macOS "
    f"with Python from python.org, run 'Install Certificates.command' in /Applications/Python "
    f"{sys.version_info.major}.{sys.version_info.minor}/; on Linux install the ca-certificates package; on a network "
    "that inspects encrypted traffic (a company proxy), set SSL_CERT_FILE to its root certificate")
TLS_ADVICE = "the encrypted connection failed (a proxy or firewall may interfere): try another network"
CUT_SHORT_ADVICE = "the connection dropped during the download (nothing was kept): run again"
PAGE_ADVICE = ("a network sign-in page (hotel, campus or café Wi-Fi) may be answering instead of the server: sign in "
               "with a browser, then run again")
MISMATCH_ADVICE = ("run again; if the mismatch repeats, the file on the server has changed: update the course "
                   "(git pull) or report it")


class NotAvailableError(FileNotFoundError):
    """Nothing could provide `what`: the message lists every place looked and what to do (`hint`)."""

    def __init__(self, what: str, looked: Sequence[str], provide: str = "", failed: Sequence[str] = (),
                 advice: Sequence[str] = ()) -> None:
        self.what = what
        self.looked = list(looked)
        self.provide = provide  # how to provide it without a download (an offline copy, a local file)
        self.failed = list(failed)  # the download attempts that failed (not merely skipped or uncached)
        self.advice = relevant_advice(advice)  # what to do about the downloads, following their real cause
        places = "\n".join(f"  - {place}" for place in self.looked) or "  - (nowhere)"
        hint = f"\nTo provide it: {self.hint}" if self.hint else ""
        super().__init__(f"{what} is not available. Looked in:\n{places}{hint}")

    @property
    def hint(self) -> str:
        """What to do: the advice that follows the downloads' real cause, then `provide`."""
        return "; or ".join([*self.advice, self.provide] if self.provide else self.advice)


def relevant_advice(advice: Sequence[str]) -> list[str]:
    """Advice without repeats; the network's cure is dropped when another cause (a 404, a certificate) is known."""
    unique = list(dict.fromkeys(a for a in advice if a))
    specific = [a for a in unique if a not in NETWORK_ADVICE]
    return specific or unique


class ResolutionTimeoutError(TimeoutError):
    """Name resolution (DNS) gave no answer within the timeout."""


class CutShortError(ValueError):
    """A download ended before its Content-Length."""


class WrongContentError(ValueError):
    """A file is not what its name promises (an HTML page where an .h5 file was expected, a truncated image)."""


def bounded_getaddrinfo(resolve: Callable, seconds: float) -> Callable:
    """`resolve` (socket.getaddrinfo) run in a worker thread that may take at most `seconds`."""
    def getaddrinfo(host, port, *args, **kwargs):
        outcome: dict[str, object] = {}

        def work() -> None:
            try:
                outcome["value"] = resolve(host, port, *args, **kwargs)
            except BaseException as error:  # handed to the caller below
                outcome["error"] = error

        worker = threading.Thread(target=work, name=f"resolve {host}", daemon=True)
        worker.start()
        worker.join(seconds)
        if worker.is_alive():
            raise ResolutionTimeoutError(f"name resolution of {host} gave no answer within {seconds:g} s")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    getaddrinfo.__wrapped__ = resolve
    return getaddrinfo


_RESOLVERS_LOCK = threading.Lock()
_ACTIVE_RESOLVERS: set[Callable] = set()  # the bounded resolvers of the socket_timeout blocks now running


def _restore_resolver(bounded: Callable) -> None:
    """Undo one block's bounded resolver: back to the innermost block still running, else to the original."""
    with _RESOLVERS_LOCK:
        _ACTIVE_RESOLVERS.discard(bounded)
        if socket.getaddrinfo is not bounded:  # a block that started later, in another thread, is still running
            return
        previous = bounded.previous
        while previous not in _ACTIVE_RESOLVERS and hasattr(previous, "previous"):
            previous = previous.previous
        socket.getaddrinfo = previous


@contextlib.contextmanager
def socket_timeout(seconds: float) -> Iterator[None]:
    """Give every new socket a timeout and bound every name resolution while the block runs (process-wide).

    Socket timeouts bound connect and read, not `getaddrinfo`: a broken resolver could otherwise take
    tens of seconds per download. Libraries that open their own sockets (tensorflow_hub) are covered too.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {seconds!r}")
    previous_timeout = socket.getdefaulttimeout()
    with _RESOLVERS_LOCK:
        resolve = socket.getaddrinfo
        bounded = bounded_getaddrinfo(getattr(resolve, "__wrapped__", resolve), float(seconds))
        bounded.previous = resolve
        _ACTIVE_RESOLVERS.add(bounded)
        socket.getaddrinfo = bounded
    socket.setdefaulttimeout(float(seconds))
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous_timeout)
        _restore_resolver(bounded)


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


@dataclass(frozen=True)
class Diagnosis:
    """Why a download failed, in words (`reason`), and what the learner can do about it (`advice`)."""

    reason: str
    advice: str
    status: int | None = None  # the HTTP status, when the server answered with an error


def _http_diagnosis(error: urllib.error.HTTPError) -> Diagnosis:
    """What an HTTP error status means for the learner."""
    code = error.code
    try:
        phrase = http.HTTPStatus(code).phrase
    except ValueError:
        phrase = str(error.reason or "")
    status = f"HTTP {code} {phrase}".rstrip()
    if code in (404, 410):
        return Diagnosis(f"{status}: the server has no file at this address", MISSING_ADVICE, code)
    if code in (401, 403):
        return Diagnosis(f"{status}: the server refused the download", REFUSED_ADVICE, code)
    if code == 407:
        return Diagnosis(f"{status}: the proxy refused the download", PROXY_ADVICE, code)
    if code == 429:
        return Diagnosis(f"{status}: the server limits downloads", "wait a few minutes, then run again", code)
    if code >= 500:
        return Diagnosis(f"{status}: the server failed", SERVER_ADVICE, code)
    return Diagnosis(f"{status}: the server answered with an error", SERVER_ADVICE, code)


def diagnose(error: BaseException) -> Diagnosis:
    """The reason a download failed and the advice that follows from it (the network's cure only where it is one)."""
    if isinstance(error, urllib.error.HTTPError):
        return _http_diagnosis(error)
    if isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException):
        error = error.reason
    if isinstance(error, ssl.SSLCertVerificationError):
        detail = error.verify_message or str(error)
        return Diagnosis(f"TLS certificate verification failed: {detail}", CERTIFICATE_ADVICE)
    if isinstance(error, ssl.SSLError):
        return Diagnosis(f"TLS error: {str(error)[:120]}", TLS_ADVICE)
    if isinstance(error, ResolutionTimeoutError):
        return Diagnosis(str(error), RECONNECT)
    if isinstance(error, (socket.timeout, TimeoutError)):
        return Diagnosis("no answer within the timeout", RECONNECT)
    if isinstance(error, socket.gaierror):
        return Diagnosis(f"the server's name could not be resolved ({error.strerror})", RECONNECT)
    if isinstance(error, CutShortError):
        return Diagnosis(str(error), CUT_SHORT_ADVICE)
    if isinstance(error, WrongContentError):
        return Diagnosis(str(error), PAGE_ADVICE if "HTML page" in str(error) else CUT_SHORT_ADVICE)
    return Diagnosis(f"{type(error).__name__}: {str(error)[:120]}", RECONNECT)


def download(url: str, target: Path, timeout: float = DEFAULT_TIMEOUT_S, verbose: bool = False) -> str:
    """Stream `url` into `target` (every socket read times out); return its Content-Type.

    Raises CutShortError when fewer bytes arrive than the Content-Length promised: Python's http.client
    ends such a response quietly instead of raising.
    """
    with urllib.request.urlopen(url, timeout=timeout) as response, Path(target).open("wb") as handle:
        length = str(response.headers.get("Content-Length") or "").strip()
        total = int(length) if length.isdigit() else None
        done, next_report = 0, 0.25
        for chunk in iter(lambda: response.read(_CHUNK), b""):
            handle.write(chunk)
            done += len(chunk)
            if verbose and total and total > 20 * _CHUNK and done / total >= next_report:
                print(f"  downloaded {done / _CHUNK:.0f} of {total / _CHUNK:.0f} MB", flush=True)
                next_report += 0.25
        if total is not None and done != total:
            raise CutShortError(f"cut short: received {done:,} of {total:,} bytes")
        return str(response.headers.get("Content-Type") or "")


# File formats by name: (first bytes, description). HDF5's signature may also sit at 512, 1024, 2048, ...
FORMATS = {".h5": (b"\x89HDF\r\n\x1a\n", "an HDF5 file"), ".hdf5": (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
           ".jpg": (b"\xff\xd8\xff", "a JPEG image"), ".jpeg": (b"\xff\xd8\xff", "a JPEG image"),
           ".png": (b"\x89PNG\r\n\x1a\n", "a PNG image"), ".gz": (b"\x1f\x8b", "a gzip file"),
           ".tgz": (b"\x1f\x8b", "a gzip file"), ".zip": (b"PK\x03\x04", "a zip archive"),
           ".npz": (b"PK\x03\x04", "a zip archive"), ".json": (b"", "a JSON file")}


def expected_format(filename: str) -> tuple[bytes, str] | None:
    """(first bytes, description) of the format `filename`'s suffix promises; None for a suffix not known."""
    return FORMATS.get(Path(filename).suffix.lower())


def looks_like_html(head: bytes) -> bool:
    """True when the first bytes of a file are an HTML page (what sign-in pages and error pages send)."""
    start = head[:1024].lstrip().lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in start


def _has_signature(path: Path, signature: bytes) -> bool:
    """True when `path` starts with `signature` (for HDF5 also at offsets 512, 1024, 2048, ... its user block)."""
    size = path.stat().st_size
    offsets = [0] + ([512 * 2 ** n for n in range(32) if 512 * 2 ** n < size] if signature.startswith(b"\x89HDF")
                     else [])
    with path.open("rb") as handle:
        for offset in offsets:
            handle.seek(offset)
            if handle.read(len(signature)) == signature:
                return True
    return False


def _open_whole(path: Path, description: str) -> None:
    """Read `path` the way its user will (h5py, Pillow, json); raise WrongContentError if that fails."""
    try:
        if description == "an HDF5 file":
            import h5py

            with h5py.File(path, "r"):
                pass
        elif description in ("a JPEG image", "a PNG image"):
            from PIL import Image

            with Image.open(path) as image:
                image.load()
        elif description == "a JSON file":
            json.loads(path.read_bytes())
    except ImportError:  # the reader is not installed: the first bytes were checked, that is all we can do
        return
    except (OSError, ValueError, SyntaxError) as error:
        raise WrongContentError(f"not a complete {description.split(' ', 1)[1]} "
                                f"({type(error).__name__}: {str(error).splitlines()[0][:100]})") from error


def check_format(path: Path, content_type: str = "", name: str | None = None) -> None:
    """Raise WrongContentError unless `path` is the format its name (or `name`) promises; an HTML page says so.

    Used for files without a published checksum. Files of a suffix not in FORMATS are only refused
    when they are an HTML page that the server itself labelled text/html.
    """
    path = Path(path)
    with path.open("rb") as handle:
        head = handle.read(1024)
    label = f" (Content-Type {content_type.split(';')[0].strip()})" if content_type else ""
    expected = expected_format(name or path.name)
    page = looks_like_html(head)
    if expected is None:
        if page and "html" in content_type.lower():
            raise WrongContentError(f"an HTML page{label}, not the file")
        return
    signature, description = expected
    if page:
        raise WrongContentError(f"an HTML page{label}, not {description}")
    if signature and not _has_signature(path, signature):
        raise WrongContentError(f"not {description}: it starts with {head[:8]!r}")
    _open_whole(path, description)


def _cached_problem(path: Path, digest: Callable[[Path], str], expected: str | None) -> str | None:
    """Why a cached file cannot be used (checksum, or format where no checksum is published); None when it can."""
    if expected is not None:
        return None if digest(path) == expected else "checksum mismatch"
    try:
        check_format(path)
    except WrongContentError as error:
        return str(error)
    return None


def _is_hex(value: str, length: int) -> bool:
    """True for `length` lowercase hex digits."""
    return isinstance(value, str) and len(value) == length and all(c in "0123456789abcdef" for c in value)


def fetch(url: str, filename: str, *, sha256: str | None, folder: str = "downloads", offline: bool | None = None,
          timeout: float = DEFAULT_TIMEOUT_S, provide: str = "", verbose: bool = True, md5: str | None = None) -> Path:
    """The file at `url` as <data>/<folder>/<filename>: from the cache, else downloaded once and SHA-256 checked.

    `sha256=None` only where no checksum is published; `md5=` instead where the publisher gives only an
    MD5 (Keras' weight files). A file without either is checked by `check_format`, in the cache too.
    `offline=None` follows COURSE_OFFLINE. Raises NotAvailableError (naming the cache, the URL, advice
    that follows the failure's cause, and `provide`: how to provide it without a download) when neither
    has the file.
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
    if not target.is_file():
        looked.append(f"{shown(target)}: not there")
    elif (problem := _cached_problem(target, digest, expected)) is None:
        return target
    else:
        target.unlink()
        looked.append(f"{shown(target)}: {problem}, removed")
    if is_offline() if offline is None else offline:
        looked.append(f"{url}: not tried ({OFFLINE_ENV}=1)" if offline is None else f"{url}: not tried (offline)")
        raise NotAvailableError(filename, looked, provide, advice=[GO_ONLINE if offline is None else RECONNECT])
    partial = target.with_name(target.name + ".partial")
    try:
        with socket_timeout(timeout):
            content_type = download(url, partial, timeout, verbose)
        if expected is None:
            check_format(partial, content_type, filename)
    except (OSError, urllib.error.URLError, ValueError) as error:
        partial.unlink(missing_ok=True)
        diagnosis = diagnose(error)
        looked.append(f"{url}: download failed ({diagnosis.reason})")
        raise NotAvailableError(filename, looked, provide, [looked[-1]], [diagnosis.advice]) from error
    if expected is not None and (actual := digest(partial)) != expected:
        with partial.open("rb") as handle:
            page = looks_like_html(handle.read(1024))
        partial.unlink()
        looked.append(f"{url}: checksum mismatch ({algorithm} {actual[:12]}..., expected {expected[:12]}..."
                      f"{'; an HTML page' if page else ''})")
        raise NotAvailableError(filename, looked, provide, [looked[-1]], [PAGE_ADVICE if page else MISMATCH_ADVICE])
    partial.replace(target)
    return target


def _checked_members(handle: tarfile.TarFile, into: Path, name: str) -> list[tarfile.TarInfo]:
    """The archive's members checked by hand where tarfile has no data filter: plain files and folders inside `into`."""
    root = into.resolve()
    members = []
    for member in handle.getmembers():
        if not (member.isfile() or member.isdir()):
            raise ValueError(f"{name}: member {member.name!r} is a link or special file; only files and folders "
                             "are unpacked")
        if member.name.startswith(("/", "\\")) or not (root / member.name).resolve().is_relative_to(root):
            raise ValueError(f"{name}: member {member.name!r} would land outside the folder")
        member.mode &= 0o755  # no set-user-ID, set-group-ID or world-writable bits, as the data filter does
        members.append(member)
    return members


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
                if hasattr(tarfile, "data_filter"):  # Python 3.11.4 and newer
                    handle.extractall(partial, filter="data")
                else:
                    handle.extractall(partial, members=_checked_members(handle, partial, archive.name))
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
    advice: list[str] = []
    failed_advice: list[str] = []
    for label, load in sources:
        try:
            result = load()
        except NotAvailableError as error:
            looked.extend(error.looked)
            failed.extend(error.failed)
            advice.extend(error.advice)
            failed_advice.extend(error.advice if error.failed else ())
            continue
        if failed and verbose:
            fix = "; ".join(relevant_advice(failed_advice))
            print(f"NOTE {what}: {'; '.join(failed)}.\n" + (f"     To fix: {fix}.\n" if fix else "")
                  + f"     Using instead: {label}.", flush=True)
        return result, label
    raise NotAvailableError(what, looked, provide, failed, advice)
