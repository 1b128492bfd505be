"""Unit tests of tools.online_check against loopback fakes: the real servers are only reached by a maintainer."""

import base64
import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from helpers import datasets, detection, flowers, pretrained
from helpers.paths import project_root
from tools import online_check
from tools.online_check import Remote


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def files(tmp_path, write_jpeg):
    """Small valid files of each kind the course fetches: name -> bytes."""
    import h5py

    with h5py.File(tmp_path / "w.h5", "w") as handle:
        handle["kernel"] = np.arange(50_000, dtype="float32")  # 200 kB: larger than the tests' whole-file limit
    buffer = io.BytesIO()
    np.savez(buffer, x=np.arange(10))
    return {"w.h5": (tmp_path / "w.h5").read_bytes(), "mnist.npz": buffer.getvalue(),
            "labels.gz": gzip.compress(b"\x00\x00\x08\x01" + bytes(10)),
            "photo.jpg": write_jpeg(tmp_path / "p.jpg", size=(40, 30)).read_bytes(),
            "index.json": json.dumps({"0": ["n01", "tench"]}).encode()}


def goog_hash(data: bytes) -> dict:
    """Cloud Storage's x-goog-hash header for `data`."""
    return {"x-goog-hash": f"crc32c=AAAAAA==,md5={base64.b64encode(hashlib.md5(data).digest()).decode()}"}


# --- the list of remotes is the course's -------------------------------------------------------------


def test_course_remotes_are_every_url_the_helpers_fetch():
    urls = {remote.url for remote in online_check.course_remotes()}
    chapter_08 = [pretrained.weight_file("ResNet50"), pretrained.weight_file("MobileNetV2"),
                  *(pretrained.weight_file("MobileNetV2", include_top=False, size=s) for s in (96, 160))]
    expected = {datasets.KERAS_ORIGIN + "mnist.npz", flowers.FLOWERS_URL, flowers.NEW_PHOTO_URL,
                pretrained.CLASS_INDEX_URL, *(datasets.fashion_url(f) for f, _ in datasets.FASHION_FILES.values()),
                *(file.url for file in chapter_08)}
    assert expected <= urls
    by_url = {remote.url: remote for remote in online_check.course_remotes()}
    assert by_url[flowers.FLOWERS_URL].size == 228_813_984
    assert by_url[flowers.FLOWERS_URL].sha256 == flowers.FLOWERS_SHA256
    assert by_url[pretrained.weight_file("ResNet50").url].md5 == pretrained.weight_file("ResNet50").md5
    assert all(by_url[datasets.fashion_url(f)].gunzip_sha256 == sha for f, sha in datasets.FASHION_FILES.values())


def test_rebase_keeps_the_path_and_takes_the_new_host():
    assert online_check.rebase("https://storage.googleapis.com/a/b.h5", "http://127.0.0.1:8000/") == \
        "http://127.0.0.1:8000/a/b.h5"
    assert online_check.rebase("https://www.kaggle.com/models/x/1?q=1", "http://h:1/mirror") == \
        "http://h:1/mirror/models/x/1?q=1"


# --- one remote file -------------------------------------------------------------------------------


def test_whole_files_pass_when_size_format_and_hashes_match(fake_server, files):
    remotes = [Remote("npz", fake_server.add("mnist.npz", files["mnist.npz"]), sha256=sha256(files["mnist.npz"])),
               Remote("gz", fake_server.add("labels.gz", files["labels.gz"]),
                      gunzip_sha256=sha256(gzip.decompress(files["labels.gz"]))),
               Remote("h5", fake_server.add("w.h5", files["w.h5"]), size=len(files["w.h5"])),
               Remote("jpg", fake_server.add("photo.jpg", files["photo.jpg"])),
               Remote("json", fake_server.add("index.json", files["index.json"]), md5=md5(files["index.json"]))]
    rows = [online_check.check_remote(remote, timeout=5) for remote in remotes]
    assert all(row.ok for row in rows), rows
    assert rows[0].checked == "whole file; format ok; SHA-256 ok"
    assert rows[1].checked == "whole file; format ok; SHA-256 of the unpacked bytes ok"
    assert rows[2].checked == "size = published; whole file; format ok" and rows[2].size.endswith(" B")
    assert rows[4].checked == "whole file; format ok; MD5 ok"


