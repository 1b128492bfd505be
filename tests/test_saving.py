"""Unit tests of helpers.saving: each format round-trips, and each kind of bad file gets a clear error."""

import json
import zipfile

import numpy as np
import pytest

from helpers import saving
from helpers.saving import ModelFileError


def build(units=(3, 1), seed=0, compiled=True, loss="mean_squared_error"):
    """A small functional Dense network on 4 features; same seed, same starting weights."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(4,), name="features")
    outputs = inputs
    for index, width in enumerate(units):
        outputs = keras.layers.Dense(width, name=f"dense_{index}")(outputs)
    model = keras.Model(inputs, outputs, name="tiny")
    if compiled:
        model.compile(optimizer=keras.optimizers.Adam(0.01, name="adam"), loss=loss)
    return model


def data(seed):
    rng = np.random.default_rng(seed)
    x = rng.random((32, 4)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained 2 epochs (so its optimizer holds state), saved once in each format."""
    x, y = data(0)
    model = build()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    folder = tmp_path_factory.mktemp("trained")
    model.save(folder / "model.keras")
    model.save_weights(folder / "model.weights.h5")
    return model, x, folder


# --- names, sizes, folders ----------------------------------------------------------------


@pytest.mark.parametrize("name, kind", [("m.keras", "keras"), ("a/b/m.weights.h5", "weights"),
                                        ("old.h5", "legacy-h5"), ("old.hdf5", "legacy-h5")])
def test_file_format_reads_the_ending(name, kind):
    assert saving.file_format(name) == kind


@pytest.mark.parametrize("name", ["my_model", "model.pkl", ".keras", "m.KERAS", "model.weights", "m.h5.zip"])
def test_file_format_rejects_other_endings_and_names_the_supported_ones(name):
    with pytest.raises(ValueError, match=r"no supported extension: use '\.keras' \(whole model\) or '\.weights\.h5'"):
        saving.file_format(name)


def test_file_size_of_a_file_a_folder_and_a_missing_path(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"x" * 10)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.bin").write_bytes(b"y" * 5)
    assert saving.file_size(tmp_path / "a.bin") == 10
    assert saving.file_size(tmp_path) == 15
    with pytest.raises(FileNotFoundError, match="does not exist"):
        saving.file_size(tmp_path / "missing.keras")


def test_fresh_folder_is_empty_and_inside_the_artifacts_cache(course_env):
    folder = saving.fresh_folder("07_test")
    (folder / "old.keras").write_bytes(b"stale")
    again = saving.fresh_folder("07_test")
    assert again == folder and list(again.iterdir()) == []
    assert again.parent.name == "artifacts" and again.is_relative_to(course_env / "data")


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../outside", 7])
def test_fresh_folder_rejects_anything_but_one_plain_name(course_env, name):
    with pytest.raises(ValueError, match="one plain folder name"):
        saving.fresh_folder(name)


# --- each format round-trips --------------------------------------------------------------


def test_keras_round_trip_keeps_predictions_and_optimizer_state(trained, tmp_path):
    model, x, _ = trained
    copy = saving.round_trip(model, tmp_path / "sub" / "copy.keras", x)
    assert (tmp_path / "sub" / "copy.keras").is_file()
    assert copy is not model and copy.optimizer.iterations.numpy() == model.optimizer.iterations.numpy() == 4
    assert saving.optimizer_state(copy).keys() == saving.optimizer_state(model).keys()


def test_weights_round_trip_rebuilds_the_architecture_and_restores_the_optimizer(trained, tmp_path):
    model, x, _ = trained
    copy = saving.round_trip(model, tmp_path / "copy.weights.h5", x)
    saving.assert_same_weights(model, copy)
    saving.assert_same_optimizer_state(model, copy)


def test_weights_round_trip_of_an_uncompiled_model(tmp_path):
    x, _ = data(1)
    model = build(compiled=False)
    copy = saving.round_trip(model, tmp_path / "plain.weights.h5", x)
    assert saving.optimizer_state(copy) == {}


def test_resuming_from_a_keras_file_equals_uninterrupted_training(tmp_path):
    x, y = data(2)
    straight = build(seed=3)
    straight.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0)
    first = build(seed=3)
    first.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    resumed = saving.load_model_checked(saving.save_model(first, tmp_path / "half.keras"))
    resumed.fit(x, y, epochs=4, initial_epoch=2, batch_size=8, shuffle=False, verbose=0)
    saving.assert_same_weights(straight, resumed)


