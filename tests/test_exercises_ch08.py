"""Chapter 08's exercise checks: each passes on its reference answer and answers the wrong answers learners
typically give with its intended message (a wrong type or shape included)."""

import numpy as np
import pytest
import tensorflow as tf

from helpers import models, pretrained
from helpers.exercises import REGISTRY


def expect(exercise_id, answers, words, **context):
    """The check's line: "correct" when `words` is None, else "not yet" containing `words`."""
    line = REGISTRY.verdict(exercise_id, *answers, **context)
    if words is None:
        assert line.startswith(f"{exercise_id} correct: "), line
    else:
        assert line.startswith(f"{exercise_id} not yet: ") and words in line, line


def run_solution(exercise_id, namespace):
    """Run the exercise's reference solution in `namespace` (the chapter's names it uses) and return the namespace."""
    import keras

    namespace = {"np": np, "keras": keras, **namespace}
    exec(REGISTRY.get(exercise_id).solution, namespace)
    return namespace


# --- 08.1 ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vgg_base():
    """VGG16's conv base at 32 px, frozen as in the chapter (random weights: the counts are the same)."""
    import keras

    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    pretrained.freeze_below(base, None)
    return base


BLOCK5 = 3 * (3 * 3 * 512 * 512 + 512)
BLOCK4 = (3 * 3 * 256 * 512 + 512) + 2 * (3 * 3 * 512 * 512 + 512)


@pytest.mark.parametrize("answer, words", [
    (BLOCK4 + BLOCK5, None),
    (np.int64(12_979_200), None),
    (12, "the number of weight tensors"),
    (7_079_424, "that is block 5 alone"),
    (6 * 2_359_808, "block4_conv1 takes 256 channels in"),
    (BLOCK4 + BLOCK5 - 6 * 512, "the kernels' weights only"),
    (BLOCK4, "that is block 4 alone"),
    (BLOCK4 + BLOCK5 - 1_180_160, "leaves out block4_conv1 itself"),
    (14_714_688 - BLOCK4 - BLOCK5, "what stays frozen"),
    (14_714_688, "the whole VGG16 base"),
    (12_000_000, "is not the count"),
    (np.array(12_979_200), None),                                   # a 0-d array is one number
    ((12_979_200,), "should be a number, got tuple"),
    ((12_979_200, 1_735_488), "(parameter_counts gives (trainable, frozen): take [0])"),
    ("12,979,200", "should be a number, got str"),
])
def test_08_1_parameters_unfrozen_from_block4(vgg_base, answer, words):
    expect("08.1", (answer,), words, base=vgg_base)


def test_08_1_the_count_is_what_freeze_below_makes_trainable_and_the_check_leaves_the_base_frozen(vgg_base):
    import keras

    copy = keras.models.clone_model(vgg_base)
    pretrained.freeze_below(copy, "block4_conv1")
    assert pretrained.parameter_counts(copy)[0] == BLOCK4 + BLOCK5 == 12_979_200
    namespace = run_solution("08.1", {"vgg_base": vgg_base})
    expect("08.1", (namespace["unfrozen_params"],), None, base=vgg_base)
    assert pretrained.parameter_counts(vgg_base) == (0, 14_714_688)


# --- 08.2 ------------------------------------------------------------------------------------


def to_vgg(x, size=32):
    """The chapter's to_vgg: (N, 28, 28, 1) grey images in [0, 1] -> VGG16 inputs (BGR, ImageNet mean subtracted)."""
    import keras

    padded = np.pad(x * 255, ((0, 0), (2, 2), (2, 2), (0, 0))).astype("float32")
    resized = padded if size == 32 else tf.image.resize(padded, (size, size)).numpy()
    return keras.applications.vgg16.preprocess_input(np.repeat(resized, 3, axis=-1))


MEAN_BGR = np.array([103.939, 116.779, 123.68])
BLACK, WHITE = -MEAN_BGR, 255 - MEAN_BGR


