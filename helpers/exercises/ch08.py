"""Chapter 08's exercises: the parameters unfrozen from block 4, a black and a white pixel as VGG16 sees them, the
trap of a statistic from ten images in one number, the weights a zero start keeps, and feature extraction then
fine-tuning in one model."""

from __future__ import annotations

import numpy as np

from helpers.exercises import NotYet, as_array, as_number, exercise

FIRST_UNFROZEN = "block4_conv1"


def _layers_from(base, first: str) -> list:
    """The layers of `base` from the one named `first` on (what freeze_below(base, first) unfreezes)."""
    names = [layer.name for layer in base.layers]
    return base.layers[names.index(first):]


@exercise(
    "08.1",
    why="Blocks 4 and 5 hold almost nine tenths of the base's parameters, so every block unfrozen adds millions of "
        "weights for a few labelled images to move: one reason fine-tuning unfreezes only the top layers, at a "
        "lower learning rate.",
    hint="A Conv2D layer has (3 x 3 x channels in + 1) x filters parameters; block4_conv1 takes block 3's 256 "
         "channels in and gives 512, the five layers after it take 512 in; pooling layers have none.",
    scaffold="unfrozen_params = ...  # parameters that become trainable when VGG16 is unfrozen from block4_conv1 on",
    solution="block4_params = (3 * 3 * 256 * 512 + 512) + 2 * (3 * 3 * 512 * 512 + 512)  # block4_conv1 takes 256 in\n"
             "block5_params = 3 * (3 * 3 * 512 * 512 + 512)                               # 7,079,424: section 7's count\n"
             "unfrozen_params = block4_params + block5_params\n"
             "print(f\"{unfrozen_params:,} of {vgg_base.count_params():,} parameters\")",
    context={"base": "vgg_base"},
)
def unfrozen_from_block4(unfrozen_params, *, base):
    """The parameters that pretrained.freeze_below(vgg_base, "block4_conv1") makes trainable, counted by hand."""
    if isinstance(unfrozen_params, (tuple, list)):
        pair = " (parameter_counts gives (trainable, frozen): take [0])" if len(unfrozen_params) == 2 else ""
        raise NotYet(f"`unfrozen_params` should be a number, got {type(unfrozen_params).__name__} "
                     f"{unfrozen_params!r}{pair}")
    value = as_number(unfrozen_params, "unfrozen_params")
    unfrozen = _layers_from(base, FIRST_UNFROZEN)
    expected = sum(layer.count_params() for layer in unfrozen)
    if value == expected:
        return
    block5 = sum(layer.count_params() for layer in _layers_from(base, "block5_conv1"))
    biases = sum(int(weight.shape[0]) for layer in unfrozen for weight in layer.weights if len(weight.shape) == 1)
    total = base.count_params()
    wrong = {
        sum(len(layer.weights) for layer in unfrozen):
            "that is the number of weight tensors (freeze_below's return value: a kernel and a bias per layer); the "
            "question asks for parameters",
        block5: "that is block 5 alone; block 4 is unfrozen too",
        6 * block5 // 3: "block4_conv1 takes 256 channels in, not 512: see its row in section 6's table",
        expected - biases: "that counts the kernels' weights only; every filter also has a bias",
        expected - block5: "that is block 4 alone; freeze_below also unfreezes every layer after block4_conv1, "
                           "block 5 included",
        expected - unfrozen[0].count_params(): "that leaves out block4_conv1 itself: freeze_below unfreezes the named "
                                               "layer and every layer after it",
        total - expected: "that is what stays frozen (blocks 1 to 3); the question asks for what becomes trainable",
        total: "that is the whole VGG16 base; blocks 1 to 3 stay frozen",
    }
    if value in wrong:
        raise NotYet(f"{value:,.0f}: {wrong[value]}")
    raise NotYet(f"{value:,.0f} is not the count: add up the parameters of every layer with weights from "
                 f"{FIRST_UNFROZEN} on, (3 x 3 x channels in + 1) x filters each")


