"""Unit tests of helpers.exercises: the check/hint/solution machinery, and every chapter's checks against its
reference answer and the wrong answers learners typically give."""

import dataclasses
import re

import cv2
import numpy as np
import pytest
from PIL import Image

from helpers import exercises, images
from helpers.exercises import REGISTRY, Exercise, NotYet, Registry, as_array, as_choice, as_number, is_blank


def make(exercise_id="99.1", checker=None, **fields):
    """An Exercise with valid defaults; `checker` takes one answer and passes only 42."""

    def answer_is_42(answer):
        if answer != 42:
            raise NotYet(f"{answer!r} is not 42")

    values = {"why": "Because.", "hint": "Think of 6 x 7.", "scaffold": "answer = ...", "solution": "answer = 42"}
    values.update(fields)
    return Exercise(exercise_id, checker or answer_is_42, **values)


@pytest.fixture
def registry():
    """A registry of its own with exercise 99.1 (the answer is 42) and 99.2 (two answers, None allowed)."""
    own = Registry()
    own.add(make())

    def two(first, second, *, scale=1):
        if first is None:
            raise NotYet("`first` is None")
        if second != 2 * scale:
            raise ValueError("second is wrong in an unforeseen way")

    own.add(make("99.2", two, scaffold="first = ...\nsecond = ...", solution="first, second = 1, 2",
                 none_is_blank=False))
    return own


# --- the machinery -------------------------------------------------------------------------


def test_an_exercise_knows_its_chapter_number_answers_and_check_call():
    item = make("05.12", lambda maps, model, *, extra=None: None)
    assert (item.chapter, item.number, item.answers) == ("05", 12, ("maps", "model"))
    assert item.check_call == 'check("05.12", maps, model)'


@pytest.mark.parametrize("fields, words", [
    ({"exercise_id": "5.3"}, "exercise id must look like '05.3'"),
    ({"exercise_id": "05.0"}, "exercise id must look like '05.3'"),
    ({"checker": lambda *, keyword=1: None}, "needs at least one answer parameter"),
    ({"why": "  "}, "why must be a non-empty string"),
    ({"hint": None}, "hint must be a non-empty string"),
    ({"solution": "answer = = 42"}, "<solution 99.1> is not valid Python"),
    ({"scaffold": "answer = (..."}, "<scaffold 99.1> is not valid Python"),
])
def test_a_malformed_exercise_is_refused_with_a_clear_message(fields, words):
    with pytest.raises(ValueError) as error:
        make(**fields)
    assert words in str(error.value)


def test_the_registry_refuses_duplicates_and_non_exercises(registry):
    with pytest.raises(ValueError, match="exercise 99.1 is registered twice"):
        registry.add(make())
    with pytest.raises(TypeError, match="can only register an Exercise, got dict"):
        registry.add({"id": "99.3"})


@pytest.mark.parametrize("bad, words", [
    ("99.7", "there is no exercise 99.7; chapter 99 has: 99.1, 99.2"),
    ("98.1", "there is no exercise 98.1; chapter 98 has: none"),
    ("1.1", "an exercise id looks like '05.3'"),
    (1.1, "an exercise id looks like '05.3' (a string: chapter.number), got 1.1"),
])
def test_an_unknown_or_malformed_id_is_a_clear_error(registry, bad, words):
    with pytest.raises(ValueError) as error:
        registry.get(bad)
    assert words in str(error.value)
    assert not registry.knows(bad)


def test_chapters_and_their_exercises_in_order(registry):
    registry.add(make("99.10"))
    assert [item.id for item in registry.of_chapter("99")] == ["99.1", "99.2", "99.10"]
    assert registry.chapters() == ["99"] and registry.of_chapter("98") == []
    with pytest.raises(ValueError, match="a chapter is two digits such as '05', got 5"):
        registry.of_chapter(5)


def test_the_course_registry_loads_each_chapters_module_on_first_use():
    assert {"01", "02"} <= set(REGISTRY.chapters())
    assert REGISTRY.knows("01.1") and not REGISTRY.knows("01.99")
    for chapter in REGISTRY.chapters():
        for item in REGISTRY.of_chapter(chapter):
            assert item.checker.__module__ == f"helpers.exercises.ch{chapter}", f"{item.id} lives in the wrong module"


@pytest.mark.parametrize("value, none_is_blank, blank", [
    (..., True, True), (None, True, True), (None, False, False), ([1, ...], True, True), ((..., ...), True, True),
    (0, True, False), ("", True, False), ([], True, False), (np.zeros(3), True, False),
])
def test_is_blank_knows_a_scaffolds_blanks(value, none_is_blank, blank):
    assert is_blank(value, none_is_blank) is blank


def test_a_function_that_does_nothing_yet_is_blank_and_one_that_returns_something_is_not():
    def empty():
        ...

    def documented_only(x):
        """Build the model."""

    def passes():
        pass

    def returns_none_explicitly():
        return None

    def builds():
        return [1]

    offset = 3

    def closure():
        return offset

    assert all(is_blank(function) for function in (empty, documented_only, passes, returns_none_explicitly))
    assert not is_blank(builds) and not is_blank(closure) and not is_blank(len)


def test_check_says_not_attempted_while_every_answer_is_blank(registry):
    assert registry.verdict("99.1", ...) == ('99.1 not attempted yet: fill in the blanks (...) in the cell above and '
                                             'run it, then run this check again; hint("99.1") gives a nudge.')
    assert registry.verdict("99.1", None).startswith("99.1 not attempted yet:")
    assert registry.verdict("99.2", ..., ...).startswith("99.2 not attempted yet:")


def test_check_names_the_answers_still_blank(registry):
    assert registry.verdict("99.2", 1, ...) == "99.2 not yet: `second` still holds a blank (...)"


def test_check_says_correct_with_why_it_matters_or_not_yet_with_the_reason(registry):
    assert registry.verdict("99.1", 42) == "99.1 correct: Because."
    assert registry.verdict("99.1", 41) == "99.1 not yet: 41 is not 42"


def test_none_reaches_the_check_where_none_is_not_a_blank(registry):
    assert registry.verdict("99.2", None, 2) == "99.2 not yet: `first` is None"


def test_context_keywords_reach_the_check(registry):
    assert registry.verdict("99.2", 1, 6, scale=3) == "99.2 correct: Because."


def test_an_answer_the_check_did_not_foresee_is_reported_not_raised(registry):
    assert registry.verdict("99.2", 1, 3) == ("99.2 not yet: checking your answer failed with ValueError: "
                                              "second is wrong in an unforeseen way")


def test_the_wrong_number_of_answers_is_a_clear_error(registry):
    with pytest.raises(TypeError, match=re.escape("takes 2 answer(s) after the id: check(\"99.2\", first, second); got 1")):
        registry.verdict("99.2", 1)


def test_check_hint_and_solution_print_one_message_each(registry, capsys):
    registry.check("99.1", 42)
    registry.hint("99.1")
    registry.solution("99.1")
    assert capsys.readouterr().out == ("99.1 correct: Because.\n"
                                       "99.1 hint: Think of 6 x 7.\n"
                                       '# 99.1 reference solution, in place of the cell before check("99.1", answer)\n'
                                       "answer = 42\n")


def test_the_module_functions_use_the_course_registry(capsys):
    exercises.check("01.5", (64, 1))
    exercises.hint("01.5")
    exercises.solution("01.5")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("01.5 correct: ") and out[1].startswith("01.5 hint: ")
    assert out[2].startswith("# 01.5 reference solution") and "np.unravel_index" in "\n".join(out[3:])


def test_the_decorator_registers_the_check_and_returns_it_unchanged():
    own = Registry()

    @exercises.exercise("99.1", why="W.", hint="H.", scaffold="x = ...", solution="x = 1", registry=own)
    def check_x(x):
        pass

    assert own.get("99.1").checker is check_x and own.verdict("99.1", 1) == "99.1 correct: W."


