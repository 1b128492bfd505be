"""Chapter 05's exercises: conv_2's parameters, its feature maps, every wrong sneaker, the least shirt-like shirts,
the dense model turned into a CNN."""

from __future__ import annotations

import numpy as np

from helpers.exercises import NotYet, as_array, as_number, exercise

SHIRT, SNEAKER = 6, 7


@exercise(
    "05.1",
    why="A convolution's parameters are one k x k kernel per incoming channel and filter, plus a bias per filter: "
        "they grow with the kernel's area (25/9 as many for 5 x 5 as for 3 x 3) but not with the image size.",
    hint="Section 3 counted conv_2 with 3 x 3 kernels as (3 * 3 * 32 + 1) * 64: each of the 64 filters has one kernel "
         "per incoming channel (32, from conv_1 through pool_1) and one bias. Change the kernel size only.",
    scaffold="conv_2_params_5x5 = ...  # conv_2's trainable parameters if its kernels were 5 x 5 (still 64 filters)",
    solution="conv_2_params_5x5 = (5 * 5 * 32 + 1) * 64   # a 5x5 kernel for each of the 32 incoming channels, + a bias\n"
             "wider = keras.layers.Conv2D(64, 5, padding=\"same\")\n"
             "wider.build((None, 14, 14, 32))\n"
             "print(conv_2_params_5x5, wider.count_params())",
    context={"model": "cnn"},
)
def conv_2_parameters_5x5(conv_2_params_5x5, *, model):
    """The parameter count of the CNN's second convolution with 5 x 5 kernels, by hand."""
    value = as_number(conv_2_params_5x5, "conv_2_params_5x5")
    _, _, channels, filters = model.get_layer("conv_2").get_weights()[0].shape
    k = 5
    if value == (k * k * channels + 1) * filters:
        return
    if value == k * k * channels * filters:
        raise NotYet(f"{value:,.0f} counts the kernels only; each of the {filters} filters also has a bias")
    if value == (k * k + 1) * filters:
        raise NotYet(f"{value:,.0f} gives each filter one {k}x{k} kernel; it has one per incoming channel ({channels} "
                     "channels come from conv_1 through pool_1)")
    if value == model.get_layer("conv_2").count_params():
        raise NotYet(f"{value:,.0f} is conv_2's count with its 3x3 kernels; the question asks for 5x5")
    if value in (14 * 14 * k * k * channels * filters, 14 * 14 * (k * k * channels + 1) * filters):
        raise NotYet("that is a count of multiply-adds (section 3), which grows with the image; the parameters are the "
                     "kernels and biases, the same at every position")
    raise NotYet(f"conv_2 with 5x5 kernels does not have {value:,.0f} parameters: count its kernel weights (size x "
                 "size x incoming channels x filters) and its biases")


