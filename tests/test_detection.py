"""Tests of helpers.detection: boxes, IoU, matching, drawing coordinates, input preparation, hub loading policy."""

import os
import socket
import time

import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers import detection
from helpers.downloads import NotAvailableError


def test_iou_of_known_boxes():
    a = [[0, 0, 2, 2]]
    b = [[1, 1, 3, 3], [0, 0, 2, 2], [2, 2, 4, 4], [0, 0, 1, 1]]
    assert np.allclose(detection.iou(a, b), [[1 / 7, 1.0, 0.0, 0.25]])


def test_iou_is_symmetric_and_bounded():
    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 1, (20, 2, 2))
    boxes = np.concatenate([corners.min(1), corners.max(1)], axis=1)[:, [0, 1, 2, 3]]
    boxes = np.stack([np.minimum(boxes[:, 0], boxes[:, 2]), np.minimum(boxes[:, 1], boxes[:, 3]),
                      np.maximum(boxes[:, 0], boxes[:, 2]), np.maximum(boxes[:, 1], boxes[:, 3])], axis=1)
    matrix = detection.iou(boxes, boxes)
    assert np.allclose(matrix, matrix.T) and (matrix >= 0).all() and (matrix <= 1 + 1e-12).all()
    assert np.allclose(np.diag(matrix), 1.0)


def test_iou_of_empty_inputs_has_empty_shape():
    assert detection.iou(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)


def test_degenerate_boxes_have_zero_iou():
    assert detection.iou([[0.5, 0.5, 0.5, 0.5]], [[0.5, 0.5, 0.5, 0.5]])[0, 0] == 0.0


@pytest.mark.parametrize("boxes, message", [
    ([[0.6, 0.0, 0.2, 1.0]], "ymin > ymax"),
    ([[0.0, 0.9, 1.0, 0.1]], "ymin > ymax or xmin > xmax"),
    ([[0.0, 0.0, 1.0]], "shape"),
    ([0.0, 0.0, 1.0, 1.0], "shape"),
    ([[0.0, np.nan, 1.0, 1.0]], "NaN"),
    ("boxes", "shape"),
])
def test_bad_boxes_are_named(boxes, message):
    with pytest.raises(ValueError, match=message):
        detection.iou(boxes, [[0, 0, 1, 1]])


def test_box_conversions():
    assert detection.to_pixels([[0.25, 0.5, 0.75, 1.0]], 100, 200).tolist() == [[25, 100, 75, 200]]
    assert detection.from_xywh([[10, 20, 30, 40]]).tolist() == [[20, 10, 60, 40]]
    assert detection.from_xywh([]).shape == (0, 4)
    with pytest.raises(ValueError, match="positive"):
        detection.to_pixels([[0, 0, 1, 1]], 0, 10)
    with pytest.raises(ValueError, match="negative"):
        detection.from_xywh([[0, 0, -1, 5]])


def test_match_counts_one_to_one_same_label_hits():
    truth = [[0, 0, 10, 10], [20, 20, 30, 30]]
    predicted = [[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]]
    assert detection.match(predicted, [1, 1, 5, 1], truth, [1, 2]) == 1   # duplicate and wrong label do not count
    assert detection.match(predicted, [1, 1, 2, 1], truth, [1, 2]) == 2
    assert detection.match(np.zeros((0, 4)), [], truth, [1, 2]) == 0
    with pytest.raises(ValueError, match="one label per box"):
        detection.match(predicted, [1], truth, [1, 2])


def test_match_flags_mark_each_hit_in_order():
    truth = [[0, 0, 10, 10], [20, 20, 30, 30]]
    predicted = [[1, 1, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60]]
    # the first prediction takes the first true box (IoU 0.81), so the exact copy after it is a duplicate
    assert detection.match_flags(predicted, [1, 1, 2, 1], truth, [1, 2]).tolist() == [True, False, True, False]
    assert detection.match_flags(np.zeros((0, 4)), [], truth, [1, 2]).dtype == bool
    with pytest.raises(ValueError, match="one label per box"):
        detection.match_flags(predicted, [1, 2], truth, [1, 2])


def _result(scores):
    n = len(scores)
    return {"detection_boxes": np.tile([[0.1, 0.1, 0.2, 0.2]], (n, 1)), "detection_scores": np.array(scores),
            "detection_class_entities": np.array([b"digit 1"] * n, dtype=object),
            "detection_class_names": np.array([b"/course/digit_1"] * n, dtype=object),
            "detection_class_labels": np.full(n, 2)}