def test_as_array_as_number_and_as_choice_explain_what_they_got():
    import tensorflow as tf

    assert as_array([[1, 2]], "k").shape == (1, 2)
    for bad, words in (("abc", "`k` should be an array of numbers, got str"), (len, "got builtin_function_or_method"),
                       ([[1, 2], [3]], "`k` cannot be read as an array of numbers"),
                       ([None, 1], "`k` should hold numbers, got list of object")):
        with pytest.raises(NotYet, match=re.escape(words)):
            as_array(bad, "k")
    with pytest.raises(NotYet, match=re.escape("`k` should have shape (2, 2), got (1, 2)")):
        as_array([[1, 2]], "k", shape=(2, 2))
    assert as_number(np.int64(3), "n") == 3.0
    for one_value in (np.float32(2.5), np.array(2.5), np.array([2.5]), np.array([[2.5]]), tf.constant([[2.5]])):
        assert as_number(one_value, "n") == 2.5                        # an array or tensor of one value is that value
    for bad, words in ((np.array([1.0, 2.0]), "`n` should be a number, got ndarray of shape (2,) and dtype float64: "
                                               "take one value of it"), (np.array(True), "got ndarray of shape ()"),
                       (np.array(["5"]), "got ndarray"), (tf.constant([1.0, 2.0]), "got EagerTensor of shape (2,)")):
        with pytest.raises(NotYet, match=re.escape(words)):
            as_number(bad, "n")
    for bad, words in ((True, "`n` should be a number, got bool True"), ((None, 5), "(a Keras shape? take one"),
                       ("5", "got str '5'")):
        with pytest.raises(NotYet, match=re.escape(words)):
            as_number(bad, "n")
    assert as_choice(" Green", "c", ("green", "red")) == "green"
    with pytest.raises(NotYet, match=re.escape('`c` should be "green" or "red", got 3')):
        as_choice(3, "c", ("green", "red"))


# --- every registered exercise ---------------------------------------------------------------

ALL = [item for chapter in REGISTRY.chapters() for item in REGISTRY.of_chapter(chapter)]


@pytest.mark.parametrize("item", ALL, ids=[item.id for item in ALL])
def test_every_exercise_says_why_in_one_sentence_and_hints_without_the_answer(item):
    assert item.why.endswith(".") and not re.search(r"[.!?]\s+[A-Z]", item.why), "why: one sentence"
    assert item.hint.strip() != item.solution.strip()
    assert "..." in item.scaffold, "a scaffold marks its blanks with ..."


@pytest.mark.parametrize("item", ALL, ids=[item.id for item in ALL])
def test_every_scaffold_as_committed_prints_not_attempted_yet(item):
    import keras
    from skimage import data

    namespace = {"np": np, "data": data, "keras": keras}     # names the chapters import that scaffolds use
    exec(item.scaffold, namespace)
    answers = [namespace[name] for name in item.answers]
    assert REGISTRY.verdict(item.id, *answers).startswith(f"{item.id} not attempted yet:")


# --- chapter 01 ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ch01():
    """Chapter 01's objects: the cat, its luminosity version, the coffee photo."""
    from skimage import data, util

    cat = data.chelsea()
    return {"cat": cat, "lum": images.grayscale_luminosity(cat), "coffee": data.coffee(), "util": util}


def verdict(exercise_id, *answers):
    return REGISTRY.verdict(exercise_id, *answers)


def expect(exercise_id, answers, words):
    """The check's line for `answers`: "correct" when `words` is None, else "not yet" containing `words`."""
    line = verdict(exercise_id, *answers)
    if words is None:
        assert line.startswith(f"{exercise_id} correct: "), line
    else:
        assert line.startswith(f"{exercise_id} not yet: ") and words in line, line


@pytest.mark.parametrize("make_answers, words", [
    (lambda o: (o["cat"][:, :, 1], "green"), None),
    (lambda o: (images.grayscale_channel(o["cat"], 1), " Green "), None),
    (lambda o: (o["cat"], "green"), "still the whole colour image"),
    (lambda o: (o["cat"][1], "green"), "one row of pixels: cat[1] takes row 1"),
    (lambda o: (o["cat"][:, 1], "green"), "one column of pixels"),
    (lambda o: (o["cat"][:, :, 1].T, "green"), "2-D with the cat's height and width, (300, 451), got (451, 300)"),
    (lambda o: (o["cat"][:, :, 0], "green"), "this is the red channel (index 0)"),
    (lambda o: (o["cat"][:, :, 2], "green"), "this is the blue channel (index 2)"),
    (lambda o: (o["cat"][:, :, 1] / 255, "green"), "scaled to 0-1"),
    (lambda o: (o["lum"], "green"), "the luminosity version itself"),
    (lambda o: (o["cat"][::-1, :, 1], "green"), "differs from the cat's green channel"),
    (lambda o: (o["cat"][:, :, 1], "red"), "measured, the green channel lies 8.0 gray levels from the luminosity "
                                           "version on average and the red one 28.2"),
    (lambda o: (o["cat"][:, :, 1], "blue"), '`closer` should be "green" or "red", got \'blue\''),
    (lambda o: ("cat[:, :, 1]", "green"), "`green` should be an array of numbers, got str"),
    (lambda o: (o["cat"][:, :, 1], ...), "`closer` still holds a blank"),
])
def test_01_1_green_channel(ch01, make_answers, words):
    expect("01.1", make_answers(ch01), words)


@pytest.mark.parametrize("make_answers, words", [
    (lambda o: ((400, 600, 3), o["coffee"][100, 250]), None),
    (lambda o: (o["coffee"].shape, tuple(int(v) for v in o["coffee"][100, 250])), None),
    (lambda o: ([400, 600, 3], list(o["coffee"][100, 250])), None),
    (lambda o: ((600, 400, 3), o["coffee"][100, 250]), "(600, 400, 3) is (width, height, channels)"),
    (lambda o: ((600, 400), o["coffee"][100, 250]), "Pillow's Image.size, (width, height)"),
    (lambda o: ((400, 600), o["coffee"][100, 250]), "leaves out the channels"),
    (lambda o: ((400, 600, 4), o["coffee"][100, 250]), "is not the photo's shape"),
    (lambda o: ("400 x 600", o["coffee"][100, 250]), "should be a tuple of whole numbers"),
    (lambda o: ((400, 600, 3), o["coffee"][250, 100]), "x and y are swapped"),
    (lambda o: ((400, 600, 3), o["coffee"][100]), "a whole row of pixels"),
    (lambda o: ((400, 600, 3), o["coffee"][:, 250]), "a whole column of pixels"),
    (lambda o: ((400, 600, 3), o["coffee"][100, 250, 0]), "should be 3 numbers (R, G, B), got shape ()"),
    (lambda o: ((400, 600, 3), o["coffee"][0, 0]), "is not the value at x = 250, y = 100"),
])
def test_01_2_shape_and_pixel(ch01, make_answers, words):
    expect("01.2", make_answers(ch01), words)


def test_01_2_the_swapped_pixel_really_differs(ch01):
    assert not np.array_equal(ch01["coffee"][100, 250], ch01["coffee"][250, 100])


@pytest.mark.parametrize("make_answers, words", [
    (lambda o: (np.clip(o["util"].img_as_float32(o["cat"]) * 1.5, 0, 1),), None),
    (lambda o: (np.clip(o["cat"] / 255 * 1.5, 0, 1),), None),
    (lambda o: (o["cat"] * 1.5,), "values run up to 346.5: still the 0-255 scale"),
    (lambda o: (np.clip(o["cat"] * 1.5, 0, 255),), "still the 0-255 scale"),
    (lambda o: (o["cat"] / 255 * 1.5,), "values go up to 1.36: matplotlib would clip them for display only"),
    (lambda o: (np.clip(o["cat"] / 255, 0, 1) * 1.5,), "clip the array yourself"),
    (lambda o: ((o["cat"] * 1.5).astype(np.uint8),), "has dtype uint8"),
    (lambda o: (o["cat"] / 255,), "not brighter: multiply by 1.5"),
    (lambda o: (np.clip(o["cat"] / 255 * 2, 0, 1),), "differs from 1.5 x the cat in 0-1, clipped"),
    (lambda o: (np.clip(o["cat"] / 255 * 1.5, 0, 1) - 0.5,), "values go down to -0.50"),
    (lambda o: (np.clip(o["cat"] / 255 * 1.5, 0, 1)[:, :, 0],), "should have the cat's shape (300, 451, 3)"),
])
def test_01_3_brighter_and_clipped(ch01, make_answers, words):
    expect("01.3", make_answers(ch01), words)