@exercise(
    "05.2",
    why="Every convolution layer's output is a stack of feature maps, one per filter, and any layer's output can be "
        "read by a model that ends there; deeper maps are smaller (after pooling) and more numerous.",
    hint="Section 7 built a model from cnn.inputs to conv_1's output; end it at conv_2's output instead, predict on "
         "the first test image as a batch of one (X_test[:1]) and drop the batch axis with [0].",
    scaffold="conv_2_maps = ...  # conv_2's feature maps for the first test image: (height, width, filters)",
    solution='conv_2_model = keras.Model(inputs=cnn.inputs, outputs=cnn.get_layer("conv_2").output)\n'
             "conv_2_maps = conv_2_model.predict(X_test[:1], verbose=0)[0]\n"
             "print(conv_2_maps.shape)\n"
             "fig = plots.show_on_one_scale([conv_2_maps[..., i] for i in range(16)], [f\"filter {i}\" for i in "
             "range(16)],\n"
             '                              ncols=8, size=1.2, label="activation", suptitle="conv_2: the first 16 of '
             '64 maps")',
    context={"model": "cnn", "images": "X_test"},
)
def conv_2_feature_maps(conv_2_maps, *, model, images):
    """conv_2's feature maps for the first test image."""
    import keras

    maps = as_array(conv_2_maps, "conv_2_maps")
    names = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    expected_shape = names["conv_2"]
    if maps.shape == (1, *expected_shape):
        raise NotYet(f"shape {maps.shape} still has the batch axis; take [0] to get {expected_shape}")
    if maps.shape == names["conv_1"]:
        raise NotYet(f"expected shape {expected_shape}, got {maps.shape}: did you take the output of conv_1 instead "
                     "of conv_2?")
    if maps.shape == names["pool_2"]:
        raise NotYet(f"shape {maps.shape} is after pool_2; conv_2's own output comes before that pooling: "
                     f"{expected_shape}")
    if maps.shape == names["pool_1"]:
        raise NotYet(f"shape {maps.shape} is pool_1's output, conv_2's input; take conv_2's output")
    if maps.shape != expected_shape:
        raise NotYet(f"expected shape {expected_shape} (height, width, filters), got {maps.shape}")
    reader = keras.Model(inputs=model.inputs, outputs=model.get_layer("conv_2").output)
    expected = np.asarray(reader.predict(np.asarray(images[:1]), verbose=0))[0]
    if np.allclose(maps, expected, rtol=1e-3, atol=1e-4):
        return
    if maps.min() < 0:
        raise NotYet("these maps have negative values; conv_2 ends in a ReLU, so its output does not")
    unscaled = np.asarray(reader.predict(np.asarray(images[:1]) * 255, verbose=0))[0]
    if np.allclose(maps, unscaled, rtol=1e-3, atol=1e-2):
        raise NotYet("these are the maps of the raw 0-255 image; the CNN was trained on images scaled to 0-1, as "
                     "X_test holds them")
    raise NotYet("these are not conv_2's maps for the first test image: read them from the trained `cnn`, "
                 "predicting on X_test[:1]")


