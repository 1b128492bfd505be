"""Every origin, file name and hash the course shares with Keras, compared with what the installed Keras downloads.

Keras' own loaders and application constructors run with `get_file` replaced by a recorder, so the
comparison reads Keras' real calls (no network): a path that drifts from Keras' fails here, offline.
"""

import inspect
import os
from pathlib import Path

import keras
import numpy as np
import pytest
from keras.src.applications import imagenet_utils
from keras.src.datasets import fashion_mnist as keras_fashion_mnist
from keras.src.datasets import mnist as keras_mnist
from keras.src.utils import file_utils

from helpers import datasets, pretrained


class Recorded(Exception):
    """Raised by the recorder to stop Keras before it downloads or reads anything."""


@pytest.fixture
def recorder(monkeypatch):
    """record(module) -> list of Keras' get_file calls made through `module`, each as a dict of its arguments."""
    signature = inspect.signature(file_utils.get_file)

    def record(module, *, stop: bool = True) -> list[dict]:
        calls: list[dict] = []

        def get_file(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            calls.append(dict(bound.arguments))
            if stop:
                raise Recorded(bound.arguments["origin"])
            return os.path.join(os.devnull, "not-downloaded")  # the loader fails on reading it, after every call

        monkeypatch.setattr(module, "get_file", get_file)
        return calls

    return record


def keras_weight_call(recorder, build) -> dict:
    """The one get_file call a keras.applications constructor makes for its ImageNet weights."""
    calls = recorder(file_utils)
    with pytest.raises(Recorded):
        build()
    assert len(calls) == 1
    return calls[0]


def test_mnist_origin_file_and_hash_are_keras_own(recorder):
    calls = recorder(keras_mnist)
    with pytest.raises(Recorded):
        keras.datasets.mnist.load_data()
    (call,) = calls
    assert call["origin"] == datasets.KERAS_ORIGIN + "mnist.npz" and call["fname"] == "mnist.npz"
    assert call["file_hash"] == datasets.MNIST_NPZ_SHA256
    assert Path(call["cache_subdir"]) / call["fname"] == Path(datasets.keras_cache_dir().name) / "mnist.npz"


def test_fashion_mnist_origins_and_files_are_keras_own(recorder):
    calls = recorder(keras_fashion_mnist, stop=False)
    with pytest.raises(OSError):
        keras.datasets.fashion_mnist.load_data()
    keras_files = {call["fname"]: call["origin"] for call in calls}
    course_files = {filename: datasets.fashion_url(filename) for filename, _ in datasets.FASHION_FILES.values()}
    assert course_files == keras_files
    subdirs = {Path(call["cache_subdir"]) for call in calls}
    assert subdirs == {Path(datasets.keras_cache_dir().name) / "fashion-mnist"}  # where the course reads Keras' cache


def test_keras_home_is_where_the_course_reads_keras_cache():
    from keras.src.backend import config

    assert Path(config.keras_home()) / "datasets" == datasets.keras_cache_dir()


@pytest.mark.parametrize("name, build, kwargs", [
    ("ResNet50", lambda: keras.applications.ResNet50(weights="imagenet"), {"include_top": True}),
    ("ResNet50", lambda: keras.applications.ResNet50(weights="imagenet", include_top=False, input_shape=(32, 32, 3)),
     {"include_top": False}),
    ("VGG16", lambda: keras.applications.VGG16(weights="imagenet"), {"include_top": True}),
    ("VGG16", lambda: keras.applications.VGG16(weights="imagenet", include_top=False, input_shape=(32, 32, 3)),
     {"include_top": False}),
    ("MobileNetV2", lambda: keras.applications.MobileNetV2(weights="imagenet"), {"include_top": True}),
] + [
    ("MobileNetV2", lambda size=size: keras.applications.MobileNetV2(weights="imagenet", include_top=False,
                                                                      input_shape=(size, size, 3)),
     {"include_top": False, "size": size})
    for size in pretrained.MOBILENET_V2_SIZES
])
def test_imagenet_weight_files_are_the_ones_keras_downloads(recorder, name, build, kwargs):
    call = keras_weight_call(recorder, build)
    course = pretrained.weight_file(name, **kwargs)
    assert (course.url, course.filename) == (call["origin"], call["fname"])
    assert course.md5 == (call["file_hash"] or call["md5_hash"])  # None where Keras checks no hash (MobileNetV2)
    assert call["file_hash"] is None or len(call["file_hash"]) == 32  # Keras' weight hashes are MD5s


def test_imagenet_class_index_is_the_one_keras_downloads(recorder, monkeypatch):
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    calls = recorder(file_utils)
    with pytest.raises(Recorded):
        keras.applications.imagenet_utils.decode_predictions(np.zeros((1, 1000)))
    (call,) = calls
    assert (call["origin"], call["fname"], call["file_hash"]) == (
        pretrained.CLASS_INDEX_URL, "imagenet_class_index.json", pretrained.CLASS_INDEX_MD5)