@pytest.mark.parametrize("answers, words", [
    ((BLACK, WHITE), None),
    ((BLACK.tolist(), tuple(WHITE)), None),
    ((BLACK.reshape(1, 1, 3), WHITE.reshape(1, 3)), None),
    ((WHITE, BLACK), "black and white are swapped"),
    ((np.zeros(3), WHITE), "`black_in` is the pixel as it is"),
    ((BLACK, np.ones(3)), "`white_in` is x / 255"),
    ((BLACK, np.full(3, 255.0)), "`white_in` is the pixel as it is"),
    ((-MEAN_BGR[::-1], WHITE), "`black_in` subtracts the means in R, G, B order"),
    ((BLACK, 255 - MEAN_BGR[::-1]), "`white_in` subtracts the means in R, G, B order"),
    ((BLACK, 1 - MEAN_BGR), "`white_in` starts from the 0-1 value"),
    ((BLACK / 255, WHITE / 255), "`black_in` is divided by 255"),
    ((BLACK.round(1), WHITE.round(1)), None),                       # by hand from section 3's one decimal
    (([-103.9, -116.8, -123.7], [151.1, 138.2, 131.3]), None),
    ((BLACK.round(), WHITE.round()), None),                           # whole numbers
    ((BLACK, WHITE + 10), "not what to_vgg gives a white pixel"),
    ((BLACK, WHITE + 0.6), "not what to_vgg gives a white pixel"),
    ((BLACK, BLACK), "to_vgg pads 2 pixels on each side"),
    (((BLACK / 255).round(1), (WHITE / 255).round(1)), "`black_in` is divided by 255"),
    ((BLACK.round(1), np.full(3, 255)), "`white_in` is the pixel as it is"),
    ((-MEAN_BGR[::-1].round(), WHITE), "`black_in` subtracts the means in R, G, B order"),
    ((BLACK[:2], WHITE), "should hold one pixel's 3 channel values, got 2 values"),
    ((BLACK, np.zeros((32, 32, 3))), "should hold one pixel's 3 channel values, got 3072 values"),
    ((BLACK, "white"), "`white_in` should be an array of numbers, got str"),
    ((BLACK, ...), "`white_in` still holds a blank"),
])
def test_08_2_a_black_and_a_white_pixel_as_vgg16_sees_them(answers, words):
    expect("08.2", answers, words, prepare=to_vgg)


def test_08_2_the_solution_takes_its_pixels_from_to_vgg():
    namespace = run_solution("08.2", {"to_vgg": to_vgg})
    assert np.allclose(namespace["black_in"], BLACK, atol=1e-3) and np.allclose(namespace["white_in"], WHITE, atol=1e-3)
    expect("08.2", (namespace["black_in"], namespace["white_in"]), None, prepare=to_vgg)


# --- 08.3 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer, words", [
    (5e6, None),
    (np.float32(0.5) / np.float32(1e-7), None),
    (0.5, "what the chapter's own head gives"),
    (float("inf"), "never divides by 0"),
    (float("nan"), "never divides by 0"),
    (0.5 / np.sqrt(1e-7), "divides by sqrt(1e-7)"),
    (-5e6, "the sign is wrong"),
    (0, "what the ten labelled images themselves get"),
    (5e-8, "far too small"),
    (1e7, "is not it"),
    (True, "should be a number, got bool"),
    ([5e6], "should be a number, got list"),
    (np.array([5e6, 5e6]), "should be a number, got ndarray"),
])
def test_08_3_the_trap_in_one_number(answer, words):
    expect("08.3", (answer,), words)


def test_08_3_accepts_the_layer_output_as_it_comes():
    import keras

    layer = keras.layers.Normalization()
    layer.adapt(np.zeros((10, 1), dtype="float32"))
    out = layer(np.array([[0.5]], dtype="float32"))                  # a (1, 1) tensor
    array = keras.ops.convert_to_numpy(out)
    for answer in (out, array, array[0], array[0, 0], float(array[0, 0])):
        expect("08.3", (answer,), None)


def test_08_3_the_solution_measures_what_the_check_expects():
    namespace = run_solution("08.3", {})
    assert np.isclose(namespace["trap_value"], 5e6, rtol=1e-3)
    expect("08.3", (namespace["trap_value"],), None)