@exercise(
    "05.3",
    why="Looking at every mistake of one class, not a sample, shows what the errors have in common: here mostly other "
        "footwear, which the network confuses far more often than shoes with clothes.",
    hint="Combine two conditions with &: the true class (y_test) is Sneaker (7) and the CNN's prediction (`predicted`) "
         "is not; np.flatnonzero turns the True/False mask into test indices.",
    scaffold="wrong_sneakers = ...  # the test indices of every sneaker the CNN misclassified, in increasing order",
    solution="wrong_sneakers = np.flatnonzero((y_test == class_names.index('Sneaker')) & (predicted != y_test))\n"
             "fig = plots.show_misclassified(x_test[wrong_sneakers], y_test[wrong_sneakers], predicted[wrong_sneakers],\n"
             "                               class_names, limit=len(wrong_sneakers), ncols=10)",
    context={"predicted": "predicted", "labels": "y_test"},
)
def every_wrong_sneaker(wrong_sneakers, *, predicted, labels):
    """The test indices of every misclassified sneaker."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    answer = as_array(wrong_sneakers, "wrong_sneakers")
    expected = np.flatnonzero((labels == SNEAKER) & (predicted != labels))
    if answer.dtype == bool:
        if answer.shape != labels.shape:
            raise NotYet(f"a True/False mask needs one entry per test image, {labels.shape}, got {answer.shape}")
        answer = np.flatnonzero(answer)
    if answer.ndim == 2 and answer.shape[0] == 1 and isinstance(wrong_sneakers, tuple):
        raise NotYet("np.where and np.nonzero return a tuple, one array per axis; take its [0] (or use np.flatnonzero)")
    if answer.ndim != 1:
        raise NotYet(f"`wrong_sneakers` should be a flat list of test indices, got shape {answer.shape}")
    if np.array_equal(answer, expected):
        return
    if np.array_equal(np.sort(answer), expected):
        raise NotYet("the right indices, in another order: sort them (np.flatnonzero gives them in order)")
    if np.array_equal(answer, np.flatnonzero(labels == SNEAKER)):
        raise NotYet(f"these are all {len(answer)} test sneakers; keep those the CNN got wrong (predicted != y_test)")
    if np.array_equal(answer, np.flatnonzero((predicted == SNEAKER) & (labels != SNEAKER))):
        raise NotYet("these are images the CNN called a sneaker that are something else: the other direction")
    sneakers = labels == SNEAKER
    if np.array_equal(answer, np.flatnonzero(predicted[sneakers] != SNEAKER)):
        raise NotYet("these count positions among the sneakers only; give indices into the whole test set, as "
                     "np.flatnonzero over all of y_test does")
    if np.array_equal(answer, np.flatnonzero(predicted != labels)):
        raise NotYet("these are all misclassified test images; keep the sneakers (y_test == 7)")
    missing, extra = np.setdiff1d(expected, answer), np.setdiff1d(answer, expected)
    if len(extra):
        raise NotYet(f"test image {int(extra[0])} is in your list but is not a misclassified sneaker (it is of class "
                     f"{int(labels[extra[0]])}, predicted as class {int(predicted[extra[0]])})")
    raise NotYet(f"{len(missing)} misclassified sneaker(s) are missing, test image {int(missing[0])} for one")


@exercise(
    "05.4",
    why="The probability the network gives the true class ranks its hardest cases: the least shirt-like shirts are "
        "often ones a person would also call a T-shirt or a pullover.",
    hint="cnn.predict(X_test) gives ten probabilities per image; column 6 is 'Shirt' (the chapter's `probabilities` "
         "are the further CNN's, not this CNN's). Look only at the test shirts (np.flatnonzero(y_test == 6)), order "
         "them by that column with np.argsort (smallest first) and keep three.",
    scaffold="least_shirt_like = ...  # test indices of the 3 test shirts with the lowest probability of 'Shirt'",
    solution="shirt_probability = cnn.predict(X_test, verbose=0)[:, class_names.index('Shirt')]\n"
             "test_shirts = np.flatnonzero(y_test == class_names.index('Shirt'))\n"
             "least_shirt_like = test_shirts[np.argsort(shirt_probability[test_shirts])[:3]]\n"
             "print(\"probability of 'Shirt':\", shirt_probability[least_shirt_like].round(4))\n"
             "fig = plots.show_predictions(x_test[least_shirt_like], y_test[least_shirt_like],\n"
             "                             predicted[least_shirt_like], class_names, ncols=3, size=2)",
    context={"model": "cnn", "images": "X_test", "labels": "y_test"},
)
def least_shirt_like_shirts(least_shirt_like, *, model, images, labels):
    """The three test shirts the CNN finds least shirt-like."""
    labels = np.asarray(labels)
    answer = as_array(least_shirt_like, "least_shirt_like").reshape(-1)
    if answer.size != 3:
        raise NotYet(f"`least_shirt_like` should hold 3 test indices, got {answer.size} values")
    if not np.issubdtype(answer.dtype, np.integer) and not np.all(answer == np.round(answer)):
        raise NotYet("these are not whole numbers: probabilities? Give the test indices of the three images")
    answer = answer.astype(int)
    if answer.min() < 0 or answer.max() >= len(labels):
        raise NotYet(f"test indices run from 0 to {len(labels) - 1}; got {answer.tolist()}")
    probability = np.asarray(model.predict(np.asarray(images), verbose=0))[:, SHIRT]
    shirts = np.flatnonzero(labels == SHIRT)
    expected = shirts[np.argsort(probability[shirts], kind="stable")[:3]]
    if set(answer.tolist()) == set(expected.tolist()):
        return
    if np.array_equal(np.sort(answer), np.sort(np.argsort(probability[shirts])[:3])):
        raise NotYet("these are positions among the test shirts; turn them into test indices: test_shirts[positions]")
    if (labels[answer] != SHIRT).any():
        raise NotYet(f"test image {int(answer[labels[answer] != SHIRT][0])} is not a shirt: rank the test shirts only")
    if set(answer.tolist()) == set(shirts[np.argsort(probability[shirts])[-3:]].tolist()):
        raise NotYet("these are the most shirt-like shirts; np.argsort puts the smallest probabilities first")
    lowest = float(probability[expected].max())
    raise NotYet(f"these shirts are not the three least shirt-like: the three lowest probabilities of 'Shirt' are at "
                 f"most {lowest:.4f}, yours reach {float(probability[answer].max()):.4f}")


@exercise(
    "05.5",
    why="A CNN is the dense model with convolution and pooling in front: the Dense layers then see feature maps, "
        "made by the same small kernels at every position, instead of the raw pixels.",
    hint="Keep build_dense's layers and put a Conv2D (for example 16 filters, 3x3, ReLU) and a MaxPooling2D between "
         "the Input and the Flatten; the function must return the model.",
    scaffold="def build_small_cnn() -> keras.Model:\n"
             '    """The dense model of section 2 with one convolution block in front: Conv2D -> MaxPooling2D -> '
             'Flatten -> ..."""\n'
             "    ...",
    solution="def build_small_cnn() -> keras.Model:\n"
             '    """The dense model of section 2 with one convolution block in front: Conv2D -> MaxPooling2D -> '
             'Flatten -> ..."""\n'
             "    return keras.Sequential([\n"
             '        keras.Input(shape=(28, 28, 1), name="image"),\n'
             '        keras.layers.Conv2D(16, 3, activation="relu", name="conv"),\n'
             '        keras.layers.MaxPooling2D(2, name="pool"),\n'
             '        keras.layers.Flatten(name="flatten"),\n'
             '        keras.layers.Dense(128, activation="relu", name="hidden"),\n'
             '        keras.layers.Dense(10, activation="softmax", name="class_probabilities"),\n'
             '    ], name="small_cnn")\n\n\n'
             "build_small_cnn().summary()",
    context={"images": "X_train", "labels": "y_train"},
)
def dense_model_as_cnn(build_small_cnn, *, images, labels):
    """A function that builds the dense model with a convolution block in front; it must learn in one short epoch."""
    import keras

    if isinstance(build_small_cnn, keras.Model) or not callable(build_small_cnn):
        raise NotYet(f"`build_small_cnn` should be the function itself (no parentheses), got "
                     f"{type(build_small_cnn).__name__}")
    try:
        model = build_small_cnn()
    except ValueError as error:
        if "ndim" in str(error):
            raise NotYet("a layer got input of the wrong rank: a Conv2D needs the image's rows and columns, so it goes "
                         "before the Flatten") from error
        raise
    if model is None:
        raise NotYet("build_small_cnn() returned None: did you forget `return` before keras.Sequential(...)?")
    if not isinstance(model, keras.Model):
        raise NotYet(f"build_small_cnn() should return a Keras model, got {type(model).__name__}")
    try:
        input_shape = model.input_shape
    except AttributeError as error:
        raise NotYet("the model has no input shape yet: start it with keras.Input(shape=(28, 28, 1))") from error
    if tuple(input_shape) != (None, 28, 28, 1):
        raise NotYet(f"the model should take images of shape (28, 28, 1) as X_train holds them, its input is "
                     f"{model.input_shape}")
    if tuple(model.output_shape) != (None, 10):
        raise NotYet(f"the model should end in 10 class probabilities, shape (None, 10); it ends in {model.output_shape}")
    kinds = [type(layer).__name__ for layer in model.layers]
    if "Conv2D" not in kinds:
        raise NotYet("there is no Conv2D layer: this is still the dense model; put a convolution before the Flatten")
    if "MaxPooling2D" not in kinds:
        raise NotYet(f"there is no MaxPooling2D: without pooling, Flatten hands the dense layer every position of every "
                     f"map ({model.count_params():,} parameters in all); put one after the Conv2D")
    sample = np.asarray(images[:4000], np.float32)
    first_rows = np.asarray(model.predict(sample[:8], verbose=0))
    if not np.allclose(first_rows.sum(axis=1), 1, atol=1e-3) or first_rows.min() < 0:
        raise NotYet("the outputs are not probabilities: the last layer should be Dense(10, activation='softmax')")
    model = build_small_cnn()                        # a fresh copy: the learner's model stays untrained
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(sample[:3000], np.asarray(labels[:3000]), batch_size=64, epochs=1, verbose=0)
    _, accuracy = model.evaluate(sample[3000:4000], np.asarray(labels[3000:4000]), verbose=0)
    if accuracy < 0.5:
        raise NotYet(f"after one epoch on 3,000 images it scores {accuracy:.2f} on 1,000 others (a small CNN reaches "
                     "about 0.7): check the activations (ReLU inside, softmax at the end)")