def _three_values(value, name: str) -> np.ndarray:
    """One pixel's three channel values as a flat array (a (1, 1, 3) slice is fine), else NotYet."""
    array = as_array(value, name)
    if array.size != 3:
        raise NotYet(f"`{name}` should hold one pixel's 3 channel values, got {array.size} values of shape "
                     f"{array.shape}: index one pixel, e.g. [0, 0, 0] of one image")
    return array.astype(float).ravel()


@exercise(
    "08.2",
    why="preprocess_input subtracts ImageNet's mean colour channel by channel, in BGR order, so even a black pixel "
        "reaches VGG16 as three different negative numbers, nearly the input its pretrained filters were trained on "
        "(HED subtracted slightly different means: B 104.007, G 116.669, R 122.679).",
    hint="to_vgg multiplies the 0-1 digits by 255, copies the grey value into three channels, and hands them to "
         "VGG16's preprocess_input (section 3): channels reversed to B, G, R, then ImageNet's mean subtracted, B "
         "103.939, G 116.779, R 123.68, with no division.",
    scaffold="black_in = ...  # the 3 numbers VGG16 receives, via to_vgg, for a black pixel of a digit (0 in x_few)\n"
             "white_in = ...  # and for a white pixel (1.0 in x_few)",
    solution="black_in = to_vgg(np.zeros((1, 28, 28, 1)))[0, 0, 0]      # a corner of the black padding\n"
             "white_in = to_vgg(np.ones((1, 28, 28, 1)))[0, 16, 16]     # inside the all-white digit\n"
             "print(\"black ->\", black_in.round(3), \" white ->\", white_in.round(3))",
    context={"prepare": "to_vgg"},
)
def pixels_as_vgg_sees_them(black_in, white_in, *, prepare):
    """VGG16's input for a black and a white pixel of the digits, after the chapter's to_vgg."""
    black, white = _three_values(black_in, "black_in"), _three_values(white_in, "white_in")
    expected_black = np.asarray(prepare(np.zeros((1, 28, 28, 1))))[0, 0, 0].astype(float)
    expected_white = np.asarray(prepare(np.ones((1, 28, 28, 1))))[0, 16, 16].astype(float)
    mean_bgr = -expected_black                                   # what preprocess_input subtracts, B, G, R

    def close(a, b) -> bool:
        """Equal to one decimal on the 0-255 scale (section 3 prints one), to 0.05 on the 0-1 scale."""
        return bool(np.allclose(a, b, rtol=0, atol=0.5 if np.abs(b).max() > 2 else 0.05))

    if close(black, expected_black) and close(white, expected_white):
        return
    if close(black, expected_white) and close(white, expected_black):
        raise NotYet("black and white are swapped: black is 0 before the mean is subtracted, white 255")
    if close(white, expected_black):
        raise NotYet("`white_in` is what to_vgg gives a black pixel: to_vgg pads 2 pixels on each side, so the pixel "
                     "at [r, c] of x_few is at index [r + 2, c + 2] of to_vgg(x_few)")
    for name, value, expected, raw in (("black_in", black, expected_black, 0.0), ("white_in", white, expected_white,
                                                                                  255.0)):
        if close(value, expected):
            continue
        if close(value, raw) or close(value, raw / 255):
            scale = "the pixel as it is" if close(value, raw) else "x / 255, the scale of our own CNNs (section 3's mistake)"
            raise NotYet(f"`{name}` is {scale}: preprocess_input subtracts ImageNet's mean colour, so VGG16 gets "
                         "three other numbers")
        if close(value, raw - mean_bgr[::-1]):
            raise NotYet(f"`{name}` subtracts the means in R, G, B order; preprocess_input reverses the channels to "
                         "B, G, R first, so the blue mean (103.939) comes first")
        if close(value, raw / 255 - mean_bgr):
            raise NotYet(f"`{name}` starts from the 0-1 value; to_vgg multiplies by 255 before preprocess_input")
        if close(value, (raw - mean_bgr) / 255):
            raise NotYet(f"`{name}` is divided by 255; VGG16's preprocess_input subtracts the mean and does not scale")
        raise NotYet(f"`{name}` is {np.round(value, 3).tolist()}, not what to_vgg gives a "
                     f"{'black' if raw == 0 else 'white'} pixel: run to_vgg on an image of that colour and look")


