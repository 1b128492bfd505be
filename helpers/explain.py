"""Looking inside a trained CNN: Grad-CAM maps and two checks that a map means something.

`grad_cam` is Selvaraju et al.'s Grad-CAM (2017) for a model that is a chain of layers ending in a
`Dense` layer: the gradient of a class's score (its logit, before softmax or sigmoid) with respect to a
convolution's output, averaged per channel, weighs the channels; the ReLU of the weighted sum, resized
to the input, is the map. `mass_share` measures how much of a map lies on the object (localisation),
`reinitialized` and `rank_correlations` make Adebayo et al.'s model-randomisation test (2018): a map
that hardly changes when the trained weights are replaced by random ones explains the input, not the model.
`activations` returns what chosen layers output for one image. All of them run a model as a chain of layers,
one after the other (nested models opened), and Grad-CAM checks that the chain computes the model's output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:          # for annotations only: the functions import keras when they run
    import keras

CHAIN_CHECK_IMAGES = 16   # the chain's output is compared with the model's on this many images


def layer_chain(model: keras.Model) -> list:
    """The layers of `model` in order, nested models opened into their own layers (input layers left out)."""
    import keras

    chain = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            chain.extend(layer_chain(layer))
        elif not isinstance(layer, keras.layers.InputLayer):
            chain.append(layer)
    return chain


def split_at(model: keras.Model, layer: str) -> tuple[list, list]:
    """The layers of `model`'s chain up to and including the one named `layer`, and the layers after it."""
    chain = layer_chain(model)
    names = [each.name for each in chain]
    if layer not in names:
        raise ValueError(f"model {model.name!r} has no layer {layer!r}; its layers are {names}")
    if names.count(layer) > 1:
        raise ValueError(f"model {model.name!r} has {names.count(layer)} layers named {layer!r} (nested models "
                         "open into one chain): rename them to tell them apart")
    cut = names.index(layer) + 1
    return chain[:cut], chain[cut:]


def run_chain(layers: list, inputs):
    """`inputs` through `layers` one after the other, in inference mode."""
    for layer in layers:
        try:
            inputs = layer(inputs, training=False)
        except (TypeError, ValueError) as error:
            raise ValueError(f"layer {layer.name!r} cannot take the previous layer's output alone: the model is "
                             "not a chain of layers (it branches or merges)") from error
    return inputs


def check_chain(model: keras.Model, images: np.ndarray, outputs) -> None:
    """Raise unless `outputs`, computed layer by layer, equal `model`'s own outputs on `images` (a chain has no branches)."""
    from keras import ops

    expected = ops.convert_to_numpy(model(images, training=False))
    if not np.allclose(ops.convert_to_numpy(outputs), expected, rtol=1e-4, atol=1e-5):
        raise ValueError(f"model {model.name!r} is not a chain of layers (it branches or merges): "
                         "its layers one after the other do not compute its output")


def activations(model: keras.Model, image: np.ndarray, layers: list[str]) -> dict[str, np.ndarray]:
    """What each named layer of a chain model outputs for one image (height, width[, channels]), by layer name."""
    from keras import ops

    image = np.asarray(image, np.float32)
    expected = tuple(model.inputs[0].shape[1:])
    if image.shape != expected:
        raise ValueError(f"image must have the model's input shape {expected} (one image, no batch axis), "
                         f"got {image.shape}")
    if not layers:
        raise ValueError("layers is empty: name at least one layer")
    chain = layer_chain(model)
    names = [each.name for each in chain]
    missing = [name for name in layers if name not in names]
    if missing:
        raise ValueError(f"model {model.name!r} has no layer {missing}; its layers are {names}")
    repeated = [name for name in layers if names.count(name) > 1]
    if repeated:
        raise ValueError(f"model {model.name!r} has more than one layer named {repeated}: rename them to tell them apart")
    outputs, values = {}, image[None]
    for layer in chain[:max(names.index(name) for name in layers) + 1]:
        values = run_chain([layer], values)
        if layer.name in layers:
            outputs[layer.name] = ops.convert_to_numpy(values)[0]
    return {name: outputs[name] for name in layers}