@pytest.mark.parametrize("make_answers, words", [
    (lambda o: (images.resize(o["lum"], height=28, width=28),), None),
    (lambda o: (images.resize(o["lum"] / 255, height=28, width=28),), None),
    (lambda o: (images.grayscale_mean(images.resize(o["cat"], 28, 28)),), None),
    (lambda o: (images.resize(images.grayscale_luminosity(o["cat"], "skimage") / 255, 28, 28),), None),
    (lambda o: (np.asarray(Image.fromarray(o["cat"]).convert("L").resize((28, 28))),), None),  # Pillow's L, bicubic
    (lambda o: (cv2.resize(o["lum"], (28, 28)),), None),  # OpenCV's default, bilinear without averaging
    (lambda o: (o["lum"][::11, ::16][:28, :28],), None),  # plain subsampling is a (rough) resize too
    (lambda o: (images.resize(o["cat"][:, :, 0], 28, 28),), "`tiny` is the red channel alone (0.2 gray levels"),
    (lambda o: (images.resize(o["cat"][:, :, 0] / 255, 28, 28),), "is the red channel alone"),
    (lambda o: (cv2.resize(o["cat"][:, :, 0], (28, 28)),), "is the red channel alone"),
    (lambda o: (images.resize(o["cat"][:, :, 1], 28, 28),), "is the green channel alone"),
    (lambda o: (images.resize(o["cat"][:, :, 2], 28, 28),), "is the blue channel alone"),
    (lambda o: (images.resize(o["cat"], 28, 28),), "still 3 colour channels"),
    (lambda o: (o["lum"][:28, :28],), "did you crop (cat[:28, :28]) instead of resizing?"),
    (lambda o: (images.resize(o["lum"], 28, 28).T,), "the cat transposed"),
    (lambda o: (images.resize(o["lum"], 28, 30),), "should have shape (28, 28), got (28, 30)"),
])
def test_01_4_tiny_gray_cat(ch01, make_answers, words):
    expect("01.4", make_answers(ch01), words)


def test_01_4_the_red_channel_is_far_from_every_three_channel_gray(ch01):
    red = images.resize(ch01["cat"][:, :, 0], 28, 28).astype(float)
    for gray in (images.grayscale_luminosity(ch01["cat"]), images.grayscale_mean(ch01["cat"])):
        assert np.abs(red - images.resize(gray, 28, 28)).mean() > 25


@pytest.mark.parametrize("make_answers, words", [
    (lambda o: (np.unravel_index(np.argmax(o["lum"]), o["lum"].shape),), None),
    (lambda o: ([64, 1],), None),
    (lambda o: (np.array([64, 1]),), None),
    (lambda o: (np.argmax(o["lum"]),), "is an index into the 135,300 pixels of the flattened image"),
    (lambda o: ((1, 64),), "(1, 64) is (column, row): x and y are swapped"),
    (lambda o: ((0, 0),), "the pixel at (0, 0) has brightness 125.1, the brightest has 194.2"),
    (lambda o: ((500, 2),), "lies outside the image, which has 300 rows and 451 columns"),
    (lambda o: ((64.0, 1.0),), "should be two whole numbers"),
    (lambda o: ((64, 1, 0),), "should be two whole numbers"),
])
def test_01_5_brightest_pixel(ch01, make_answers, words):
    expect("01.5", make_answers(ch01), words)


def test_01_5_the_brightest_pixel_is_unique_and_its_swap_is_inside_the_image(ch01):
    lum = ch01["lum"]
    assert (lum == lum.max()).sum() == 1 and np.unravel_index(np.argmax(lum), lum.shape) == (64, 1)


def test_01_1_green_is_really_closer_to_luminosity_than_red(ch01):
    cat, lum = ch01["cat"], ch01["lum"]
    assert np.abs(cat[:, :, 1] - lum).mean() < np.abs(cat[:, :, 0] - lum).mean() / 2


# --- chapter 02 ------------------------------------------------------------------------------

V = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]])
A = np.array([[1, 2, 0], [0, 1, 3], [-1, 0, 2]])


def almost_flat(bump):
    """A 5 x 5 box blur with a small bump in the middle: symmetric and peaked, but hardly a Gaussian."""
    kernel = np.ones((5, 5)) + np.pad([[bump]], 2)
    return kernel / kernel.sum()


def cone():
    """A cone 3 - distance from the centre: symmetric, falling off, but in straight lines."""
    kernel = np.maximum(0, 3 - np.hypot(*np.mgrid[-2:3, -2:3]))
    return kernel / kernel.sum()


