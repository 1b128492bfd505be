"""Chapter 09's exercise checks: each passes on its reference answer and fails, with its intended message, on the
wrong answers learners typically give."""

import numpy as np
import pytest

from helpers.digit_detector import Detections
from helpers.exercises import REGISTRY


def expect(exercise_id, answers, words, **context):
    """The check's line for these answers: correct when `words` is None, else "not yet" naming `words`."""
    line = REGISTRY.verdict(exercise_id, *answers, **context)
    if words is None:
        assert line.startswith(f"{exercise_id} correct: "), line
    else:
        assert f"{exercise_id} not yet: " in line and words in line, line


def test_every_chapter_09_exercise_is_registered_and_its_blanks_are_not_attempted():
    items = REGISTRY.of_chapter("09")
    assert [item.id for item in items] == ["09.1", "09.2", "09.3", "09.4", "09.5"]
    for item in items:
        line = REGISTRY.verdict(item.id, *[...] * len(item.answers), **{name: None for name, _ in item.context})
        assert line.startswith(f"{item.id} not attempted yet: "), line


# --- 09.1 the window grid on a 512-pixel scene --------------------------------------------------


def test_09_1_the_reference_shape_is_what_the_net_gives():
    from helpers.digit_detector import build_detector_net

    import tensorflow as tf

    output = build_detector_net(seed=0)(np.zeros((1, 512, 512, 1), np.float32))
    expect("09.1", (tuple(output.shape),), None)
    expect("09.1", (output.shape,), None)                            # a TensorShape as it comes
    expect("09.1", (tf.shape(output),), None)                        # a tensor of whole numbers


@pytest.mark.parametrize("answer, words", [
    ((1, 122, 122, 15), None),
    ([1, 122, 122, 15], None),
    (np.array([1, 122, 122, 15]), None),
    ((122, 122, 15), "no batch axis"),
    ((1, 128, 128, 15), "all 26 pixels an output sees"),
    ((1, 121, 121, 15), "one short"),
    ((1, None, None, 15), "a shape with unknown sizes"),
    ((1, 126, 126, 15), "after the second pooling"),
    ((1, 122, 122, 11), "joins the 11 class logits and the 4 box numbers"),
    ((1, 122, 122, 24), "not 24"),
    ((1, 122, 121, 15), "the image is square"),
    ((1, 64, 64, 15), "64 windows per side is not what the net gives"),
    ((1, 122.0, 122, 15), "whole numbers"),
    ("(1, 122, 122, 15)", "should be a shape"),
    (122, "should be a shape"),
    (np.zeros((1, 122, 122, 15)), "the output itself"),
])
def test_09_1_window_grid(answer, words):
    expect("09.1", (answer,), words)


# --- 09.2 the window layer's parameters ---------------------------------------------------------


@pytest.fixture(scope="module")
def window_net():
    from helpers.digit_detector import build_detector_net

    return build_detector_net(seed=0)


@pytest.mark.parametrize("answer, words", [
    (5 * 5 * 24 * 48, None),
    (np.int64(28800), None),
    (28800.0, None),
    (5 * 5 * 24 * 48 + 48, "use_bias=False"),
    (5 * 5 * 24 * 48 + 4 * 48, "a layer of its own"),
    (5 * 5 * 24 * 48 + 2 * 48, "a layer of its own"),
    (5 * 5 * 48, "one per incoming map (24"),
    (3 * 3 * 24 * 48, "uses 3x3 kernels"),
    (5 * 5 * 8 * 48, "conv1's"),
    (31655, "the whole net"),
    (31495, "the whole net"),
    ((5, 5, 24, 48), "the kernel's shape"),
    ("28800", "should be a number"),
    (12345, "does not have 12,345 parameters"),
])
def test_09_2_window_layer_parameters(window_net, answer, words):
    expect("09.2", (answer,), words, net=window_net)


def test_09_2_the_reference_count_is_keras_own(window_net):
    assert window_net.get_layer("window").count_params() == 5 * 5 * 24 * 48
    assert window_net.count_params() == 31655