def class_logits(head, features):
    """The logits of a last `Dense` layer `head` on its input `features`: (n, classes); one sigmoid unit gives (n, 2)."""
    import keras
    from keras import ops

    if not isinstance(head, keras.layers.Dense):
        raise ValueError(f"the last layer must be Dense, got {type(head).__name__} {head.name!r}")
    logits = ops.matmul(features, head.kernel) + (head.bias if head.use_bias else 0.0)
    activation = keras.activations.serialize(head.activation)
    name = activation if isinstance(activation, str) else activation.get("config", {}).get("name", activation)
    if name == "sigmoid" and head.units == 1:
        return ops.concatenate([-logits, logits], axis=-1)       # class 0 scores -z, class 1 scores z
    if name not in ("softmax", "linear"):
        raise ValueError(f"the last layer's activation must be softmax, linear or one sigmoid unit, got {name!r}")
    return logits


def grad_cam(model: keras.Model, images: np.ndarray, layer: str, classes: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM maps (n, H, W) >= 0 at `layer` for `classes` (default: the predicted ones), resized to the images; and the classes."""
    import tensorflow as tf

    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be a batch (n, height, width, channels), got shape {images.shape}")
    if classes is not None and np.shape(classes) != (len(images),):
        raise ValueError(f"classes must give one class per image ({len(images)}), got shape {np.shape(classes)}")
    before, rest = split_at(model, layer)
    if not rest:
        raise ValueError(f"{layer!r} is the last layer: Grad-CAM needs a convolution before the classifier")
    with tf.GradientTape() as tape:
        maps = run_chain(before, tf.constant(images))
        tape.watch(maps)
        features = run_chain(rest[:-1], maps)
        logits = class_logits(rest[-1], features)
        chosen = tf.argmax(logits, axis=-1) if classes is None else tf.constant(classes, tf.int64)
        scores = tf.gather(logits, chosen, batch_dims=1)
    check_chain(model, images[:CHAIN_CHECK_IMAGES], rest[-1](features[:CHAIN_CHECK_IMAGES], training=False))
    gradients = tape.gradient(scores, maps)
    if maps.shape.rank != 4:
        raise ValueError(f"{layer!r} outputs shape {maps.shape}, not feature maps (n, height, width, channels)")
    weights = tf.reduce_mean(gradients, axis=(1, 2))                      # one weight per channel
    cams = tf.nn.relu(tf.einsum("nhwc,nc->nhw", maps, weights))
    cams = tf.image.resize(cams[..., None], images.shape[1:3], method="bilinear")[..., 0]
    return cams.numpy(), chosen.numpy()


def mass_share(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Per map, the share of its total inside its mask (nan for a map that is zero everywhere)."""
    maps, masks = np.asarray(maps, np.float64), np.asarray(masks, bool)
    if maps.shape != masks.shape or maps.ndim != 3:
        raise ValueError(f"maps and masks must both be (n, height, width), got {maps.shape} and {masks.shape}")
    if (maps < 0).any():
        raise ValueError("maps must not be negative")
    totals = maps.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, (maps * masks).sum(axis=(1, 2)) / totals, np.nan)


def rank_correlations(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Spearman's rank correlation of each pair of maps, pixel by pixel (nan where a map is constant)."""
    from scipy.stats import spearmanr

    first, second = np.asarray(first), np.asarray(second)
    if first.shape != second.shape or first.ndim != 3:
        raise ValueError(f"both need the same shape (n, height, width), got {first.shape} and {second.shape}")
    return np.array([np.nan if a.std() == 0 or b.std() == 0 else spearmanr(a.ravel(), b.ravel()).statistic
                     for a, b in zip(first, second)])


def reinitialized(model: keras.Model, seed: int) -> keras.Model:
    """A model of `model`'s architecture with weights drawn afresh by its initializers, seeded from `seed` (no global state touched).

    A layer whose initializer is a constant (zeros, ones) gets that constant again, not random weights.
    """
    import itertools

    import keras

    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    seeds = itertools.count(seed * 1000)

    def fresh(layer):
        config = layer.get_config()
        for key, value in config.items():
            if key.endswith("_initializer") and isinstance(value, dict) and "seed" in value.get("config", {}):
                value["config"]["seed"] = next(seeds)         # a seeded initializer draws the same weights every time
        return layer.__class__.from_config(config)

    return keras.models.clone_model(model, clone_function=fresh, recursive=True)