def gaussian(sigma=1.0, size=5):
    bell = np.exp(-np.arange(-(size // 2), size // 2 + 1) ** 2 / (2 * sigma**2))
    return np.outer(bell, bell) / np.outer(bell, bell).sum()


@pytest.mark.parametrize("answer, words", [
    (V.T, None), (np.rot90(V, -1), None), ([[1, 1, 1], [0, 0, 0], [-1, -1, -1]], None),
    (np.rot90(V), "this is bottom row minus top row (what np.rot90 gives"),
    (-V.T, "it finds the same edges with the opposite sign"),
    (V, "the vertical edge kernel, not turned"),
    (V[:, ::-1], "the vertical edge kernel, not turned (a left-right flip only reverses its sign)"),
    (np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]), "this is Sobel y"),
    (np.ones((3, 3)), "it answers 9 on a horizontal edge and 9 on a vertical one"),
    (np.array([1, 0, -1]), "should be a 3 x 3 array like the vertical edge kernel, got shape (3,)"),
])
def test_02_1_horizontal_edge_kernel(answer, words):
    expect("02.1", (answer,), words)


@pytest.mark.parametrize("answers, words", [
    ((112, 55), None), ((112.0, 55.0), None), ((np.int64(112), np.int64(55)), None),
    ((109, 54), 'the size for padding="valid"'),
    ((224, 111), '"same" keeps the size only with stride 1'),
    ((218, 108), "224 - 7 + 1 ignores both the padding and the stride"),
    ((100, 50), 'with padding="same" the size is ceil(n / stride)'),
    ((112, 56), 'MaxPooling2D pads "valid" by default'),
    ((112, 110), "112 - 3 + 1 ignores the stride of 2"),
    ((112, 54), "starts from the wrong size"),
    ((112, 60), "floor((n - k) / stride) + 1"),
    (((None, 112, 112, 64), 55), "(a Keras shape? take one entry of it)"),
    (("112", 55), "`after_conv` should be a number, got str"),
    ((112, ...), "`after_pool` still holds a blank"),
])
def test_02_2_output_sizes(answers, words):
    expect("02.2", answers, words)


def built(layer, channels=32):
    layer.build((None, 28, 28, channels))
    return layer


@pytest.mark.parametrize("make_answers, words", [
    (lambda k: (18_496, built(k.layers.Conv2D(64, 3))), None),
    (lambda k: (3 * 3 * 32 * 64 + 64, built(k.layers.Conv2D(filters=64, kernel_size=(3, 3)))), None),
    (lambda k: (18_432, built(k.layers.Conv2D(64, 3))), "counts the weights, but not the 64 biases"),
    (lambda k: (640, built(k.layers.Conv2D(64, 3))), "leaves out the 32 input channels"),
    (lambda k: (1_792, built(k.layers.Conv2D(64, 3))), "is for an RGB input with 3 channels"),
    (lambda k: (18_464, built(k.layers.Conv2D(64, 3))), "one per filter (64), not one per input channel"),
    (lambda k: (288, built(k.layers.Conv2D(64, 3))), "is one filter's weights"),
    (lambda k: (1_000, built(k.layers.Conv2D(64, 3))), "(kernel height x width x input channels + 1 bias) x filters"),
    (lambda k: (None, built(k.layers.Conv2D(64, 3))), "`params` is None"),
    (lambda k: (18_496, k.layers.Conv2D(64, 3).build((None, 28, 28, 32))), "build(...) builds the layer in place and returns None"),
    (lambda k: (18_496, k.layers.Conv2D(64, 3)), "not built yet"),
    (lambda k: (18_496, built(k.layers.Conv2D(64, 3), channels=3)), "built for 3 input channels"),
    (lambda k: (18_496, built(k.layers.Conv2D(32, 3))), "has 32 filters of size (3, 3)"),
    (lambda k: (18_496, built(k.layers.Conv2D(64, 5))), "filters of size (5, 5)"),
    (lambda k: (18_496, built(k.layers.Dense(64))), "should be a keras.layers.Conv2D, got Dense"),
    (lambda k: (18_496, built(k.layers.Conv2D(64, 3, use_bias=False))), "use_bias=False?"),
    (lambda k: (18_496, ...), "`layer` still holds a blank"),
])
def test_02_3_parameters_of_a_conv_layer(make_answers, words):
    import keras

    expect("02.3", make_answers(keras), words)


def test_02_3_none_for_both_answers_is_an_answer_not_a_blank():
    assert verdict("02.3", None, None) == "02.3 not yet: `params` is None: give the number you predict, e.g. 3 * 3 * 32 * 64 + ..."


@pytest.mark.parametrize("answers, words", [
    ((gaussian(), "gaussian"), None), ((gaussian(2.0), " Gaussian"), None), ((gaussian(0.5).tolist(), "gaussian"), None),
    ((np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256, "gaussian"), None),  # the binomial: OpenCV's 5 x 5 Gaussian
    ((np.round(gaussian(), 3) / np.round(gaussian(), 3).sum(), "gaussian"), None),  # rounded weights
    ((almost_flat(0.1), "gaussian"), "the centre weighs only 1.10 times a corner: almost flat"),
    ((gaussian(5.0), "gaussian"), "the centre weighs only 1.17 times a corner"),
    ((gaussian(0.3), "gaussian"), "that hardly blurs"),
    ((np.outer([1, 2, 3, 2, 1], [1, 2, 3, 2, 1]) / 81, "gaussian"), "do not fall off like a bell"),  # a tent
    ((cone(), "gaussian"), "do not fall off like a bell"),
    ((gaussian() * 7, "gaussian"), "the weights sum to 7: divide by kernel.sum()"),
    ((np.ones((5, 5)) / 25, "gaussian"), "all weights are equal: that is the box blur"),
    ((gaussian()[2] / gaussian()[2].sum(), "gaussian"), "is 1-D, shape (5,)"),
    ((gaussian(size=3), "gaussian"), "should be 5 x 5, got shape (3, 3)"),
    ((np.pad([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], 1), "gaussian"), "some weights are negative"),
    ((np.roll(gaussian(), 1, axis=1), "gaussian"), "the largest weight is at (2, 3)"),
    ((np.outer([1, 2, 3, 2, 1], [1, 3, 9, 3, 1]) / 153, "gaussian"), "the kernel is not symmetric"),
    ((np.outer([2, 1, 3, 1, 2], [2, 1, 3, 1, 2]) / 81, "gaussian"), "do not fall off from the centre"),
    ((gaussian(), "box"), "measure it: filter a sharp edge"),
    ((gaussian(), "sharp"), '`crisper` should be "gaussian" or "box", got \'sharp\''),
])
def test_02_4_gaussian_kernel(answers, words):
    expect("02.4", answers, words)


def test_02_4_a_gaussian_keeps_a_step_edge_steeper_than_the_box():
    edge = np.repeat([[0.0] * 8 + [255.0] * 8], 16, axis=0)
    steepest = {name: np.abs(np.diff(images.correlate2d(edge, kernel), axis=1)).max()
                for name, kernel in (("gaussian", gaussian()), ("wide gaussian", gaussian(3.0)),
                                     ("box", np.ones((5, 5)) / 25))}
    assert steepest["gaussian"] > steepest["wide gaussian"] > steepest["box"]


@pytest.mark.parametrize("answer, words", [
    (A[::-1, ::-1], None), (np.rot90(A, 2), None), (np.flip(A), None),
    (A, "this is `asymmetric` unchanged"),
    (A.T, "this is `asymmetric` transposed (mirrored across its diagonal)"),
    (A[::-1], "flipped upside down only"),
    (A[:, ::-1], "flipped left to right only"),
    (np.rot90(A), "turned by a quarter turn"), (np.rot90(A, -1), "turned by a quarter turn"),
    (np.zeros((3, 3)), "does not compute convolve2d(x, asymmetric)"),
    (A[:2], "should be 3 x 3 like `asymmetric`, got shape (2, 3)"),
])
def test_02_5_the_kernel_flip(answer, words):
    expect("02.5", (answer,), words)


def test_02_5_the_reference_really_turns_correlation_into_convolution(rng):
    x = rng.integers(0, 9, size=(6, 7))
    assert np.array_equal(images.correlate2d(x, A[::-1, ::-1]), images.convolve2d(x, A))
    assert not np.array_equal(images.correlate2d(x, A.T), images.convolve2d(x, A))


def test_a_replaced_exercise_keeps_its_check(registry):
    changed = dataclasses.replace(registry.get("99.1"), solution="answer = 41")
    assert changed.checker is registry.get("99.1").checker and changed.solution == "answer = 41"


# --- chapter 03 ------------------------------------------------------------------------------


def test_context_reaches_the_check_cell_and_must_be_a_keyword_only_parameter():
    item = REGISTRY.get("03.2")
    assert item.check_call == 'check("03.2", y_train_onehot, onehot_loss, labels=y_train)'
    with pytest.raises(ValueError, match="keyword-only parameter"):
        make(context=(("labels", "y_train"),))
    with pytest.raises(ValueError, match="not a Python expression"):
        make(checker=lambda answer, *, labels: None, context=(("labels", "y_train["),))


@pytest.mark.parametrize("answer, words", [
    ((13 * 13 * 32 + 1) * 128, None),
    (692352.0, None),
    (13 * 13 * 32 * 128, "leaves out the biases"),
    ((5 * 5 * 64 + 1) * 128, "with the second block still in place"),
    ((26 * 26 * 32 + 1) * 128, "pool_1 halves 26 to 13"),
    ((28 * 28 * 32 + 1) * 128, "shrinks 28 to 26"),
    ((14 * 14 * 32 + 1) * 128, "padding='same'"),
    ((13 * 13 * 64 + 1) * 128, "32 channels reach Flatten"),
    ((13 * 13 * 32 + 1) * 64, "with 128 units"),
    (12345, "(inputs + 1) x units"),
    ("692352", "should be a number, got str"),
])
def test_03_1_dense_parameters_without_the_second_block(answer, words):
    expect("03.1", (answer,), words)


LABELS = np.array([3, 0, 9, 1, 1, 7, 2, 8, 5, 4, 6, 0])


def onehot(labels=LABELS, classes=10):
    return np.eye(classes)[labels]


@pytest.mark.parametrize("make_answers, words", [
    (lambda: (onehot(), "categorical_crossentropy"), None),
    (lambda: (onehot().astype(np.float32), " Categorical_Crossentropy "), None),
    (lambda: (onehot(), "__keras_loss__"), None),
    (lambda: (LABELS, "categorical_crossentropy"), "these are class numbers"),
    (lambda: (onehot().T, "categorical_crossentropy"), "rows and columns are swapped"),
    (lambda: (onehot()[:-2], "categorical_crossentropy"), "built from another split"),
    (lambda: (np.eye(9)[LABELS.clip(0, 8)], "categorical_crossentropy"), "9 columns"),
    (lambda: (onehot() * 0.9 + 0.01, "categorical_crossentropy"), "a single 1 and nine 0s"),
    (lambda: (onehot(np.roll(LABELS, 1)), "categorical_crossentropy"), "the rows must follow y_train's order"),
    (lambda: (onehot(), "sparse_categorical_crossentropy"), "reads class numbers"),
    (lambda: (onehot(), "binary_crossentropy"), "its own yes/no question"),
    (lambda: (onehot(), "mse"), "should name the cross-entropy for one-hot labels"),
    (lambda: (onehot(), ...), "`onehot_loss` still holds a blank"),
])
def test_03_2_one_hot_labels_and_their_loss(make_answers, words):
    answers = make_answers()
    if answers[1] == "__keras_loss__":
        import keras

        answers = (answers[0], keras.losses.CategoricalCrossentropy())
    line = REGISTRY.verdict("03.2", *answers, labels=LABELS)
    if words is None:
        assert line.startswith("03.2 correct: "), line
    else:
        assert line.startswith("03.2 not yet: ") and words in line, line


def test_03_2_the_solution_makes_what_the_check_wants():
    import keras

    namespace = {"keras": keras, "y_train": LABELS}
    exec(REGISTRY.get("03.2").solution, namespace)
    assert REGISTRY.verdict("03.2", namespace["y_train_onehot"], namespace["onehot_loss"], labels=LABELS).startswith(
        "03.2 correct")


@pytest.mark.parametrize("answers, words", [
    (((11, 11, 64), (5, 5, 64)), None),
    (([None, 11, 11, 64], (None, 5, 5, 64)), None),
    (((13, 13, 64), (6, 6, 64)), "removes a 1-pixel border"),
    (((11, 11, 32), (5, 5, 32)), "64, not 32"),
    (((24, 24, 64), (12, 12, 64)), "pool_1 halves 26 to 13"),
    (((11, 11, 64), (6, 6, 64)), "rounds down"),
    (((11, 11, 64), (5.5, 5.5, 64)), "rounds down"),
    (((11, 11, 64), (11, 11, 64)), "halves the height and width"),
    (((11, 11, 64), (5, 5, 32)), "pooling keeps the channels"),
    (((11, 11), (5, 5, 64)), "(height, width, channels)"),
    (("11x11x64", (5, 5, 64)), "should be a tuple"),
])
def test_03_3_output_shapes_after_the_second_block(answers, words):
    expect("03.3", answers, words)


def test_03_shapes_and_parameters_agree_with_keras():
    import keras

    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Conv2D(32, 3, name="conv_1"),
                              keras.layers.MaxPooling2D(2), keras.layers.Conv2D(64, 3, name="conv_2"),
                              keras.layers.MaxPooling2D(2, name="pool_2")])
    assert model.get_layer("conv_2").output.shape[1:] == (11, 11, 64)
    assert model.get_layer("pool_2").output.shape[1:] == (5, 5, 64)
    namespace = {"keras": keras}
    exec(REGISTRY.get("03.1").solution, namespace)
    assert namespace["dense_params"] == namespace["one_block"].get_layer("dense_128").count_params()