# --- 08.4 ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def few_features():
    """Ten labelled ReLU-like feature vectors of VGG16 at 32 px (512, 150 never fired), own ones (128, 28), 64 px (60)."""
    rng = np.random.default_rng(0)
    vgg = np.maximum(rng.normal(size=(10, 512)), 0).astype("float32")
    vgg[:, rng.choice(512, 150, replace=False)] = 0
    own = np.maximum(rng.normal(size=(10, 128)), 0).astype("float32")
    own[:, :28] = 0
    control = np.maximum(rng.normal(size=(10, 512)), 0).astype("float32") + 0.01
    control[:, :60] = 0
    return vgg, own, control


def new_head(features, seed, y=np.array([0, 1] * 5, dtype="float32")):
    """The chapter's new_head (not the trap): standardise, dropout, one sigmoid unit from a zero start, trained."""
    import keras

    keras.utils.set_random_seed(seed)
    spread = features.std(axis=0)
    standardise = keras.layers.Normalization(mean=features.mean(axis=0), variance=np.where(spread > 0, spread, 1) ** 2,
                                             name="standardise")
    head = keras.Sequential([keras.Input(features.shape[1:]), standardise, keras.layers.Dropout(0.5),
                             keras.layers.Dense(1, activation="sigmoid", name="nine_probability",
                                                kernel_initializer="zeros")])
    head.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    head.fit(tf.data.Dataset.from_tensor_slices((features, y)).batch(len(features)).repeat(50), verbose=0)
    return head


@pytest.mark.parametrize("answer, words", [
    (150, None),
    (np.int64(150), None),
    (512 - 150, "counts the weights that moved"),
    (512, "only before training"),
    (28, "the own backbone's 128 features"),
    (60, "VGG16's features at 64 px"),
    (np.array([150]), None),
    (0, "is this the trap head"),
    (149, "is not the count"),
    ("150", "should be a number, got str"),
])
def test_08_4_the_weights_a_zero_start_keeps(few_features, answer, words):
    vgg, own, control = few_features
    expect("08.4", (answer,), words, features=vgg, own=own, control=control)


def test_08_4_a_zero_started_head_keeps_exactly_one_zero_weight_per_never_fired_feature(few_features):
    vgg, own, control = few_features
    cached = {"VGG16 32 px": (vgg, None), "own backbone": (own, None), "VGG16 64 px": (control, None)}
    never_fired = {"VGG16 32 px": (150, 0, 0.0)}
    namespace = run_solution("08.4", {"new_head": new_head, "cached": cached, "TASK_SIZE": 32, "SEEDS": (42, 43),
                                      "never_fired": never_fired})
    kernel = namespace["head_kernel"]
    assert namespace["still_zero"] == 150 and np.all(kernel[vgg.std(axis=0) > 0] != 0)
    expect("08.4", (namespace["still_zero"],), None, features=vgg, own=own, control=control)


# --- 08.5 ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    """Chapter 08's names for 08.5, small: a backbone (chapter 05's CNN, 8 outputs), own_features, ten images."""
    import keras

    backbone = models.chapter05_cnn(8, "softmax", seed=0)
    rng = np.random.default_rng(1)
    x_few = rng.uniform(0, 1, (10, 28, 28, 1)).astype("float32")
    y_few = np.array([0, 1] * 5, dtype="float32")

    def own_features():
        copy = keras.models.clone_model(backbone)
        copy.set_weights(backbone.get_weights())
        features = keras.Model(copy.inputs, copy.get_layer("hidden").output, name="own_backbone")
        pretrained.freeze_below(features, None)
        return features

    def one_epoch(x, y, passes, batch_size, seed):
        return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed).batch(batch_size).repeat(passes)

    def predicted_nine(model, x):
        return (keras.ops.convert_to_numpy(model(x, training=False))[:, 0] >= 0.5).astype(int)

    return {"backbone": backbone, "own_features": own_features, "one_epoch": one_epoch, "x_few": x_few,
            "y_few": y_few, "x_test": x_few, "y_test": y_few, "predicted_nine": predicted_nine, "pretrained":
            pretrained, "BINARY": {"loss": "binary_crossentropy", "metrics": ["accuracy"]}, "SEEDS": (42, 43),
            "EPOCHS": 3, "FINE_TUNE_EPOCHS": 3}