def test_as_numpy_decodes_labels_and_above_filters():
    result = detection.as_numpy(_result([0.9, 0.4, 0.7]))
    assert result["detection_class_entities"].tolist() == ["digit 1"] * 3
    kept = detection.above(result, 0.5)
    assert kept["detection_scores"].tolist() == [0.9, 0.7] and len(kept["detection_boxes"]) == 2
    with pytest.raises(KeyError, match="detection_boxes"):
        detection.as_numpy({"boxes": np.zeros((0, 4))})
    with pytest.raises(ValueError, match="min_score"):
        detection.above(result, 1.5)


def test_table_lists_pixel_boxes():
    text = detection.table(detection.as_numpy(_result([0.9])), 100, 200)
    assert text.splitlines()[1].split() == ["digit", "1", "0.90", "10", "20", "20", "40"]


def test_drawn_boxes_land_on_known_pixels():
    image = np.zeros((100, 200, 3), np.float32)
    fig = detection.draw_boxes(image, [[0.1, 0.25, 0.5, 0.75]], ["thing"], [0.875])
    ax = fig.axes[0]
    (rectangle,) = ax.patches
    # rows 10..49 and columns 50..149: edges at pixel 10 and 50 (top-left), 50 and 150 (bottom-right)
    assert rectangle.get_xy() == (49.5, 9.5)
    assert (rectangle.get_width(), rectangle.get_height()) == (100, 40)
    corner = ax.transData.transform((49.5, 9.5))
    expected = ax.transData.transform((50 - 0.5, 10 - 0.5))
    assert np.allclose(corner, expected)
    assert [text.get_text() for text in ax.texts] == ["thing: 88%"]
    assert ax.texts[0].get_position()[1] < 9.5   # the label sits above the box (rows grow downwards)


def test_the_better_boxs_label_is_drawn_over_a_worse_ones():
    image = np.zeros((100, 100, 3), np.float32)
    fig = detection.draw_boxes(image, [[0.2, 0.2, 0.5, 0.5], [0.21, 0.22, 0.4, 0.4]], ["best", "junk"], [0.99, 0.01])
    best, junk = fig.axes[0].texts
    assert best.get_text() == "best: 99%" and best.get_zorder() > junk.get_zorder()


def test_drawing_pixel_boxes_and_no_boxes():
    image = np.zeros((50, 60), np.float32)
    fig = detection.draw_boxes(image, [[5, 6, 15, 26]], normalized=False)
    assert fig.axes[0].patches[0].get_xy() == (5.5, 4.5)
    empty = detection.draw_boxes(image, np.zeros((0, 4)), title="nothing")
    assert not empty.axes[0].patches and empty.axes[0].get_title() == "nothing"
    with pytest.raises(ValueError, match="labels"):
        detection.draw_boxes(image, [[0, 0, 1, 1]], ["a", "b"])
    with pytest.raises(ValueError, match="image"):
        detection.draw_boxes(np.zeros(5), [[0, 0, 1, 1]])
    plt.close("all")


def test_boxes_take_one_colour_each_and_thin_translucent_lines():
    image = np.zeros((50, 60), np.float32)
    fig = detection.draw_boxes(image, [[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]], ["a", "b"], colour=["red", "cyan"],
                               linewidth=0.5, alpha=0.4)
    first, second = fig.axes[0].patches
    assert first.get_edgecolor()[:3] == (1.0, 0.0, 0.0) and second.get_edgecolor()[:3] == (0.0, 1.0, 1.0)
    assert first.get_linewidth() == 0.5 and first.get_alpha() == 0.4
    with pytest.raises(ValueError, match="colours"):
        detection.draw_boxes(image, [[0, 0, 1, 1]], colour=["red", "cyan"])
    with pytest.raises(ValueError, match="alpha"):
        detection.draw_boxes(image, [[0, 0, 1, 1]], alpha=0.0)


def test_prepare_image_converts_with_notes(capsys):
    rng = np.random.default_rng(3)
    out = detection.prepare_image(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))
    assert out.dtype == np.float32 and out.shape == (20, 30, 3) and out.max() <= 1
    assert "uint8" in capsys.readouterr().out
    gray = detection.prepare_image(rng.uniform(0, 1, (20, 30)))
    assert gray.shape == (20, 30, 3) and np.array_equal(gray[..., 0], gray[..., 2])
    rgba = np.zeros((4, 4, 4), np.float32)
    rgba[..., 0] = 1.0           # red, but fully transparent: becomes white
    assert np.allclose(detection.prepare_image(rgba), 1.0)
    big = detection.prepare_image(np.zeros((3000, 1500, 3), np.uint8), max_side=1000)
    assert big.shape == (1000, 500, 3)
    assert "resized from 1500x3000 to 500x1000" in capsys.readouterr().out