@exercise(
    "08.3",
    why="A Normalization layer adapted to ten images divides a feature that never varied on them by 1e-7, so one "
        "test image that switches it on gets an input millions of times larger than any the head was trained on.",
    hint="Normalization outputs (x - mean) / maximum(sqrt(variance), keras.config.epsilon()); adapted to ten zeros, "
         "its mean and variance are both 0, and epsilon() is 1e-7.",
    scaffold="trap_value = ...  # what a Normalization adapted to ten zeros outputs for 0.5 (predict, then compute it)",
    solution="trap_layer = keras.layers.Normalization()\n"
             "trap_layer.adapt(np.zeros((10, 1), dtype=\"float32\"))       # one feature, 0 on all ten images\n"
             "trap_value = float(keras.ops.convert_to_numpy(trap_layer(np.array([[0.5]], dtype=\"float32\")))[0, 0])\n"
             "print(f\"{trap_value:,.0f}\")",
)
def trap_in_one_number(trap_value):
    """A Normalization adapted to ten zeros, on the value 0.5."""
    import keras

    value = as_number(trap_value, "trap_value")
    epsilon = keras.config.epsilon()
    expected = 0.5 / epsilon
    if np.isclose(value, expected, rtol=1e-3):
        return
    if np.isinf(value) or np.isnan(value):
        raise NotYet(f"{value}: the layer never divides by 0, it divides by maximum(sqrt(variance), epsilon()), "
                     "and epsilon() is 1e-7")
    if np.isclose(value, 0.5):
        raise NotYet("0.5 is what the chapter's own head gives (it leaves a feature that did not vary unscaled); an "
                     "adapted Normalization divides by the feature's standard deviation, at least 1e-7")
    if np.isclose(value, 0.5 / np.sqrt(epsilon), rtol=1e-3):
        raise NotYet(f"{value:,.0f} divides by sqrt(1e-7); epsilon bounds the standard deviation, not the variance: "
                     "maximum(sqrt(variance), epsilon())")
    if np.isclose(value, -expected, rtol=1e-3):
        raise NotYet("the sign is wrong: the mean is 0, so the output is (0.5 - 0) / 1e-7")
    if value == 0:
        raise NotYet("0 is what the ten labelled images themselves get, (0 - 0) / 1e-7; the test image's 0.5 lies "
                     "0.5 above their mean")
    if np.isclose(value, 0.5 * epsilon, rtol=1e-3):
        raise NotYet(f"{value:g} is far too small: the layer divides by the standard deviation (here at least 1e-7), "
                     "it does not multiply")
    raise NotYet(f"{value:,.6g} is not it: the output is (x - mean) / maximum(sqrt(variance), 1e-7), with the mean "
                 "and variance of ten zeros")