def test_09_2_the_kernel_or_its_tensor_shape_are_named(window_net):
    kernel = window_net.get_layer("window").kernel
    expect("09.2", (kernel.shape if hasattr(kernel.shape, "as_list") else tuple(kernel.shape),), "the kernel's shape",
           net=window_net)
    expect("09.2", (kernel,), "this is the kernel itself", net=window_net)


def test_09_3_a_found_that_was_replaced_is_named(found):
    expect("09.3", (0.5, 0.5), "no longer section 6's detections", found={"detection_scores": []}, min_score=0.9)


# --- 09.3 recall and precision at score >= 0.5 ----------------------------------------------------


@pytest.fixture(scope="module")
def found():
    """Ten detections on 9 true digits: 5 hits above 0.9, 1 hit and 2 misses in 0.5-0.9, a weak hit and a miss."""
    scores = np.array([0.99, 0.97, 0.95, 0.93, 0.91, 0.8, 0.7, 0.6, 0.3, 0.2])
    hits = np.array([True, True, True, True, True, True, False, False, True, False])
    return Detections(scores, hits, np.zeros(10, int), digits=9, seconds=np.array([0.1]))


@pytest.mark.parametrize("answers, words", [
    ((6 / 9, 6 / 8), None),
    ((np.float64(6 / 9), 0.75), None),
    ((6 / 9 + 1e-9, 6 / 8), None),
    ((6 / 8, 6 / 9), "recall and precision are swapped"),
    ((5 / 9, 5 / 5), "these are the numbers at MIN_SCORE = 0.9"),
    ((6 / 7, 6 / 8), "divides by the 7 digits found at some score"),
    ((6 / 9, 6 / 10), "divides by all 10 detections"),
    ((66.7, 75.0), "fractions between 0 and 1"),
    ((0.5, 6 / 8), "the recall is not 0.5000"),
    ((6 / 9, 0.5), "the recall is right, the precision is not 0.5000"),
    (({"recall": 6 / 9, "precision": 0.75}, {"recall": 6 / 9, "precision": 0.75}), "whole dictionary"),
    (("0.75", 0.75), "should be a number"),
])
def test_09_3_recall_and_precision_at_half(found, answers, words):
    expect("09.3", answers, words, found=found, min_score=0.9)


def test_09_3_the_reference_solution_agrees_with_the_chapters_helper(found):
    from helpers.digit_detector import recall_precision

    namespace = {"found": found, "MIN_SCORE": 0.9, "at_threshold": recall_precision(found, 0.9)}
    exec(REGISTRY.get("09.3").solution, namespace)
    at_half = recall_precision(found, 0.5)
    assert (namespace["recall_at_half"], namespace["precision_at_half"]) == (at_half["recall"], at_half["precision"])


# --- 09.4 a looser NMS limit -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def candidates():
    """Boxes best first: a digit's box, copies shifted by 2, 8 and 20 of its 40 pixels, and a box elsewhere."""
    import tensorflow as tf

    def shifted(d):
        return [0.1, 0.1 + d / 400, 0.2, 0.2 + d / 400]

    boxes = np.array([shifted(0), shifted(2), shifted(8), shifted(20), [0.6, 0.6, 0.7, 0.7]], np.float32)
    scores = np.array([0.99, 0.95, 0.9, 0.85, 0.8], np.float32)
    strict = tf.gather(boxes, tf.image.non_max_suppression(boxes, scores, 10, iou_threshold=0.3)).numpy()
    return boxes, scores, strict


def test_09_4_the_limits_keep_what_the_fixture_intends(candidates):
    boxes, _, strict = candidates
    import tensorflow as tf

    from helpers import detection

    assert len(strict) == 2                                     # at 0.3 only the best and the box elsewhere stay
    namespace = {"np": np, "tf": tf, "detection": detection, "boxes": boxes, "scores": candidates[1], "after": strict}
    exec(REGISTRY.get("09.4").solution, namespace)
    assert len(namespace["after_loose"]) == 4                  # at 0.7 the copies shifted by 8 and 20 pixels stay too
    expect("09.4", (namespace["after_loose"],), None, boxes=boxes, scores=candidates[1], strict=strict)