def two_phase(names, first_trainable="conv_2", recompile=True, unfreeze_all=False, rate=1e-3, other_copy=False,
              one_phase=False):
    """The reference recipe, or one of its typical mistakes."""
    import keras

    base = names["own_features"]()
    inside = names["own_features"]() if other_copy else base        # other_copy: the model holds another copy
    model = keras.Sequential([inside, keras.layers.Dense(1, activation="sigmoid")])
    data = names["one_epoch"](names["x_few"], names["y_few"], 3, 16, 0)
    if one_phase:                                                    # unfrozen first, trained once at the head's rate
        pretrained.freeze_below(base, first_trainable)
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
        model.fit(data, verbose=0)
        return model
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    model.fit(data, verbose=0)
    if unfreeze_all == "attribute":
        base.trainable = True               # already True (freeze_below froze the layers): nothing changes
    elif unfreeze_all:
        for layer in base.layers:
            layer.trainable = True
    else:
        pretrained.freeze_below(base, first_trainable)
    if recompile:
        model.compile(optimizer=keras.optimizers.Adam(rate), loss="binary_crossentropy")
    model.fit(data, verbose=0)
    return model


def test_08_5_the_reference_solution_passes_and_leaves_the_backbone_as_it_was(digits):
    before = digits["backbone"].get_weights()
    namespace = run_solution("08.5", dict(digits))
    expect("08.5", (namespace["two_phase"],), None, backbone=digits["backbone"])
    assert all(np.array_equal(a, b) for a, b in zip(before, digits["backbone"].get_weights()))


def test_08_5_feature_extraction_then_fine_tuning(digits):
    import keras

    backbone = digits["backbone"]

    def answer(model, words):
        expect("08.5", (model,), words, backbone=backbone)

    answer(two_phase(digits), None)
    answer(two_phase(digits, recompile=False), "conv_2 is trainable but still holds the backbone's weights")
    answer(two_phase(digits, first_trainable="hidden"), "conv_2 is still frozen")
    assert "changes nothing here" not in REGISTRY.verdict("08.5", two_phase(digits, first_trainable="hidden"),
                                                          backbone=backbone)  # hidden unfrozen: no aside
    frozen_container = two_phase(digits, unfreeze_all="attribute")
    frozen_container.layers[0].trainable = False                     # the container frozen too: no aside
    line = REGISTRY.verdict("08.5", frozen_container, backbone=backbone)
    assert "still has all its layers frozen" in line and "changes nothing here" not in line, line
    answer(two_phase(digits, unfreeze_all=True), "conv_1 learned too")
    answer(two_phase(digits, unfreeze_all="attribute"),
           "setting trainable = True on the model 'own_backbone' changes nothing here")
    answer(two_phase(digits, other_copy=True),
           "the model inside `two_phase` still has all its layers frozen: unfreeze two_phase.layers[0] (the copy "
           "you built it on)")
    assert "changes nothing here" in REGISTRY.verdict("08.5", two_phase(digits, other_copy=True), backbone=backbone)
    answer(two_phase(digits, one_phase=True), "was last compiled at learning rate 0.01")
    answer(two_phase(digits, rate=1e-2), "was last compiled at learning rate 0.01")
    answer(two_phase(digits, rate=1e-4), None)                      # lower still is fine
    answer(digits["own_features"](), "outputs shape (None, 128)")
    shared = keras.Model(backbone.inputs, backbone.get_layer("hidden").output)      # backbone's own layers
    answer(keras.Sequential([shared, keras.layers.Dense(1, activation="sigmoid")]), "holds `backbone`'s own layers")
    random_copy = keras.models.clone_model(backbone)                                  # architecture, new weights
    random_features = keras.Model(random_copy.inputs, random_copy.get_layer("hidden").output)
    pretrained.freeze_below(random_features, None)
    answer(keras.Sequential([random_features, keras.layers.Dense(1, activation="sigmoid")]),
           "conv_1 is frozen but holds other weights")
    answer(keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(1)]),
           "has no layer 'conv_1'")
    answer(backbone.get_weights(), "should be a Keras model, got list")
    unbuilt = keras.Sequential([keras.layers.Conv2D(4, 3, name=name) for name in ("conv_1", "conv_2", "hidden")])
    answer(unbuilt, "has no output shape yet")