MATRIX = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 9]])


@pytest.mark.parametrize("answer, words", [
    ([1, 3, 0], None),
    (np.array([1, 3, 0]), None),
    ([2, 1, 1], "column sums"),
    ([6, 10, 9], "subtract them"),
    ([5, 7, 9], "the diagonal"),
    ([1, 3], "one count per digit"),
    ([0, 3, 0], "digit 0, for one, has 1"),
])
def test_03_4_missed_digits_per_true_class(answer, words):
    line = REGISTRY.verdict("03.4", answer, matrix=MATRIX)
    assert line.startswith("03.4 correct: ") if words is None else ("not yet" in line and words in line), line


class FixedModel:
    """predict -> the same ten probabilities for each image, the largest at digit 7."""

    def predict(self, images, verbose=0):
        row = np.full(10, 0.02)
        row[7] = 0.82
        return np.tile(row, (len(images), 1))


IMAGES = np.random.default_rng(0).uniform(0, 1, (4, 28, 28, 1)).astype(np.float32)


@pytest.mark.parametrize("make_answers, words", [
    (lambda: (IMAGES[:1], 7), None),
    (lambda: (IMAGES[:1], np.int64(7)), None),
    (lambda: (IMAGES[0], 7), "without the batch axis"),
    (lambda: (IMAGES[:1, ..., 0], 7), "no channel axis"),
    (lambda: (IMAGES[:2], 7), "should have shape (1, 28, 28, 1)"),
    (lambda: (IMAGES[:1] * 255, 7), "0-255 bytes"),
    (lambda: (IMAGES[1:2], 7), "not the first test digit"),
    (lambda: (IMAGES[:1], FixedModel().predict(IMAGES[:1])[0]), "ten probabilities"),
    (lambda: (IMAGES[:1], 0.82), "argmax, not max"),
    (lambda: (IMAGES[:1], 3), "predicts 7 for this digit, not 3"),
])
def test_03_5_one_prediction(make_answers, words):
    line = REGISTRY.verdict("03.5", *make_answers(), images=IMAGES, model=FixedModel())
    assert line.startswith("03.5 correct: ") if words is None else ("not yet" in line and words in line), line


# --- chapter 04 ------------------------------------------------------------------------------


DIGITS = np.array([0, 4, 5, 9, 3, 7, 2, 6, 1, 8])


@pytest.mark.parametrize("make_answer, words", [
    (lambda: (DIGITS > 4).astype(int), None),
    (lambda: DIGITS > 4, None),
    (lambda: (DIGITS > 4).astype(np.float32)[:, None], None),
    (lambda: (DIGITS >= 4).astype(int), "use > rather than >="),
    (lambda: DIGITS % 2, "this is the parity"),
    (lambda: (DIGITS <= 4).astype(int), "1 and 0 are swapped"),
    (lambda: np.eye(10)[DIGITS] > 4, "these are one-hot rows"),
    (lambda: (DIGITS[:-1] > 4).astype(int), "one label per training digit"),
    (lambda: DIGITS, "should be 0 or 1"),
    (lambda: (DIGITS > 5).astype(int), "is a 5, labelled 0"),
])
def test_04_1_labels_greater_than_four(make_answer, words):
    line = REGISTRY.verdict("04.1", make_answer(), labels=DIGITS)
    assert line.startswith("04.1 correct: ") if words is None else ("not yet" in line and words in line), line


SCORES = {"loss": 0.1 + 0.5 * 0.06, "digit_loss": 0.1, "odd_loss": 0.06}
WEIGHTS = {"digit": 1.0, "odd": 0.5}


@pytest.mark.parametrize("answer, words", [
    (0.13, None),
    (np.float32(0.13), None),
    (0.16, "the plain sum"),
    (0.08, "the mean of the two losses"),
    (0.5 * 0.1 + 0.06, "the weights are swapped"),
    (0.2, "is not the weighted sum"),
    ("0.13", "should be a number"),
])
def test_04_2_the_weighted_total_loss(answer, words):
    line = REGISTRY.verdict("04.2", answer, scores=SCORES, weights=WEIGHTS)
    assert line.startswith("04.2 correct: ") if words is None else ("not yet" in line and words in line), line


@pytest.fixture(scope="module")
def two_heads():
    """A small two-headed model like chapter 04's (a dense trunk), and 256 random digits with their labels."""
    import keras

    def build():
        image = keras.Input(shape=(28, 28, 1))
        shared = keras.layers.Dense(128, activation="relu", name="shared")(keras.layers.Flatten()(image))
        return keras.Model(image, {"digit": keras.layers.Dense(10, activation="softmax", name="digit")(shared),
                                   "odd": keras.layers.Dense(1, activation="sigmoid", name="odd")(shared)})

    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, (256, 28, 28, 1)).astype(np.float32), rng.integers(0, 10, 256)
    return build, x, {"digit": y, "odd": y % 2}