def test_load_weights_checked_restores_the_optimizer_unless_told_not_to(trained):
    model, x, folder = trained
    restored = saving.load_weights_checked(build(seed=9), folder / "model.weights.h5")
    saving.assert_same_optimizer_state(model, restored)
    saving.assert_same_predictions(model, restored, x)
    weights_only = saving.load_weights_checked(build(seed=9), folder / "model.weights.h5", restore_optimizer=False)
    assert int(weights_only.optimizer.iterations.numpy()) == 0
    saving.assert_same_predictions(model, weights_only, x)


def test_load_weights_checked_reads_the_weights_of_a_keras_file(trained):
    model, x, folder = trained
    saving.assert_same_predictions(model, saving.load_weights_checked(build(seed=5), folder / "model.keras"), x)


def test_legacy_h5_loads_without_the_optimizer_moments(trained, tmp_path):
    model, x, _ = trained
    copy = saving.load_model_checked(saving.save_model(model, tmp_path / "copy.keras"))
    copy.save(tmp_path / "old.h5")  # a throwaway copy: the legacy writer edits the model's compile settings
    legacy = saving.load_model_checked(tmp_path / "old.h5")
    saving.assert_same_predictions(model, legacy, x)
    assert len(saving.optimizer_state(legacy)) < len(saving.optimizer_state(model))
    with pytest.raises(AssertionError, match="optimizer state differs"):
        saving.assert_same_optimizer_state(model, legacy)


def test_saved_model_export_is_compared_through_its_serving_function(trained, tmp_path):
    import tensorflow as tf

    model, x, _ = trained
    model.export(tmp_path / "served", verbose=False)
    served = tf.saved_model.load(str(tmp_path / "served"))
    assert saving.assert_same_predictions(model, served.serve, x, atol=1e-6) <= 1e-6
    assert saving.file_size(tmp_path / "served") > 0
    with pytest.raises(ValueError, match="model.export"):
        saving.load_model_checked(tmp_path / "served")


# --- bad input ----------------------------------------------------------------------------


def test_save_model_refuses_legacy_h5_and_names_without_an_extension(trained, tmp_path):
    model, _, _ = trained
    folder = tmp_path / "models"
    with pytest.raises(ValueError, match=r"legacy and lose the optimizer state; save as '\.keras'"):
        saving.save_model(model, folder / "old.h5")
    with pytest.raises(ValueError, match="no supported extension"):
        saving.save_model(model, folder / "my_model")
    assert not folder.exists()  # nothing written, not even the folder


@pytest.mark.parametrize("name", ["missing.keras", "missing.h5"])
def test_missing_file_is_file_not_found(tmp_path, name):
    with pytest.raises(FileNotFoundError, match="missing.* does not exist"):
        saving.load_model_checked(tmp_path / name)


def test_folder_named_like_a_model_is_file_not_found(tmp_path):
    (tmp_path / "folder.keras").mkdir()
    with pytest.raises(FileNotFoundError, match="a folder, not a file"):
        saving.load_model_checked(tmp_path / "folder.keras")


def test_truncated_keras_file_is_reported_as_truncated_not_as_missing(trained, tmp_path):
    import keras

    _, _, folder = trained
    whole = (folder / "model.keras").read_bytes()
    cut = tmp_path / "cut.keras"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match="File not found"):  # what Keras itself says
        keras.models.load_model(cut)
    with pytest.raises(ModelFileError, match=r"not a readable \.keras archive \(truncated or corrupt"):
        saving.load_model_checked(cut)


def test_empty_keras_file(tmp_path):
    (tmp_path / "empty.keras").write_bytes(b"")
    with pytest.raises(ModelFileError, match="0 bytes"):
        saving.load_model_checked(tmp_path / "empty.keras")


def rewritten(source, target, change):
    """Copy the zip `source` to `target`, passing each member's bytes through change(name, data)."""
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as out:
        for name in archive.namelist():
            out.writestr(name, change(name, archive.read(name)))
    return target


