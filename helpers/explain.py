"""Looking inside a trained CNN: Grad-CAM maps and two checks that a map means something.

`grad_cam` is Selvaraju et al.'s Grad-CAM (2017) for a model that is a chain of layers ending in a
`Dense` layer: the gradient of a class's score (its logit, before softmax or sigmoid) with respect to a
convolution's output, averaged per channel, weighs the channels; the ReLU of the weighted sum, resized
to the input, is the map. `mass_share` measures how much of a map lies on the object (localisation),
`reinitialized` and `rank_correlations` make Adebayo et al.'s model-randomisation test (2018): a map
that hardly changes when the trained weights are replaced by random ones explains the input, not the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:          # for annotations only: the functions import keras when they run
    import keras


def split_at(model: keras.Model, layer: str) -> tuple[keras.Model, list]:
    """`model` cut after the layer named `layer`: a model from the input to that layer's output, and the layers after it."""
    import keras

    names = [each.name for each in model.layers]
    if layer not in names:
        raise ValueError(f"model {model.name!r} has no layer {layer!r}; its layers are {names}")
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs     # one tensor in, as callers pass it
    return keras.Model(inputs, model.get_layer(layer).output), model.layers[names.index(layer) + 1:]


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
    to_maps, rest = split_at(model, layer)
    if not rest:
        raise ValueError(f"{layer!r} is the last layer: Grad-CAM needs a convolution before the classifier")
    with tf.GradientTape() as tape:
        maps = to_maps(images, training=False)
        tape.watch(maps)
        features = maps
        for later in rest[:-1]:
            features = later(features, training=False)
        logits = class_logits(rest[-1], features)
        chosen = tf.argmax(logits, axis=-1) if classes is None else tf.constant(classes, tf.int64)
        scores = tf.gather(logits, chosen, batch_dims=1)
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
    """A model of `model`'s architecture with weights drawn afresh by its initializers, seeded from `seed` (no global state touched)."""
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

    return keras.models.clone_model(model, clone_function=fresh)