@pytest.mark.parametrize("image, error", [
    ("photo.jpg", TypeError), (np.zeros((4, 4, 2)), ValueError), (np.zeros((4, 4, 3)) + 2, ValueError),
    (np.zeros((4, 4, 3), np.int32), ValueError), (np.zeros(5), ValueError), (np.zeros((0, 4, 3)), ValueError),
    (np.array([["a"]]), TypeError),
])
def test_prepare_image_rejects_non_images(image, error):
    with pytest.raises(error):
        detection.prepare_image(image, verbose=False)


def _lock(folder, name, content, age=0.0):
    path = folder / name
    path.write_text(content)
    if age:
        stamp = path.stat().st_mtime - age
        os.utime(path, (stamp, stamp))
    return path


def test_stale_locks_are_removed_and_live_ones_kept(tmp_path):
    host = socket.gethostname()
    dead = _lock(tmp_path, "a" * 40 + ".lock", f"{host}.{2 ** 22 + 12345}.abc123")
    old = _lock(tmp_path, "b" * 40 + ".lock", "other-host.1.abc", age=3600)
    live = _lock(tmp_path, "c" * 40 + ".lock", f"{host}.{os.getpid()}.abc")
    foreign = _lock(tmp_path, "d" * 40 + ".lock", "other-host.1.abc")
    other_file = _lock(tmp_path, "e" * 40 + ".txt", "x", age=3600)
    removed = detection.remove_stale_locks(tmp_path, verbose=False)
    assert set(removed) == {dead, old}
    assert live.exists() and foreign.exists() and other_file.exists() and not dead.exists()


def test_stale_lock_cleanup_in_missing_folder_and_bad_age(tmp_path):
    assert detection.remove_stale_locks(tmp_path / "missing") == []
    with pytest.raises(ValueError, match="max_age_s"):
        detection.remove_stale_locks(tmp_path, max_age_s=0)


def test_hub_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    assert detection.hub_cache_dir() == tmp_path
    monkeypatch.delenv("TFHUB_CACHE_DIR")
    assert detection.hub_cache_dir().name == "tfhub_modules"


def test_default_handle_from_environment(monkeypatch):
    monkeypatch.delenv(detection.HANDLE_ENV, raising=False)
    assert detection.default_handle() == detection.FASTER_RCNN_HANDLE
    assert "kaggle.com/models/google/faster-rcnn-inception-resnet-v2" in detection.FASTER_RCNN_HANDLE
    monkeypatch.setenv(detection.HANDLE_ENV, "https://example.org/model/1")
    assert detection.default_handle() == "https://example.org/model/1"


def test_offline_hub_load_names_every_place(monkeypatch, tmp_path):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    with pytest.raises(NotAvailableError) as caught:
        detection.load_hub_model("https://example.org/model/1")
    assert "not tried (COURSE_OFFLINE=1)" in str(caught.value) and "TF-Hub cache" in str(caught.value)
    assert not caught.value.failed


def test_failed_download_is_reported_and_locks_cleaned(monkeypatch, tmp_path):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    stale = _lock(tmp_path, "f" * 40 + ".lock", "other-host.1.abc", age=3600)
    with pytest.raises(NotAvailableError) as caught:
        detection.load_hub_model("https://example.org/model/1", timeout=1.0, offline=False)
    assert caught.value.failed and "download failed" in caught.value.failed[0]
    assert not stale.exists()


def test_offline_fallback_to_a_local_detector(tmp_path, capsys):
    from helpers.downloads import first_available

    local = tmp_path / "detector"
    local.mkdir()
    (local / "saved_model.pb").write_bytes(b"")
    sources = [("Faster R-CNN", lambda: detection.load_hub_model("https://example.org/model/1")),
               ("local", lambda: str(local))]
    result, label = first_available("detector", sources)
    assert (result, label) == (str(local), "local") and "NOTE" not in capsys.readouterr().out


def test_local_folder_without_saved_model(tmp_path):
    with pytest.raises(NotAvailableError, match="no saved_model.pb"):
        detection.load_hub_model(str(tmp_path))
    with pytest.raises(ValueError, match="handle"):
        detection.load_hub_model("")