def trained_heads(two_heads, odd_weight, recompile=True):
    """Heads' weights (odd, digit) before and after one epoch; the odd loss weight set, with or without recompiling."""
    import keras

    build, x, y = two_heads
    keras.utils.set_random_seed(0)
    model = build()
    losses = {"digit": "sparse_categorical_crossentropy", "odd": "binary_crossentropy"}
    model.compile(optimizer="adam", loss=losses, loss_weights={"digit": 1.0, "odd": 0.5})
    if recompile:
        model.compile(optimizer="adam", loss=losses, loss_weights={"digit": 1.0, "odd": odd_weight})
    before = [model.get_layer(name).get_weights() for name in ("odd", "digit")]
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    after = [model.get_layer(name).get_weights() for name in ("odd", "digit")]
    return model, before, after


def test_04_3_a_head_with_loss_weight_zero_keeps_its_weights(two_heads):
    model, (odd_before, digit_before), (odd_after, digit_after) = trained_heads(two_heads, 0.0)
    assert REGISTRY.verdict("04.3", odd_before, digit_before, odd_after, digit_after).startswith("04.3 correct")
    expect("04.3", (odd_before, digit_before, odd_before, digit_before), "did fit run")
    expect("04.3", (model.get_layer("odd").weights, digit_before, odd_after, digit_after), "get_weights()")
    expect("04.3", (digit_before, odd_before, digit_after, odd_after), "the odd head's kernel (128, 1)")
    expect("04.3", (odd_before, odd_before, odd_after, digit_after), "the digit head's kernel (128, 10)")
    _, (odd_before, digit_before), (odd_after, digit_after) = trained_heads(two_heads, 0.0, recompile=False)
    expect("04.3", (odd_before, digit_before, odd_after, digit_after), "compile again")


@pytest.mark.parametrize("gain, error, answer, words", [
    (0.004, 0.003, "cannot tell", None),
    (0.010, 0.003, "parity of the predicted digit", None),
    (-0.010, 0.003, " Parity head ", None),
    (0.004, 0.003, "parity of the predicted digit", "within two standard errors"),
    (0.010, 0.003, "cannot tell", "more than two standard errors"),
    (0.010, 0.003, "parity head", "the sign"),
    (0.004, 0.003, "the digit head", '`better` should be "parity head"'),
])
def test_04_4_a_verdict_from_a_paired_gain(gain, error, answer, words):
    line = REGISTRY.verdict("04.4", answer, gain=gain, error=error)
    assert line.startswith("04.4 correct: ") if words is None else ("not yet" in line and words in line), line


def test_03_5_and_03_3_accept_answers_in_other_containers_and_name_a_scaled_image_without_channels():
    line = REGISTRY.verdict("03.5", IMAGES[:1], [7], images=IMAGES, model=FixedModel())
    assert line.startswith("03.5 correct"), line
    line = REGISTRY.verdict("03.5", IMAGES[:1, ..., 0], 7, images=IMAGES, model=FixedModel())
    assert "no channel axis; X_test[:1] keeps it" in line, line
    assert REGISTRY.verdict("03.3", np.array([11, 11, 64]), (5, 5, 64)).startswith("03.3 correct")


def test_04_3_the_same_copy_before_and_after_is_not_a_measurement(two_heads):
    _, (odd_before, digit_before), (_, digit_after) = trained_heads(two_heads, 0.0)
    expect("04.3", (odd_before, digit_before, odd_before, digit_after), "the same copy")


# --- chapter 05 ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fashion_cnn():
    """Chapter 05's CNN (untrained, seeded) and 8 random images in its 0-1 scale."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv_1"),
        keras.layers.MaxPooling2D(2, name="pool_1"),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv_2"),
        keras.layers.MaxPooling2D(2, name="pool_2"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(128, activation="relu", name="hidden"),
        keras.layers.Dense(10, activation="softmax", name="class_probabilities"),
    ])
    return model, np.random.default_rng(0).uniform(0, 1, (8, 28, 28, 1)).astype(np.float32)


@pytest.mark.parametrize("answer, words", [
    ((5 * 5 * 32 + 1) * 64, None),
    (5 * 5 * 32 * 64, "also has a bias"),
    ((5 * 5 + 1) * 64, "one per incoming channel"),
    ((3 * 3 * 32 + 1) * 64, "with its 3x3 kernels"),
    (14 * 14 * 5 * 5 * 32 * 64, "multiply-adds"),
    ((5, 5, 32, 64), "should be a number"),
    (12345, "does not have 12,345 parameters"),
])
def test_05_1_parameters_of_conv_2_with_5x5_kernels(fashion_cnn, answer, words):
    line = REGISTRY.verdict("05.1", answer, model=fashion_cnn[0])
    assert line.startswith("05.1 correct: ") if words is None else ("not yet" in line and words in line), line


def test_05_2_feature_maps_of_conv_2(fashion_cnn):
    import keras

    model, images = fashion_cnn

    def maps_of(layer, batch=images[:1]):
        return keras.Model(model.inputs, model.get_layer(layer).output).predict(batch, verbose=0)

    conv_2 = maps_of("conv_2")
    assert REGISTRY.verdict("05.2", conv_2[0], model=model, images=images).startswith("05.2 correct")
    for answer, words in [(conv_2, "still has the batch axis"),
                          (maps_of("conv_1")[0], "did you take the output of conv_1 instead of conv_2?"),
                          (maps_of("pool_2")[0], "after pool_2"),
                          (maps_of("pool_1")[0], "pool_1's output"),
                          (maps_of("conv_2", images[1:2])[0], "predicting on X_test[:1]"),
                          (maps_of("conv_2", images[:1] * 255)[0], "raw 0-255 image"),
                          (conv_2[0] - 1, "negative values"),
                          (conv_2[0, :, :, :10], "expected shape (14, 14, 64)")]:
        line = REGISTRY.verdict("05.2", answer, model=model, images=images)
        assert "not yet" in line and words in line, line


TRUE_CLASSES = np.array([7, 7, 7, 5, 7, 9, 1, 7, 2, 7])
PREDICTED = np.array([7, 5, 9, 7, 7, 9, 1, 8, 2, 7])     # sneakers 1, 2 and 7 are wrong; image 3 taken for a sneaker


@pytest.mark.parametrize("answer, words", [
    (np.array([1, 2, 7]), None),
    ([1, 2, 7], None),
    ((TRUE_CLASSES == 7) & (PREDICTED != 7), None),
    ([7, 2, 1], "another order"),
    (np.flatnonzero(TRUE_CLASSES == 7), "all 6 test sneakers"),
    ([3], "the other direction"),
    ([1, 2, 4], "positions among the sneakers only"),
    ([1, 2, 3, 7], "all misclassified test images"),
    ([1, 2, 5, 7], "test image 5 is in your list"),
    ([1, 2], "test image 7 for one"),
    ([True, False], "one entry per test image"),
    ([[1, 2, 7]], "flat list"),
    ((np.array([1, 2, 7]),), "take its [0]"),
])
def test_05_3_every_misclassified_sneaker(answer, words):
    line = REGISTRY.verdict("05.3", answer, predicted=PREDICTED, labels=TRUE_CLASSES)
    assert line.startswith("05.3 correct: ") if words is None else ("not yet" in line and words in line), line


class ShirtModel:
    """predict -> probability of 'Shirt' 0.1 * index for each image, the rest spread evenly."""

    def predict(self, images, verbose=0):
        shirt = 0.1 * np.arange(len(images)) / len(images) * 10
        rows = np.tile((1 - shirt)[:, None] / 9, (1, 10))
        rows[:, 6] = shirt
        return rows


SHIRT_LABELS = np.array([0, 6, 6, 2, 6, 6, 6, 1, 6, 6])     # shirts at 1, 2, 4, 5, 6, 8, 9; lowest shirt-ness first


@pytest.mark.parametrize("answer, words", [
    ([1, 2, 4], None),
    (np.array([4, 1, 2]), None),
    ([0, 1, 4], "test image 0 is not a shirt"),
    ([0, 1, 4.0], "test image 0 is not a shirt"),
    ([6, 8, 9], "most shirt-like"),
    ([1, 2, 5], "yours reach"),
    ([1, 2], "should hold 3 test indices"),
    ([0.1, 0.2, 0.4], "not whole numbers"),
    ([1, 2, 40], "test indices run from 0 to 9"),
])
def test_05_4_the_least_shirt_like_shirts(answer, words):
    line = REGISTRY.verdict("05.4", answer, model=ShirtModel(), images=np.zeros((10, 28, 28, 1)), labels=SHIRT_LABELS)
    assert line.startswith("05.4 correct: ") if words is None else ("not yet" in line and words in line), line


def test_05_4_positions_among_the_shirts_are_named():
    labels = np.array([6, 0, 0, 6, 6, 6, 0, 6, 6, 6])         # shirts at 0, 3, 4, 5, 7, 8, 9
    line = REGISTRY.verdict("05.4", [0, 1, 2], model=ShirtModel(), images=np.zeros((10, 28, 28, 1)), labels=labels)
    assert "positions among the test shirts" in line, line


@pytest.fixture(scope="module")
def learnable_images():
    """4,000 28x28 images whose class (0-9) is where a bright 6x6 square sits: easy to learn in one epoch."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 4000)
    x = rng.uniform(0, 0.2, (4000, 28, 28, 1)).astype(np.float32)
    for index, label in enumerate(labels):
        row, col = divmod(int(label), 5)
        x[index, 4 + 12 * row:10 + 12 * row, 1 + 5 * col:7 + 5 * col] = 1.0
    return x, labels