@exercise(
    "08.4",
    why="A feature that was 0 on every labelled image gives its weight no gradient, so a head that starts at zero "
        "keeps exactly one zero weight per such feature and ignores it on every test image, whatever value it takes "
        "there.",
    hint="Train a head the chapter's way, with new_head on the labelled images' VGG16 features at 32 px (the first "
         "array of cached[f\"VGG16 {TASK_SIZE} px\"]); its layer \"nine_probability\" has one weight per feature in "
         "get_weights()[0]; count those equal to 0, and compare with the trap cell's table.",
    scaffold="still_zero = ...  # how many of the 512 weights of a trained new_head on VGG16's 32 px features are exactly 0",
    solution="zero_start_head = new_head(cached[f\"VGG16 {TASK_SIZE} px\"][0], SEEDS[0])\n"
             "head_kernel = zero_start_head.get_layer(\"nine_probability\").get_weights()[0][:, 0]   # one weight per feature\n"
             "still_zero = int((head_kernel == 0).sum())\n"
             "print(f\"{still_zero} of {head_kernel.size} weights are still 0; features that never fired on the \"\n"
             "      f\"labelled images: {never_fired[f'VGG16 {TASK_SIZE} px'][0]}\")",
    context={"features": "cached[f\"VGG16 {TASK_SIZE} px\"][0]", "own": "cached[\"own backbone\"][0]",
             "control": "cached[f\"VGG16 {CONTROL_SIZE} px\"][0]"},
)
def weights_a_zero_start_keeps(still_zero, *, features, own, control):
    """The head's weights still exactly 0 after training: one per feature constant on the labelled images."""
    value = as_number(still_zero, "still_zero")
    features, own, control = np.asarray(features), np.asarray(own), np.asarray(control)
    expected = int((features.std(axis=0) == 0).sum())
    if value == expected:
        return
    width = features.shape[1]
    if value == width - expected:
        raise NotYet(f"{value:.0f} counts the weights that moved; the question asks for those still exactly 0")
    if value == width:
        raise NotYet(f"all {width} are 0 only before training: count after new_head has trained the head")
    if value == int((own.std(axis=0) == 0).sum()):
        raise NotYet(f"{value:.0f} is the count for the own backbone's {own.shape[1]} features; the question asks "
                     f"about VGG16's at 32 px")
    if value == int((control.std(axis=0) == 0).sum()):
        raise NotYet(f"{value:.0f} is the count for VGG16's features at 64 px (the scale control); the question asks "
                     f"about those at 32 px, cached[f\"VGG16 {{TASK_SIZE}} px\"][0]")
    if value == 0:
        raise NotYet("none is 0: is this the trap head (trap=True)? It starts from random weights; the chapter's head "
                     "starts at zero")
    raise NotYet(f"{value:.0f} is not the count: a weight stays exactly 0 when its feature gave it no gradient at any "
                 "step; count with (kernel == 0).sum()")


def _named_layers(model) -> dict:
    """Every layer of `model` by name, looking inside nested models (first one wins)."""
    found: dict = {}
    for layer in getattr(model, "layers", []):
        found.setdefault(layer.name, layer)
        if hasattr(layer, "layers"):
            for name, inner in _named_layers(layer).items():
                found.setdefault(name, inner)
    return found


def _container_of(model, layer):
    """The model (`model` itself or one nested in it) whose own layers include `layer`, or None."""
    inner = getattr(model, "layers", [])
    if any(item is layer for item in inner):
        return model
    for item in inner:
        if hasattr(item, "layers"):
            found = _container_of(item, layer)
            if found is not None:
                return found
    return None