def test_a_live_download_keeps_its_lock_however_old_the_lock(tmp_path):
    """tensorflow_hub judges a lock by progress: the size of <module>.<uid>.tmp or the lock's content changing."""
    host = socket.gethostname()
    mine = _lock(tmp_path, "c" * 40 + ".lock", f"{host}.{os.getpid()}.feed01", age=3600)
    other = _lock(tmp_path, "d" * 40 + ".lock", "other-host.1.feed02", age=3600)
    for lock in (mine, other):
        uid = lock.read_text().rsplit(".", 1)[1]
        growing = tmp_path / f"{lock.stem}.{uid}.tmp" / "variables" / "variables.data-00000-of-00001"
        growing.parent.mkdir(parents=True)
        growing.write_bytes(b"x" * 10)  # written just now: the download is making progress
    assert detection.remove_stale_locks(tmp_path, verbose=False) == []
    assert mine.exists() and other.exists()


def test_a_lock_without_progress_for_tensorflow_hubs_timeout_is_stale_even_if_its_owner_runs(tmp_path):
    host = socket.gethostname()
    lock = _lock(tmp_path, "c" * 40 + ".lock", f"{host}.{os.getpid()}.feed03", age=3600)
    stalled = tmp_path / f"{'c' * 40}.feed03.tmp" / "saved_model.pb"
    stalled.parent.mkdir()
    stalled.write_bytes(b"x")
    stamp = time.time() - detection.LOCK_MAX_AGE_S - 60
    for path in (stalled, stalled.parent):
        os.utime(path, (stamp, stamp))
    assert detection.remove_stale_locks(tmp_path, verbose=False) == [lock]  # tensorflow_hub would take it over too


def test_lock_age_is_tensorflow_hubs_own_timeout():
    from tensorflow_hub import compressed_module_resolver

    assert detection.LOCK_MAX_AGE_S == compressed_module_resolver.LOCK_FILE_TIMEOUT_SEC


def test_a_refused_hub_download_says_what_a_403_means(monkeypatch, tmp_path, fake_server):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    handle = fake_server.add("models/detector/1", b"<html>Forbidden</html>", status=403, content_type="text/html")
    with pytest.raises(NotAvailableError) as caught:
        detection.load_hub_model(handle, timeout=5.0, offline=False)
    assert caught.value.failed == [f"{handle}: download failed (HTTP 403 Forbidden: the server refused the download)"]
    hint = caught.value.hint
    assert "reconnecting will not help" in hint and "connect to the internet" not in hint
    assert hint.endswith(f"or set {detection.HANDLE_ENV} to a downloaded copy (a SavedModel folder)")


def test_kaggle_403_advice_names_the_known_issue():
    advice = detection.hub_advice(detection.FASTER_RCNN_HANDLE, "the generic advice", status=403)
    assert "Kaggle" in advice and "tensorflow/hub#922" in advice and detection.HANDLE_ENV in advice
    assert detection.hub_advice("https://example.org/m/1", "the generic advice", status=403) == "the generic advice"
    assert detection.hub_advice(detection.FASTER_RCNN_HANDLE, "the generic advice", status=404) == "the generic advice"


def test_output_dtypes_cover_the_output_keys():
    assert set(detection.OUTPUT_DTYPES) == set(detection.OUTPUT_KEYS)


# --- the score-threshold view behind chapter 09's slider ------------------------------------------


@pytest.fixture
def threshold_view():
    """Two scenes of two digits and the detections on them, best first, for show_score_threshold."""
    from helpers.digit_detector import Detections
    from helpers.scenes import Scene

    truth = np.array([[0.1, 0.1, 0.3, 0.3], [0.6, 0.6, 0.8, 0.8]])
    scenes = [Scene(np.zeros((40, 40, 3), np.float32), truth, np.array([3, 7])) for _ in range(2)]
    boxes = np.array([[0.1, 0.1, 0.3, 0.3], [0.4, 0.0, 0.5, 0.1], [0.6, 0.6, 0.8, 0.8], [0.0, 0.8, 0.1, 0.9]])
    scores = np.array([0.95, 0.6, 0.3, 0.01])
    result = {"detection_boxes": boxes, "detection_scores": scores, "detection_class_labels": np.array([4, 2, 8, 5]),
              "detection_class_entities": np.array(["digit 3", "digit 1", "digit 7", "digit 4"], dtype=object)}
    hits = np.array([True, False, True, False])               # digit 3 and digit 7 on their true boxes
    found = Detections(np.tile(scores, 2), np.tile(hits, 2), np.repeat([0, 1], 4), digits=4, seconds=np.ones(2))
    return scenes, [result, result], found