def small_model(layers):
    """A builder of a Sequential model on 28x28x1 images with these layers."""
    import keras

    return lambda: keras.Sequential([keras.Input(shape=(28, 28, 1)), *layers()])


def test_05_5_from_dense_to_cnn(learnable_images):
    import keras

    conv = lambda: [keras.layers.Conv2D(8, 3, activation="relu"), keras.layers.MaxPooling2D(2)]   # noqa: E731
    head = lambda activation="softmax": [keras.layers.Flatten(), keras.layers.Dense(32, activation="relu"),  # noqa: E731
                                         keras.layers.Dense(10, activation=activation)]
    images, labels = learnable_images

    def answer(builder, words):
        line = REGISTRY.verdict("05.5", builder, images=images, labels=labels)
        assert line.startswith("05.5 correct: ") if words is None else ("not yet" in line and words in line), line

    answer(small_model(lambda: [*conv(), *head()]), None)
    answer(small_model(lambda: head()), "still the dense model")
    answer(small_model(lambda: [*conv(), *head(activation=None)]), "not probabilities")
    answer(small_model(lambda: [*conv(), keras.layers.Flatten(), keras.layers.Dense(12, activation="softmax")]),
           "10 class probabilities")
    def forgets_return():
        small_model(lambda: [*conv(), *head()])()

    answer(forgets_return, "forget `return`")
    answer(small_model(lambda: [*conv(), *head()])(), "the function itself")
    answer(small_model(lambda: [keras.layers.Conv2D(4, 3, activation="relu"), *head()]), "no MaxPooling2D")
    answer(small_model(lambda: [keras.layers.Flatten(), *conv(), *head()]), "before the Flatten")
    answer(lambda: keras.Sequential([*conv(), *head()]), "keras.Input(shape=(28, 28, 1))")
    answer(lambda: "model", "should return a Keras model")
    answer(lambda: keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(10, activation="softmax")]),
           "(28, 28, 1)")
    frozen = small_model(lambda: [*conv(), *head()])
    answer(lambda: _untrainable(frozen()), "after one epoch")


def _untrainable(model):
    """The model with every layer frozen, so one epoch of fit cannot teach it anything."""
    for layer in model.layers:
        layer.trainable = False
    return model


# --- chapter 06 ------------------------------------------------------------------------------


@pytest.mark.parametrize("answer, words", [
    ((16 * 16 * 64 + 1) * 128, None),
    (16 * 16 * 64 * 128, "also has a bias"),
    (16 * 16 * 64, "the number of values Flatten hands on"),
    ((8 * 8 * 64 + 1) * 128, "this run's 64 px"),
    ((32 * 32 * 64 + 1) * 128, "halves the side"),
    ("2,097,280", "should be a number"),
    (1000, "does not have 1,000 parameters"),
    (23584 + (16 * 16 * 64 + 1) * 128 + 645, "counts the whole model"),
])
def test_06_1_the_dense_layer_at_128_px(answer, words):
    line = REGISTRY.verdict("06.1", answer, image_size=64)
    assert line.startswith("06.1 correct: ") if words is None else ("not yet" in line and words in line), line


def test_06_2_a_brightness_layer_for_0_1_images():
    import keras

    layers = keras.layers
    for layer, words in [(layers.RandomBrightness(0.2, value_range=(0, 1)), None),
                         (layers.RandomBrightness(0.2, value_range=[1.0, 0.0]), None),
                         (layers.RandomBrightness(0.2), "the default"),
                         (layers.RandomBrightness(0.2, value_range=(0, 255)), "the default"),
                         (layers.RandomBrightness(0.2 / 255), "clips to 0-255"),
                         (layers.RandomBrightness(0.2, value_range=(-1, 1)), "should be (0, 1)"),
                         (layers.RandomBrightness(0.5, value_range=(0, 1)), "factor=0.2"),
                         (layers.RandomBrightness((0, 0.2), value_range=(0, 1)), "factor=0.2"),
                         (layers.RandomContrast(0.2), "should be a layers.RandomBrightness layer")]:
        line = REGISTRY.verdict("06.2", layer)
        assert line.startswith("06.2 correct: ") if words is None else ("not yet" in line and words in line), line


@pytest.fixture
def image_folder(tmp_path):
    """A folder of two classes with two small PNG images each."""
    folder = tmp_path / "flowers"
    for name in ("daisy", "tulips"):
        (folder / name).mkdir(parents=True)
        for index in range(2):
            Image.fromarray(np.full((8, 8, 3), 40 * index, np.uint8)).save(folder / name / f"{index}.png")
    return folder


def test_06_3_a_bad_file_found_and_moved_aside(image_folder, tmp_path):
    import shutil

    from helpers import image_folders

    def copy(name):
        target = tmp_path / name
        shutil.copytree(image_folder, target)
        return target

    def answer(copy_folder, found, words):
        line = REGISTRY.verdict("06.3", copy_folder, found, original=image_folder)
        assert line.startswith("06.3 correct: ") if words is None else ("not yet" in line and words in line), line

    good = copy("copy")
    (good / "daisy" / "extra.jpg").write_text("not an image")
    answer(good, image_folders.check_image_folder(good), None)
    answer(str(good), image_folders.check_image_folder(good) or [], "an earlier run of the check moved it")
    empty = copy("empty")
    answer(empty, image_folders.check_image_folder(empty), "does not name extra.jpg")
    kept = copy("kept")
    (kept / "daisy" / "extra.jpg").write_text("not an image")
    answer(kept, image_folders.check_image_folder(kept, move=False), "move=False")
    top = copy("top")
    (top / "extra.jpg").write_text("not an image")
    answer(top, image_folders.check_image_folder(top), "top folder")
    answer(image_folder, [], "the chapter's own folder")
    answer(tmp_path / "missing", [], "there is no folder")
    answer(good, "extra.jpg", "should be the list")
    answer(42, [], "should be the copy's path")


@pytest.fixture(scope="module")
def batched_images():
    """A dataset like train_raw: 96 small images (each its own brightness) with labels, in batches of 8."""
    import tensorflow as tf

    x = np.arange(96, dtype=np.float32)[:, None, None, None] * np.ones((1, 4, 4, 3), np.float32)
    return tf.data.Dataset.from_tensor_slices((x, np.arange(96) % 5)).batch(8)