@pytest.mark.parametrize("case, expected", [
    ("hash", "FAILED SHA-256 "), ("missing", "FAILED HTTP 404 Not Found: the server has no file at this address"),
    ("refused", "FAILED HTTP 403 Forbidden: the server refused the download"), ("cut", "FAILED cut short: received"),
    ("page", "FAILED format: an HTML page (Content-Type text/html), not an HDF5 file"),
    ("size", "FAILED size: "),
])
def test_a_remote_that_breaks_its_contract_fails_with_the_reason(fake_server, files, case, expected):
    data = files["w.h5"]
    make = {"hash": lambda: Remote("h5", fake_server.add("w.h5", data), sha256="0" * 64),
            "missing": lambda: Remote("h5", fake_server.url + "gone.h5"),
            "refused": lambda: Remote("h5", fake_server.add("w.h5", b"no", status=403)),
            "cut": lambda: Remote("h5", fake_server.add("w.h5", data, cut_at=100)),
            "page": lambda: Remote("h5", fake_server.add("w.h5", b"<!DOCTYPE html><html>sign in</html>",
                                                         content_type="text/html")),
            "size": lambda: Remote("h5", fake_server.add("w.h5", data), size=len(data) + 1)}
    remote = make[case]()
    row = online_check.check_remote(remote, timeout=5)
    assert not row.ok and expected in row.checked


def test_large_files_are_checked_by_first_bytes_and_cloud_storage_md5(fake_server, files):
    data = files["w.h5"]
    good = Remote("h5", fake_server.add("w.h5", data, headers=goog_hash(data)), md5=md5(data))
    row = online_check.check_remote(good, timeout=5, whole_below=1000)
    assert row.ok and row.checked == "first 4,096 bytes; format ok; MD5 ok"
    assert [method for method, _, _ in fake_server.requests] == ["HEAD", "GET"]
    assert fake_server.requests[1][2]["Range"] == "bytes=0-4095"
    changed = Remote("h5", fake_server.add("v.h5", data, headers=goog_hash(data + b"x")), md5=md5(data))
    assert "FAILED MD5 " in online_check.check_remote(changed, timeout=5, whole_below=1000).checked
    unhashed = Remote("h5", fake_server.add("u.h5", data), md5=md5(data), sha256=None)
    assert "MD5 not checked" in online_check.check_remote(unhashed, timeout=5, whole_below=1000).checked
    page = Remote("h5", fake_server.add("p.h5", b"<html>" + bytes(5000), content_type="text/html"))
    assert "FAILED format: an HTML page" in online_check.check_remote(page, timeout=5, whole_below=1000).checked
    jpeg_named = Remote("x.jpg", fake_server.add("x.jpg", data))
    assert "FAILED format: not a JPEG image" in online_check.check_remote(jpeg_named, timeout=5,
                                                                         whole_below=1000).checked


def test_full_fetches_large_files_whole_and_checks_their_sha256(fake_server, files):
    data = files["w.h5"]
    remote = Remote("h5", fake_server.add("w.h5", data), sha256=sha256(data))
    assert "SHA-256 not checked" in online_check.check_remote(remote, timeout=5, whole_below=1000).checked
    assert online_check.check_remote(remote, timeout=5, whole_below=1000, full=True).checked == (
        "whole file; format ok; SHA-256 ok")


# --- the detector ------------------------------------------------------------------------------------


def fake_detector_archive(folder, labels_dtype="int64") -> bytes:
    """A SavedModel with the course's `default` signature as the .tar.gz tensorflow_hub downloads."""
    import tensorflow as tf

    class Detector(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32, name="images")])
        def default(self, images):
            n = tf.shape(images)[0]  # one image: two boxes
            return {"detection_boxes": tf.tile([[0.1, 0.1, 0.5, 0.5]], [2 * n, 1]),
                    "detection_scores": tf.constant([0.9, 0.4]),
                    "detection_class_entities": tf.constant([b"Cat", b"Dog"]),
                    "detection_class_names": tf.constant([b"/m/01yrx", b"/m/0bt9lr"]),
                    "detection_class_labels": tf.cast(tf.constant([1, 2]), labels_dtype)}

    module = Detector()
    tf.saved_model.save(module, str(folder), signatures={"default": module.default})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            archive.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    return buffer.getvalue()