def test_zip_that_is_not_a_keras_model(tmp_path):
    with zipfile.ZipFile(tmp_path / "other.keras", "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(ModelFileError, match=r"zip file but not a Keras model: it lacks \['config.json'"):
        saving.load_model_checked(tmp_path / "other.keras")


def test_keras_file_with_damaged_config(trained, tmp_path):
    _, _, folder = trained
    bad = rewritten(folder / "model.keras", tmp_path / "bad_config.keras",
                    lambda name, data: b"{not json" if name == "config.json" else data)
    with pytest.raises(ModelFileError, match="unreadable config.json"):
        saving.load_model_checked(bad)


def test_keras_file_with_truncated_weights_inside(trained, tmp_path):
    _, _, folder = trained
    bad = rewritten(folder / "model.keras", tmp_path / "bad_weights.keras",
                    lambda name, data: data[: len(data) // 2] if name.endswith(".h5") else data)
    with pytest.raises(ModelFileError, match="could not be read .*damaged"):
        saving.load_model_checked(bad)


def test_keras_file_with_one_flipped_byte(trained, tmp_path):
    _, _, folder = trained
    damaged = bytearray((folder / "model.keras").read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    (tmp_path / "flipped.keras").write_bytes(bytes(damaged))
    with pytest.raises(ModelFileError, match="could not be read .BadZipFile: Bad CRC-32"):
        saving.load_model_checked(tmp_path / "flipped.keras")


def test_truncated_weights_file(trained, tmp_path):
    _, _, folder = trained
    whole = (folder / "model.weights.h5").read_bytes()
    (tmp_path / "cut.weights.h5").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "junk.weights.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(ModelFileError, match="could not be read .*damaged"):
        saving.load_weights_checked(build(), tmp_path / "cut.weights.h5")
    with pytest.raises(ModelFileError, match="not a readable HDF5 file"):
        saving.load_weights_checked(build(), tmp_path / "junk.weights.h5")


@pytest.mark.parametrize("units, words", [
    ((3, 2), r"layer 'dense_1' \(Dense\) has a variable of shape \(3, 2\), the file has \(3, 1\)"),
    ((5, 1), r"layer 'dense_0' \(Dense\) has a variable of shape \(4, 5\), the file has \(4, 3\)"),
    ((3, 1, 1), r"Layer 'dense_2' expected 2 variables, but received 0"),
])
def test_weights_for_a_different_architecture(trained, units, words):
    _, _, folder = trained
    with pytest.raises(ModelFileError, match=r"does not fit model 'tiny': " + words):
        saving.load_weights_checked(build(units, compiled=False), folder / "model.weights.h5")
    with pytest.raises(ModelFileError, match="rebuild the model before using it"):
        saving.load_weights_checked(build(units, compiled=False), folder / "model.weights.h5")


def test_weights_file_given_to_load_model_and_legacy_file_given_to_load_weights(trained, tmp_path):
    _, _, folder = trained
    with pytest.raises(ValueError, match="holds weights only, no architecture"):
        saving.load_model_checked(folder / "model.weights.h5")
    with pytest.raises(ValueError, match="legacy whole-model file: load it with load_model_checked"):
        saving.load_weights_checked(build(), tmp_path / "old.h5")
    with pytest.raises(FileNotFoundError):
        saving.load_weights_checked(build(), tmp_path / "missing.weights.h5")


def test_legacy_h5_with_a_short_loss_name_needs_compile_false(tmp_path):
    x, y = data(4)
    model = build(loss="mse")
    model.save(tmp_path / "short.h5")
    with pytest.raises(ModelFileError, match="load with compile=False"):
        saving.load_model_checked(tmp_path / "short.h5")
    plain = saving.load_model_checked(tmp_path / "short.h5", compile=False)
    saving.assert_same_predictions(model, plain, x)


def test_lambda_layer_needs_safe_mode_off(tmp_path):
    import keras

    inputs = keras.Input(shape=(4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: 2.0 * t)(inputs))
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match="safe_mode=False"):
        saving.load_model_checked(tmp_path / "lambda.keras")
    x, _ = data(5)
    saving.assert_same_predictions(model, saving.load_model_checked(tmp_path / "lambda.keras", safe_mode=False), x)


# --- the comparisons themselves -----------------------------------------------------------


def test_assert_same_predictions_reports_the_largest_difference(trained):
    model, x, _ = trained
    assert saving.assert_same_predictions(model, model, x) == 0.0
    with pytest.raises(AssertionError, match=r"predictions differ by up to .* \(allowed: 0\) on 32 inputs"):
        saving.assert_same_predictions(model, build(seed=1), x)
    shifted = lambda batch: model.predict(batch, verbose=0) + 1e-4  # noqa: E731
    assert saving.assert_same_predictions(model, shifted, x, atol=1e-3) == pytest.approx(1e-4, rel=1e-2)


def test_assert_same_predictions_bad_input(trained):
    model, x, _ = trained
    with pytest.raises(ValueError, match="probe is empty"):
        saving.assert_same_predictions(model, model, x[:0])
    with pytest.raises(AssertionError, match=r"output shapes differ: \(32, 1\) vs \(32, 2\)"):
        saving.assert_same_predictions(model, lambda batch: np.zeros((len(batch), 2)), x)
    with pytest.raises(TypeError, match="keras.Model or a callable"):
        saving.predictions("model.keras", x)
    with pytest.raises(ValueError, match="no outputs"):
        saving.predictions(lambda batch: [], x)


def test_predictions_of_a_model_with_two_named_outputs():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(4,))
    model = keras.Model(inputs, {"a": keras.layers.Dense(2)(inputs), "b": keras.layers.Dense(3)(inputs)})
    x, _ = data(6)
    assert saving.predictions(model, x).shape == (32, 5)


def test_assert_same_weights_names_the_first_difference(trained):
    model, _, _ = trained
    saving.assert_same_weights(model, model)
    with pytest.raises(AssertionError, match="weight array 0 differs by up to"):
        saving.assert_same_weights(model, build(seed=1))
    with pytest.raises(AssertionError, match="4 weight arrays vs 6"):
        saving.assert_same_weights(model, build((3, 1, 1)))
    with pytest.raises(AssertionError, match=r"weight array 0: shape \(4, 3\) vs \(4, 5\)"):
        saving.assert_same_weights(model, build((5, 1)))


def test_optimizer_state_of_uncompiled_and_untrained_models(trained):
    model, _, _ = trained
    assert saving.optimizer_state(build(compiled=False)) == {}
    state = saving.optimizer_state(model)
    assert len(state) == 2 + 2 * len(model.weights) and int(state["adam/iteration"]) == 4
    with pytest.raises(AssertionError, match="optimizer state differs: 10 variables vs 2"):
        saving.assert_same_optimizer_state(model, build())


def test_assert_same_optimizer_state_sees_changed_values(trained, tmp_path):
    model, x, _ = trained
    copy = saving.load_model_checked(saving.save_model(model, tmp_path / "copy.keras"))
    copy.fit(x, x.sum(axis=1, keepdims=True), epochs=1, verbose=0)
    with pytest.raises(AssertionError, match="optimizer variable 'adam/iteration' differs"):
        saving.assert_same_optimizer_state(model, copy)


def test_keras_archive_members_are_what_the_helper_expects(trained):
    _, _, folder = trained
    with zipfile.ZipFile(folder / "model.keras") as archive:
        assert set(saving.KERAS_ARCHIVE_MEMBERS) <= set(archive.namelist())
        assert json.loads(archive.read("config.json"))["compile_config"]["optimizer"]["class_name"] == "Adam"


# --- a model cached as a file -------------------------------------------------------------


def test_cached_model_trains_once_then_loads(tmp_path, capsys):
    calls = []

    def build_and_train():
        calls.append(1)
        model = build()
        model.fit(*data(0), epochs=1, verbose=0)
        return model

    path = tmp_path / "cache" / "m.keras"
    first, cached = saving.cached_model(path, build_and_train)
    assert not cached and path.is_file() and not list(path.parent.glob("*.partial*"))
    second, cached = saving.cached_model(path, build_and_train)
    assert cached and calls == [1]
    saving.assert_same_predictions(first, second, data(1)[0])
    assert "trained and saved" in capsys.readouterr().out


def test_cached_model_replaces_a_damaged_file(tmp_path, capsys):
    path = tmp_path / "m.keras"
    path.write_bytes(b"not a zip")
    model, cached = saving.cached_model(path, lambda: build(), verbose=False)
    assert not cached and saving.load_model_checked(path).count_params() == model.count_params()
    assert "NOTE: rebuilding the cached model" in capsys.readouterr().out


def test_cached_model_refuses_other_formats(tmp_path):
    with pytest.raises(ValueError, match="whole-model '.keras' file"):
        saving.cached_model(tmp_path / "m.weights.h5", build)