@pytest.mark.parametrize("min_score, drawn, colours", [(0.9, 1, ["yellow"]), (0.5, 2, ["yellow", "red"]),
                                                        (0.0, 4, ["yellow", "red", "yellow", "red"])])
def test_score_threshold_view_draws_the_boxes_that_pass(threshold_view, min_score, drawn, colours):
    from matplotlib.colors import to_rgb

    from helpers.digit_detector import recall_precision

    scenes, results, found = threshold_view
    fig = detection.show_score_threshold(min_score, scenes[:1], results[:1], found, ["scene A"])
    scene_ax, curves = fig.axes
    assert [patch.get_edgecolor()[:3] for patch in scene_ax.patches] == [to_rgb(c) for c in colours]
    hits = colours.count("yellow")
    assert scene_ax.get_title() == f"scene A: 2 digits\n{drawn} boxes: {hits} hits, {drawn - hits} false (red)"
    at = recall_precision(found, min_score)
    assert fig._suptitle.get_text() == (f"Score >= {min_score:.2f}: recall {at['recall']:.3f}, precision "
                                        f"{at['precision']:.3f} over 2 scenes (4 digits, {2 * drawn} boxes kept)")
    recall, precision, marker = curves.lines
    assert list(marker.get_xdata()) == [min_score, min_score]                  # the dashed line at the threshold
    at_marker = list(recall.get_xdata()).index(min_score)
    assert recall.get_ydata()[at_marker] == at["recall"] and precision.get_ydata()[at_marker] == at["precision"]
    plt.close(fig)


def test_score_threshold_view_changes_with_the_threshold(threshold_view):
    scenes, results, found = threshold_view
    drawn = []
    for min_score in (0.99, 0.9, 0.5, 0.2, 0.0):
        fig = detection.show_score_threshold(min_score, scenes, results, found)
        drawn.append([len(ax.patches) for ax in fig.axes[:2]])
        assert [ax.get_title().split(":")[0] for ax in fig.axes[:2]] == ["scene 0", "scene 1"]
        plt.close(fig)
    assert drawn == [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4]]                   # lower threshold, more boxes


def test_score_threshold_view_with_no_box_kept_and_with_many(threshold_view, monkeypatch):
    scenes, results, found = threshold_view
    fig = detection.show_score_threshold(1.0, scenes[:1], results[:1], found)
    assert "recall 0.000, precision undefined (no box kept)" in fig._suptitle.get_text()
    assert np.isnan(fig.axes[1].lines[1].get_ydata()[-1])                      # no precision where nothing is kept
    monkeypatch.setattr(detection, "MAX_LABELLED", 1)
    fig = detection.show_score_threshold(0.5, scenes[:1], results[:1], found)  # 2 boxes: more than 1, so unlabelled
    assert not fig.axes[0].texts and {patch.get_linewidth() for patch in fig.axes[0].patches} == {0.8}
    plt.close("all")


@pytest.mark.parametrize("change, error, message", [
    ({"min_score": 1.5}, ValueError, r"min_score must be a number in \[0, 1\], got 1.5"),
    ({"min_score": "0.5"}, ValueError, "min_score must be a number"),
    ({"min_score": True}, ValueError, "min_score must be a number"),
    ({"min_score": float("nan")}, ValueError, "min_score must be a number"),
    ({"scenes": []}, ValueError, "show 1 to 3 scenes beside the curves, got 0"),
    ({"scenes": "many"}, ValueError, "show 1 to 3 scenes beside the curves, got 4"),
    ({"results": "one"}, ValueError, "need one detector result per scene, got 3 results for 2 scenes"),
    ({"names": ["only one"]}, ValueError, "need one name per scene, got 1 names for 2 scenes"),
    ({"found": {"detection_scores": []}}, TypeError, "found must be the Detections of digit_detector.detect_all"),
])
def test_score_threshold_view_rejects_bad_input(threshold_view, change, error, message):
    scenes, results, found = threshold_view
    arguments = {"min_score": 0.5, "scenes": scenes, "results": results, "found": found, "names": (), **change}
    if arguments["scenes"] == "many":
        arguments["scenes"] = arguments["results"] = scenes * 2
    if arguments["results"] == "one":
        arguments["results"] = results + results[:1]
    with pytest.raises(error, match=message):
        detection.show_score_threshold(**arguments)
    plt.close("all")