def test_06_4_single_images_shuffled_across_batches(batched_images):
    import tensorflow as tf

    raw = batched_images
    train_ds = raw.cache().shuffle(1000, seed=0)

    def answer(singles, words):
        line = REGISTRY.verdict("06.4", singles, batches=train_ds)
        assert line.startswith("06.4 correct: ") if words is None else ("not yet" in line and words in line), line

    answer(raw.unbatch().cache().shuffle(1000, seed=0).batch(8).prefetch(tf.data.AUTOTUNE), None)
    answer(raw.unbatch().shuffle(1000, seed=0).batch(16), None)
    answer(raw.shuffle(1000, seed=0), "no unbatch()")
    answer(raw, "no unbatch()")
    answer(raw.unbatch().shuffle(1000, seed=0), "batch them again")
    answer(raw.unbatch().batch(8), "nothing shuffles the single images")
    answer(raw.unbatch().batch(8).shuffle(100), "batch() should come after shuffle()")
    answer(raw.unbatch().shuffle(1000).batch(8).cache(), "cache() comes after shuffle()")
    answer(raw.take(3).unbatch().shuffle(1000).batch(8), "other images")
    answer(raw.unbatch().shuffle(1, seed=0).batch(8), "two passes yield the same batches")
    answer(raw.map(lambda x, y: x), "(images, labels) pairs")
    answer([1, 2, 3], "should be a tf.data.Dataset")


# --- chapter 07 ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_cnn():
    """Chapter 07's build_cnn and a copy trained one epoch on 64 random digits."""
    import keras

    def build_cnn(seed=42):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                                  keras.layers.MaxPooling2D(4), keras.layers.Flatten(),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, (64, 28, 28, 1)).astype(np.float32), rng.integers(0, 10, 64)
    model = build_cnn()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    return build_cnn, model, x


def test_07_1_a_weights_file_by_its_proper_name(saved_cnn, tmp_path):
    build_cnn, model, _ = saved_cnn
    good = tmp_path / "mine.weights.h5"
    model.save_weights(good)
    other = tmp_path / "other.weights.h5"
    build_cnn(seed=3).save_weights(other)

    def answer(path, words):
        line = REGISTRY.verdict("07.1", path, model=model, build=build_cnn, chapter_folder=tmp_path / "chapter")
        assert line.startswith("07.1 correct: ") if words is None else ("not yet" in line and words in line), line

    answer(good, None)
    answer(str(good), None)
    answer(tmp_path / "mine.h5", "does not end in .weights.h5")
    answer(tmp_path / "mine.keras", "does not end in .weights.h5")
    answer(tmp_path / "missing.weights.h5", "there is no file")
    answer(other, "other weights")
    answer(42, "should be the file's path")
    answer(tmp_path, "is a folder")
    (tmp_path / "chapter").mkdir()
    inside = tmp_path / "chapter" / "x.weights.h5"
    model.save_weights(inside)
    answer(inside, "the chapter's folder")
    import keras
    throwaway = keras.models.clone_model(model)
    throwaway.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    whole = tmp_path / "whole.weights.h5"
    throwaway.save(whole)
    answer(whole, "a whole model in the legacy .h5 format")


def test_07_2_adam_state_restored_with_the_weights(saved_cnn, tmp_path):
    build_cnn, model, x = saved_cnn
    path = tmp_path / "state.weights.h5"
    model.save_weights(path)

    def answer(value, words):
        line = REGISTRY.verdict("07.2", value, model=model, restored=restored)
        assert line.startswith("07.2 correct: ") if words is None else ("not yet" in line and words in line), line

    restored = build_cnn(seed=1)
    restored.optimizer.build(restored.trainable_variables)
    restored.load_weights(path)
    resumed = build_cnn(seed=1)
    resumed.optimizer.build(resumed.trainable_variables)
    resumed.load_weights(path)
    answer(resumed, None)
    answer(restored, "section 4's `restored`")
    weights_only = build_cnn(seed=1)
    weights_only.load_weights(path)
    answer(weights_only, "Adam's state did not")
    answer(build_cnn(seed=1), "its weights differ")
    answer(model, "`model` itself")
    answer(path, "should be a Keras model")
    trained_on = build_cnn(seed=1)
    trained_on.optimizer.build(trained_on.trainable_variables)
    trained_on.load_weights(path)
    trained_on.fit(x[:16], np.zeros(16), batch_size=16, epochs=1, verbose=0)
    trained_on.set_weights(model.get_weights())
    answer(trained_on, "the optimizer has taken")


def test_07_3_an_exported_model_served(saved_cnn, tmp_path):
    import tensorflow as tf

    build_cnn, model, x = saved_cnn
    folder = tmp_path / "exported"
    model.export(folder, verbose=False)
    other_folder = tmp_path / "other"
    build_cnn(seed=5).export(other_folder, verbose=False)

    def answer(value, words):
        line = REGISTRY.verdict("07.3", value, model=model, images=x[:8])
        assert line.startswith("07.3 correct: ") if words is None else ("not yet" in line and words in line), line

    answer(tf.saved_model.load(str(folder)), None)
    answer(folder, "load it with tf.saved_model.load")
    answer(model, "goes through Keras (Sequential)")
    answer(tf.saved_model.load(str(other_folder)), "predictions differ")
    answer({"serve": None}, "no serve function")
    import keras
    answer(keras.layers.TFSMLayer(str(folder), call_endpoint="serve"), "goes through Keras")
    answer(tf.saved_model.load(str(folder)).serve, "one of the loaded object's functions")


def test_07_4_a_registered_layer_class_loads_plainly(tmp_path):
    import keras

    inputs = keras.Input(shape=(28, 28, 1))
    images = np.random.default_rng(0).uniform(0, 1, (4, 28, 28, 1)).astype(np.float32)

    def answer(file, copy, words):
        line = REGISTRY.verdict("07.4", file, copy, images=images)
        assert line.startswith("07.4 correct: ") if words is None else ("not yet" in line and words in line), line

    def saved(name, output, **load):
        path = tmp_path / f"{name}.keras"
        keras.Model(inputs, output).save(path)
        return path, keras.models.load_model(path, **load)

    @keras.saving.register_keras_serializable(package="course_test")
    class RegisteredInvert(keras.layers.Layer):
        def call(self, x):
            return 1.0 - x

    class Invert(keras.layers.Layer):                       # the chapter's class: not registered
        def call(self, x):
            return 1.0 - x

    @keras.saving.register_keras_serializable(package="course_test")
    class Halve(keras.layers.Layer):
        def call(self, x):
            return x / 2

    @keras.saving.register_keras_serializable(package="course_test")
    class Shifted(keras.layers.Layer):                      # an argument, but no **kwargs: cannot be rebuilt
        def __init__(self, top):
            super().__init__()
            self.top = top

        def call(self, x):
            return self.top - x

        def get_config(self):
            return {**super().get_config(), "top": self.top}

    right_file, right_copy = saved("right", RegisteredInvert()(inputs))
    answer(right_file, right_copy, None)
    answer(*saved("lambda", keras.layers.Lambda(lambda t: 1.0 - t)(inputs), safe_mode=False), "holds a Lambda layer")
    answer(*saved("unregistered", Invert()(inputs), custom_objects={"Invert": Invert}), "cannot find Invert")
    answer(*saved("halve", Halve()(inputs)), "does not compute 1 - x")
    unsaved = tmp_path / "shifted.keras"
    keras.Model(inputs, Shifted(1.0)(inputs)).save(unsaved)
    answer(unsaved, right_copy, "accept **kwargs")
    flat_inputs = keras.Input(shape=(28, 28))
    flat_file = tmp_path / "flat.keras"
    keras.Model(flat_inputs, RegisteredInvert()(flat_inputs)).save(flat_file)
    answer(flat_file, keras.models.load_model(flat_file), "build the model on")
    answer(right_file, right_file, "should be the model")
    answer(tmp_path / "missing.keras", right_copy, "no file at")
    answer(tmp_path / "right.weights.h5", right_copy, "does not end in .keras")
    answer(right_copy, right_copy, "should be the path")


def test_same_arrays_compares_lists_of_arrays_one_for_one():
    a = [np.zeros((2, 2)), np.ones(3)]
    assert exercises.same_arrays(a, [x.copy() for x in a])
    assert not exercises.same_arrays(a, a[:1])
    assert not exercises.same_arrays(a, [np.zeros((2, 2)), np.full(3, 2.0)])
    assert exercises.same_arrays([], [])