def test_09_4_looser_nms(candidates):
    import tensorflow as tf

    boxes, scores, strict = candidates

    def nms(limit, size=10):
        return tf.image.non_max_suppression(boxes, scores, size, iou_threshold=limit)

    def answer(value, words):
        expect("09.4", (value,), words, boxes=tf.constant(boxes), scores=tf.constant(scores), strict=strict)

    right = tf.gather(boxes, nms(0.7))
    answer(right, None)
    answer(right.numpy()[::-1], None)                            # any order
    answer(right.numpy().tolist(), None)
    answer(strict, "kept with iou_threshold=0.3")
    answer(boxes, "all 5 boxes before suppression")
    answer(nms(0.7).numpy(), "indices")
    answer(tf.gather(boxes, nms(0.7, size=2)), "max_output_size caps")
    answer(tf.gather(boxes, nms(0.5)), "keeps 4 of section 5's 5 boxes, these are 3 others")
    elsewhere = np.concatenate([right.numpy(), [[0.3, 0.3, 0.4, 0.4]]])     # NMS over more candidates than `boxes`
    answer(elsewhere, "not among section 5's `boxes`")
    answer(np.zeros((4, 3)), "shape (N, 4)")
    answer("boxes", "should be an array of numbers")


# --- 09.5 a scene of ten digits ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    """60 block 'digits' (a bright square of ink in a 28x28 frame), labels 0-9."""
    images = np.zeros((60, 28, 28), np.uint8)
    images[:, 6:22, 8:20] = 255
    return images, np.arange(60) % 10


def fake_detector(scene, scores, extra=0):
    """A detector's `default` function that boxes the scene's digits with these scores, plus `extra` false boxes."""
    import tensorflow as tf

    labels = scene.labels.tolist() + [0] * extra
    boxes = np.concatenate([scene.boxes, np.tile([[0.0, 0.0, 0.001, 0.001]], (extra, 1))]).astype(np.float32)
    all_scores = np.array(list(scores) + [0.99] * extra, np.float32)
    order = np.argsort(-all_scores, kind="stable")

    def run(images):
        names = [f"digit {labels[i]}" for i in order]
        return {"detection_boxes": tf.constant(boxes[order]), "detection_scores": tf.constant(all_scores[order]),
                "detection_class_entities": tf.constant(names), "detection_class_names": tf.constant(names),
                "detection_class_labels": tf.constant([labels[i] + 1 for i in order], tf.int64)}

    return run


def test_09_5_a_scene_of_ten_digits(digits):
    from helpers import digit_detector, scenes

    crowded = scenes.make_scene(np.random.default_rng(10), *digits, count=(10, 10))
    assert len(crowded.labels) == 10
    final = fake_detector(crowded, [0.95] * 7 + [0.6] * 2 + [0.3], extra=1)    # at 0.9: recall 0.7, precision 7/8
    stage_1 = fake_detector(crowded, [0.95] * 4 + [0.3] * 6)                  # at 0.9: recall 0.4

    def answer(scene, recall, words):
        expect("09.5", (scene, recall), words, detector=final, stage_1=stage_1, min_score=0.9)

    answer(crowded, 0.7, None)
    answer(crowded, digit_detector.evaluate(final, [crowded], min_score=0.9)["recall"], None)
    answer(crowded, 0.9, "evaluate's default")
    answer(crowded, 0.4, "stage 1's recall")
    answer(crowded, 7 / 8, "this is the precision")
    answer(crowded, 7, "looks like a count")
    answer(crowded, digit_detector.evaluate(final, [crowded], min_score=0.9), "whole dictionary")
    answer(crowded, 0.1, "is not 0.1")
    answer(scenes.make_scene(np.random.default_rng(10), *digits), 0.7, "pass count=(10, 10)")
    answer(crowded.image, 0.7, "should be a scene from scenes.make_scene")
    answer(scenes.make_scene(np.random.default_rng(3), *digits, size=256, count=(10, 10)), 0.7,
           "the scene is (256, 256, 3)")
    answer(scenes.Scene(crowded.image, crowded.boxes[:8], crowded.labels[:8]), 0.7, "found no free spot")
    answer(crowded, "0.7", "should be a number")
