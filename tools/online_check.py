"""The release check with internet: every remote file and model the course fetches, fetched and checked.

Usage: python -m tools.online_check [--full] [--timeout S] [--base URL] [--no-detector]

For every remote file (the list is built from the helpers' own constants, so it is the course's):
its HTTP answer, its size (Content-Length, against the published size where one is known), its
format (the file's first bytes; whole files are opened as their users open them) and its hash where
one is published. Files up to WHOLE_BELOW bytes (and all with --full) are fetched whole, through
the course's own `helpers.downloads.download`; larger ones by their headers and a Range request for
their first bytes, with Cloud Storage's MD5 (the x-goog-hash header) compared where Keras publishes
an MD5. Faster R-CNN is loaded with `hub.load` into a fresh TF-Hub cache, and its `default`
signature is checked against `helpers.detection.OUTPUT_KEYS` and `OUTPUT_DTYPES` and run on one
small image. Prints one table and exits 1 if any row failed. With no network it prints one line
saying so and exits 0.

`--base URL` serves every remote from another server (a mirror, or the tests' loopback fake):
each URL keeps its path and takes the base's scheme and host.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import hashlib
import os
import re
import socket
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from helpers import datasets, detection, flowers, pretrained
from helpers.downloads import (NotAvailableError, WrongContentError, check_format, diagnose, download,
                               expected_format, looks_like_html, socket_timeout)

WHOLE_BELOW = 40 * 2 ** 20  # fetch files up to this size whole; larger ones by headers and first bytes
HEAD_BYTES = 4096
DEFAULT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Remote:
    """One remote file the course fetches, with what is published about it."""

    name: str
    url: str
    size: int | None = None  # bytes, where published
    sha256: str | None = None
    md5: str | None = None
    gunzip_sha256: str | None = None  # SHA-256 of the decompressed bytes (Fashion-MNIST's .gz files)


@dataclass(frozen=True)
class Row:
    """One line of the table: what was checked, its size, what was found, and whether it passed."""

    name: str
    size: str
    checked: str
    ok: bool


def course_remotes() -> list[Remote]:
    """Every remote file the course's helpers fetch, with its published size and hashes."""
    remotes = [Remote("MNIST mnist.npz", datasets.KERAS_ORIGIN + "mnist.npz", sha256=datasets.MNIST_NPZ_SHA256)]
    remotes += [Remote(f"Fashion-MNIST {filename}", datasets.fashion_url(filename), gunzip_sha256=sha)
                for filename, sha in datasets.FASHION_FILES.values()]
    remotes += [Remote("flower_photos.tgz", flowers.FLOWERS_URL, size=flowers.FLOWERS_SIZE,
                       sha256=flowers.FLOWERS_SHA256),
                Remote("Red_sunflower.jpg", flowers.NEW_PHOTO_URL),
                Remote("imagenet_class_index.json", pretrained.CLASS_INDEX_URL, md5=pretrained.CLASS_INDEX_MD5)]
    files = [pretrained.weight_file(name, include_top=top) for name in ("VGG16", "ResNet50") for top in (True, False)]
    files += [pretrained.weight_file("MobileNetV2")]
    files += [pretrained.weight_file("MobileNetV2", include_top=False, size=size)
              for size in pretrained.MOBILENET_V2_SIZES]
    return remotes + [Remote(file.filename, file.url, md5=file.md5) for file in files]


def rebase(url: str, base: str) -> str:
    """`url` with the scheme and host of `base` (and `base`'s path before its own)."""
    parts, new = urllib.parse.urlsplit(url), urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit((new.scheme, new.netloc, new.path.rstrip("/") + parts.path, parts.query, ""))