def test_the_detector_contract_is_checked_through_hub_load(fake_server, tmp_path):
    good = fake_server.add("models/good/1", fake_detector_archive(tmp_path / "good"), content_type="application/x-tar")
    row = online_check.check_detector(good, timeout=20, cache=tmp_path / "hub")
    assert row.ok and row.checked == ("outputs 5: keys ok; dtypes ok; input float32 [1, H, W, 3]; one call: 2 boxes")
    assert fake_server.requests[-1][1] == "/models/good/1?tf-hub-format=compressed"  # the way hub.load asks
    bad = fake_server.add("models/bad/1", fake_detector_archive(tmp_path / "bad", "float32"))
    row = online_check.check_detector(bad, timeout=20, cache=tmp_path / "hub")
    assert not row.ok and "FAILED dtypes: detection_class_labels is float32, expected int64" in row.checked
    refused = fake_server.add("models/refused/1", b"no", status=403)
    row = online_check.check_detector(refused, timeout=20)
    assert not row.ok and row.checked == "FAILED download failed (HTTP 403 Forbidden: the server refused the download)"


# --- the whole run -----------------------------------------------------------------------------------


def test_without_network_it_prints_one_line_and_succeeds(capsys):
    assert online_check.main([]) == 0  # the unit tests' guard refuses every connection that is not loopback
    out = capsys.readouterr().out
    assert out.startswith("online check skipped: no network (storage.googleapis.com:443: OSError: network disabled")
    assert out.count("\n") == 1


def test_a_run_prints_one_table_and_fails_if_any_row_fails(fake_server, files):
    data = files["w.h5"]
    ok = Remote("weights w.h5", fake_server.add("w.h5", data), md5=md5(data))
    lines = []
    assert online_check.run([ok], None, timeout=5, out=lines.append) == 0
    assert lines[0].splitlines()[0].split() == ["what", "result", "size", "checked"]
    assert lines[0].splitlines()[-1] == "1 of 1 ok"
    gone = Remote("gone.h5", fake_server.url + "gone.h5")
    assert online_check.run([ok, gone], None, timeout=5, out=lines.append) == 1
    assert lines[1].splitlines()[-1] == "1 of 2 ok; 1 FAILED" and len(lines) == 2


def test_main_against_a_mirror_checks_every_course_remote(fake_server, capsys):
    assert online_check.main(["--base", fake_server.url, "--no-detector", "--timeout", "5"]) == 1  # the fake has none
    table = capsys.readouterr().out.splitlines()
    assert len(table) == 2 + len(online_check.course_remotes()) + 1
    assert all("FAILED HTTP 404 Not Found" in line for line in table[2:-1])
    assert {path for method, path, _ in fake_server.requests if method == "HEAD"} == {
        "/" + remote.url.split("/", 3)[3] for remote in online_check.course_remotes()}


def test_main_rejects_a_bad_timeout():
    with pytest.raises(SystemExit):
        online_check.main(["--timeout", "0"])


def test_runs_as_a_module_and_skips_without_network():
    done = subprocess.run([sys.executable, "-m", "tools.online_check", "--base", "http://127.0.0.1:1/",
                           "--no-detector", "--timeout", "2"], cwd=project_root(), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("online check skipped: no network (127.0.0.1:1: ") and done.stdout.count("\n") == 1


def test_cloud_storage_md5_is_read_from_one_or_two_x_goog_hash_headers():
    from email.message import Message

    digest = hashlib.md5(b"weights").digest()
    two, one, none = Message(), Message(), Message()
    two["x-goog-hash"] = "crc32c=n03x6A=="
    two["x-goog-hash"] = f"md5={base64.b64encode(digest).decode()}"
    one["x-goog-hash"] = f"crc32c=n03x6A==,md5={base64.b64encode(digest).decode()}"
    assert online_check._published_md5(two) == online_check._published_md5(one) == md5(b"weights")
    assert online_check._published_md5(none) is None