@exercise(
    "08.5",
    why="Feature extraction then fine-tuning in one model is the recipe of section 5: train the new head on frozen "
        "features, unfreeze the top layers, compile again at a lower learning rate, and only then does fit move "
        "them.",
    hint="two_phase_base = own_features() is a frozen copy; put it under keras.layers.Dense(1, activation=\"sigmoid\") "
         "in a Sequential, compile with Adam(1e-2) and fit (the head learns); then pretrained.freeze_below("
         "two_phase_base, \"conv_2\"), compile again with Adam(1e-3) and fit once more (section 8 says why the "
         "compile matters).",
    scaffold="two_phase = ...  # own_features() + a sigmoid head: the head trained first, then conv_2 and hidden too",
    solution="keras.utils.set_random_seed(SEEDS[0])\n"
             "two_phase_base = own_features()                             # a frozen copy: `backbone` stays as it is\n"
             "two_phase = keras.Sequential([two_phase_base, keras.layers.Dense(1, activation=\"sigmoid\")], name=\"two_phase\")\n"
             "two_phase.compile(optimizer=keras.optimizers.Adam(1e-2), **BINARY)\n"
             "two_phase.fit(one_epoch(x_few, y_few, EPOCHS, 16, SEEDS[0]), verbose=0)         # phase 1: the head\n"
             "pretrained.freeze_below(two_phase_base, \"conv_2\")           # conv_2 and hidden learn, conv_1 stays\n"
             "two_phase.compile(optimizer=keras.optimizers.Adam(1e-3), **BINARY)              # again: trainable changed\n"
             "two_phase.fit(one_epoch(x_few, y_few, FINE_TUNE_EPOCHS, 16, SEEDS[0]), verbose=0)   # phase 2\n"
             "print(f\"test accuracy {(predicted_nine(two_phase, x_test) == y_test).mean():.3f}\")",
    context={"backbone": "backbone"},
)
def head_then_fine_tuning(two_phase, *, backbone):
    """A copy of the own backbone under a sigmoid head, fine-tuned from conv_2 on after the head was trained."""
    import keras

    if not isinstance(two_phase, keras.Model):
        raise NotYet(f"`two_phase` should be a Keras model, got {type(two_phase).__name__}")
    layers = _named_layers(two_phase)
    missing = [name for name in ("conv_1", "conv_2", "hidden") if name not in layers]
    if missing:
        raise NotYet(f"`two_phase` has no layer {missing[0]!r}: build it on own_features(), the backbone's copy")
    if any(layers[name] is backbone.get_layer(name) for name in ("conv_1", "conv_2", "hidden")):
        raise NotYet("`two_phase` holds `backbone`'s own layers, so training it changed the chapter's backbone: use "
                     "own_features(), a fresh copy (rerun the cell that loads `backbone` to restore it)")
    try:
        output_shape = tuple(two_phase.output_shape)
    except (AttributeError, ValueError):
        raise NotYet("`two_phase` has no output shape yet: build it on own_features(), whose input shape is "
                     "known, and fit it") from None
    if output_shape != (None, 1):
        raise NotYet(f"`two_phase` outputs shape {output_shape}: put a head with one sigmoid unit "
                     "on the features (the probability of a nine)")

    def learned(name: str) -> bool:
        ours, theirs = layers[name].get_weights(), backbone.get_layer(name).get_weights()
        return any(not np.array_equal(a, b) for a, b in zip(ours, theirs))

    if learned("conv_1") and not layers["conv_1"].trainable:
        raise NotYet("conv_1 is frozen but holds other weights than the backbone's: start from own_features(), which "
                     "copies the trained weights (keras.models.clone_model alone starts from random ones)")
    if learned("conv_1"):
        raise NotYet("conv_1 learned too: it should stay frozen; freeze_below(two_phase_base, \"conv_2\") freezes "
                     "the layers before conv_2 and unfreezes the rest")
    for name in ("conv_2", "hidden"):
        if learned(name):
            continue
        if not layers[name].trainable:
            container = _container_of(two_phase, layers[name])
            inner = [layer for layer in getattr(container, "layers", []) if layer.weights]
            if container is not None and container is not two_phase and not any(layer.trainable for layer in inner):
                position = next((f"two_phase.layers[{index}]" for index, layer in enumerate(two_phase.layers)
                                 if layer is container), f"the model {container.name!r}")
                no_op = "" if not container.trainable else \
                    (f" (setting trainable = True on the model {container.name!r} changes nothing here: it is already "
                     "trainable, only its layers are frozen, and with the TensorFlow backend Keras skips assigning "
                     "the value an attribute already holds)")
                raise NotYet(f"the model inside `two_phase` still has all its layers frozen: unfreeze {position} "
                             f"(the copy you built it on) from conv_2 on, with pretrained.freeze_below({position}, "
                             f"\"conv_2\"), then compile and fit{no_op}")
            raise NotYet(f"{name} is still frozen and unchanged: unfreeze from conv_2 on with "
                         f"pretrained.freeze_below(two_phase_base, \"conv_2\"), then compile and fit")
        raise NotYet(f"{name} is trainable but still holds the backbone's weights: a change of trainable counts "
                     "only from the first fit after a compile, so compile again after freeze_below, then fit (section 8)")
    optimizer = getattr(two_phase, "optimizer", None)
    if optimizer is None:
        raise NotYet("`two_phase` is not compiled: compile it before each fit")
    rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    if rate > 1e-3 * (1 + 1e-6):
        raise NotYet(f"`two_phase` was last compiled at learning rate {rate:g}: fine-tuning compiles again at 1e-3, "
                     "10x lower than the head's 1e-2, so the pretrained weights move only a little; train the head "
                     "alone first, then unfreeze, compile at 1e-3 and fit")