def _hosts(urls: Iterable[str]) -> list[tuple[str, int]]:
    """The distinct (host, port) pairs of `urls`, in order."""
    pairs = []
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        pair = (parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        if pair not in pairs:
            pairs.append(pair)
    return pairs


def no_network(urls: Iterable[str], timeout: float) -> str | None:
    """None when any of the urls' hosts accepts a connection; else why none did (the first host's reason)."""
    reasons = []
    for host, port in _hosts(urls):
        try:
            with socket_timeout(timeout), socket.create_connection((host, port), timeout=timeout):
                return None
        except OSError as error:
            reasons.append(f"{host}:{port}: {diagnose(error).reason}")
    return reasons[0] if reasons else "no remote to check"


def _request(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> urllib.request.Request:
    """An HTTP request with the course's user agent."""
    return urllib.request.Request(url, method=method,
                                  headers={"User-Agent": "cnn-course online check", **(headers or {})})


def _megabytes(size: int | None) -> str:
    """A size for the table."""
    return "?" if size is None else f"{size / 2 ** 20:,.1f} MB" if size >= 2 ** 20 else f"{size:,} B"


def _published_md5(headers) -> str | None:
    """The object's MD5 in hex from Cloud Storage's x-goog-hash headers ('crc32c=...', 'md5=<base64>'), if any."""
    values = headers.get_all("x-goog-hash") or []  # Cloud Storage sends one header per hash, or one with both
    found = re.search(r"md5=([A-Za-z0-9+/]+={0,2})", ", ".join(values))
    return base64.b64decode(found[1]).hex() if found else None


def _hashes(path: Path, gunzip: bool) -> dict[str, str]:
    """SHA-256 and MD5 of a file, and the SHA-256 of its decompressed bytes when `gunzip`."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
            md5.update(chunk)
    out = {"sha256": sha.hexdigest(), "md5": md5.hexdigest()}
    if gunzip:
        inner = hashlib.sha256()
        with gzip.open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                inner.update(chunk)
        out["gunzip_sha256"] = inner.hexdigest()
    return out


class Findings:
    """What a check found, each finding passed or failed; a row fails when any finding failed."""

    def __init__(self) -> None:
        self.items: list[tuple[bool, str]] = []

    def add(self, passed: bool, text: str) -> None:
        """Record one finding."""
        self.items.append((passed, text))

    @property
    def ok(self) -> bool:
        """True when no finding failed."""
        return all(passed for passed, _ in self.items)

    def text(self) -> str:
        """The findings in one line, each failed one marked 'FAILED'."""
        return "; ".join(text if passed else f"FAILED {text}" for passed, text in self.items)


def _compare_hashes(remote: Remote, found: dict[str, str], findings: Findings) -> None:
    """One finding for every hash published for `remote` and present in `found`."""
    labels = {"sha256": "SHA-256", "md5": "MD5", "gunzip_sha256": "SHA-256 of the unpacked bytes"}
    for kind, label in labels.items():
        expected = getattr(remote, kind)
        if expected and kind in found:
            same = found[kind] == expected
            findings.add(same, f"{label} ok" if same else f"{label} {found[kind][:12]}..., expected {expected[:12]}...")


def _check_whole(remote: Remote, size: int | None, timeout: float, scratch: Path, findings: Findings) -> None:
    """Fetch `remote` whole through the course's download (which refuses a cut-short body); check format, hashes."""
    target = scratch / Path(urllib.parse.urlsplit(remote.url).path).name
    content_type = download(remote.url, target, timeout)
    findings.add(True, "whole file")
    if size is not None and target.stat().st_size != size:
        findings.add(False, f"size: got {target.stat().st_size:,} bytes, the headers said {size:,}")
    try:
        check_format(target, content_type)
        findings.add(True, "format ok" if expected_format(target.name) else "format not known")
    except WrongContentError as error:
        findings.add(False, f"format: {error}")
    _compare_hashes(remote, _hashes(target, remote.gunzip_sha256 is not None), findings)


def _check_first_bytes(remote: Remote, size: int | None, headers, timeout: float, findings: Findings) -> None:
    """Check `remote`'s first bytes (a Range request) and Cloud Storage's MD5 of it against the published one."""
    request = _request(remote.url, headers={"Range": f"bytes=0-{HEAD_BYTES - 1}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        first = response.read(HEAD_BYTES)
        status, content_range = response.status, str(response.headers.get("Content-Range") or "").strip()
    findings.add(True, f"first {len(first):,} bytes")
    total = re.fullmatch(r"bytes \d+-\d+/(\d+)", content_range)
    if status == 206 and total and size is not None and int(total[1]) != size:
        findings.add(False, f"size: Content-Range says {int(total[1]):,} bytes, Content-Length {size:,}")
    expected = expected_format(remote.url)
    if looks_like_html(first):
        findings.add(False, "format: an HTML page")
    elif expected and expected[0] and not first.startswith(expected[0]):
        findings.add(False, f"format: not {expected[1]}, it starts with {first[:8]!r}")
    elif expected:
        findings.add(True, "format ok")
    served_md5 = _published_md5(headers)
    if remote.md5 and served_md5:
        _compare_hashes(remote, {"md5": served_md5}, findings)
    elif remote.md5:
        findings.add(True, "MD5 not checked (no x-goog-hash header; --full checks it)")
    if remote.sha256 or remote.gunzip_sha256:
        findings.add(True, "SHA-256 not checked (--full checks it)")


def check_remote(remote: Remote, timeout: float = DEFAULT_TIMEOUT_S, whole_below: int = WHOLE_BELOW,
                 full: bool = False) -> Row:
    """One table row for `remote`: its headers, then the whole file or its first bytes, against what is published."""
    findings, size = Findings(), None
    try:
        with socket_timeout(timeout):
            with urllib.request.urlopen(_request(remote.url, "HEAD"), timeout=timeout) as response:
                headers = response.headers
            length = str(headers.get("Content-Length") or "").strip()
            size = int(length) if length.isdigit() else None
            if remote.size is not None:
                findings.add(size == remote.size, "size = published" if size == remote.size else
                             f"size: {size} bytes, published {remote.size:,}")
            if full or size is None or size <= whole_below:
                with tempfile.TemporaryDirectory(prefix="online_check_") as scratch:
                    _check_whole(remote, size, timeout, Path(scratch), findings)
            else:
                _check_first_bytes(remote, size, headers, timeout, findings)
    except (OSError, urllib.error.URLError, ValueError) as error:
        findings.add(False, diagnose(error).reason)
    return Row(remote.name, "-" if size is None else _megabytes(size), findings.text(), findings.ok)


def check_detector(handle: str, timeout: float = DEFAULT_TIMEOUT_S, cache: Path | None = None) -> Row:
    """Load `handle` with hub.load into a fresh TF-Hub cache and check its `default` signature against the course's."""
    findings = Findings()
    with contextlib.ExitStack() as stack:
        folder = cache or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tfhub_check_")))
        stack.enter_context(_environment("TFHUB_CACHE_DIR", str(folder)))
        try:
            _check_signature(detection.load_hub_model(handle, timeout=timeout, offline=False), findings)
        except NotAvailableError as error:
            findings.add(False, error.failed[-1].split(": ", 1)[1] if error.failed else str(error))
        except Exception as error:  # a model that loads but breaks the contract when called
            findings.add(False, f"{type(error).__name__}: {str(error).splitlines()[0][:160]}")
    return Row("Faster R-CNN (hub.load)", "-", findings.text(), findings.ok)


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """Set an environment variable while the block runs."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def _check_signature(model, findings: Findings) -> None:
    """Findings on a loaded detector: its `default` signature's input, output keys and dtypes, and one call."""
    import numpy as np
    import tensorflow as tf

    if "default" not in model.signatures:
        findings.add(False, f"no 'default' signature (it has {sorted(model.signatures)})")
        return
    run = model.signatures["default"]
    outputs = {key: spec.dtype.name for key, spec in run.structured_outputs.items()}
    missing = [key for key in detection.OUTPUT_KEYS if key not in outputs]
    wrong = [f"{key} is {outputs[key]}, expected {dtype}" for key, dtype in detection.OUTPUT_DTYPES.items()
             if key in outputs and outputs[key] != dtype]
    inputs = [spec for spec in tf.nest.flatten(run.structured_input_signature) if isinstance(spec, tf.TensorSpec)]
    findings.add(not missing, f"outputs missing: {missing}" if missing else f"outputs {len(outputs)}: keys ok")
    findings.add(not wrong, f"dtypes: {', '.join(wrong)}" if wrong else "dtypes ok")
    one_image = (len(inputs) == 1 and inputs[0].dtype == tf.float32 and inputs[0].shape.rank == 4
                 and inputs[0].shape[-1] == 3)
    findings.add(one_image, "input float32 [1, H, W, 3]" if one_image else f"input: {inputs}")
    if findings.ok:
        result = detection.as_numpy(run(tf.constant(np.full((1, 64, 64, 3), 0.5, np.float32))))
        boxes = result["detection_boxes"]
        shaped = boxes.ndim == 2 and boxes.shape[1] == 4 and len(result["detection_scores"]) == len(boxes)
        findings.add(shaped, f"one call: {len(boxes)} boxes" if shaped else f"one call: boxes of shape {boxes.shape}")


def table(rows: Sequence[Row]) -> str:
    """The rows as one fixed-width text table."""
    width = max(len("what"), *(len(row.name) for row in rows))
    lines = [f"{'what':<{width}}  {'result':<6}  {'size':>10}  checked", "-" * (width + 30)]
    lines += [f"{row.name:<{width}}  {'ok' if row.ok else 'FAIL':<6}  {row.size:>10}  {row.checked}" for row in rows]
    failed = sum(not row.ok for row in rows)
    lines.append(f"{len(rows) - failed} of {len(rows)} ok" + (f"; {failed} FAILED" if failed else ""))
    return "\n".join(lines)


def run(remotes: Sequence[Remote], handle: str | None, *, timeout: float = DEFAULT_TIMEOUT_S,
        whole_below: int = WHOLE_BELOW, full: bool = False, out: Callable[[str], None] = print) -> int:
    """Check every remote (and the detector when `handle` is given); print one table; return the exit status."""
    urls = [remote.url for remote in remotes] + ([handle] if handle else [])
    reason = no_network(urls, min(timeout, 10.0))
    if reason is not None:
        out(f"online check skipped: no network ({reason})")
        return 0
    rows = [check_remote(remote, timeout, whole_below, full) for remote in remotes]
    if handle:
        rows.append(check_detector(handle, timeout))
    out(table(rows))
    return 0 if all(row.ok for row in rows) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: python -m tools.online_check [--full] [--timeout S] [--base URL] [--no-detector]."""
    parser = argparse.ArgumentParser(prog="python -m tools.online_check", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="fetch every file whole and check every hash")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds a stalled request may take")
    parser.add_argument("--base", help="fetch every remote from this server instead (keeps each URL's path)")
    parser.add_argument("--no-detector", action="store_true", help="do not load Faster R-CNN")
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    remotes = course_remotes()
    handle = None if args.no_detector else detection.FASTER_RCNN_HANDLE
    if args.base:
        remotes = [replace(remote, url=rebase(remote.url, args.base)) for remote in remotes]
        handle = handle and rebase(handle, args.base)
    return run(remotes, handle, timeout=args.timeout, full=args.full)


if __name__ == "__main__":
    sys.exit(main())
