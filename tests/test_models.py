"""Unit tests of helpers.models: the layer graph as text, and the optional picture."""

import sys
import types

import keras
import pytest

from helpers import models


def two_headed():
    """A tiny functional model with a shared trunk and two outputs."""
    image = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Conv2D(2, 3, name="conv")(image)
    x = keras.layers.Flatten(name="flat")(x)
    digit = keras.layers.Dense(10, activation="softmax", name="digit")(x)
    odd = keras.layers.Dense(1, activation="sigmoid", name="odd")(x)
    both = keras.layers.Concatenate(name="both")([digit, odd])
    return keras.Model(image, [digit, odd, both])


def fake_pydot(dot_works: bool) -> types.ModuleType:
    """A stand-in for pydot whose Dot.create runs `dot` successfully or fails like a missing Graphviz."""
    module = types.ModuleType("pydot")

    class Dot:
        def create(self, *args, **kwargs):
            if not dot_works:
                raise FileNotFoundError('"dot" not found in path.')
            return b"<svg/>"

    module.Dot = Dot
    return module


def test_layer_inputs_follow_the_graph():
    assert models.layer_inputs(two_headed()) == {
        "image": [], "conv": ["image"], "flat": ["conv"], "digit": ["flat"], "odd": ["flat"],
        "both": ["digit", "odd"]}


def test_describe_graph_lines():
    lines = models.describe_graph(two_headed()).splitlines()
    assert len(lines) == 6
    assert lines[0].startswith("image") and "(model input)" in lines[0]
    assert "Conv2D" in lines[1] and "(None, 6, 6, 2)" in lines[1] and lines[1].endswith("<- image")
    assert lines[3].endswith("<- flat  -> model output")
    assert lines[4].endswith("<- flat  -> model output")
    assert lines[5].endswith("<- digit, odd  -> model output")
    assert not lines[2].endswith("model output")


def test_describe_graph_columns_line_up_with_long_layer_names():
    image = keras.Input((4,), name="x")
    features = keras.layers.Dense(3, name="a_rather_long_layer_name")(image)
    both = keras.layers.Concatenate(name="features_and_inputs")([features, image])
    lines = models.describe_graph(keras.Model(image, keras.layers.Dense(1, name="out")(both))).splitlines()
    for column in ("Dense", "(None, ", "<- "):  # every column starts at the same place on every line
        starts = {line.index(column) for line in lines if column in line}
        assert len(starts) == 1, (column, lines)
    assert lines[1].startswith("a_rather_long_layer_name  Dense")


def test_describe_graph_with_dict_and_single_outputs():
    image = keras.Input((4,), name="x")
    head = keras.layers.Dense(2, name="head")(image)
    for outputs in ({"head": head}, head):
        lines = models.describe_graph(keras.Model(image, outputs)).splitlines()
        assert lines[1].endswith("<- x  -> model output")


def test_layer_inputs_refuses_a_sequential_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="functional keras.Model"):
        models.layer_inputs(model)


def test_can_plot_model_is_false_without_pydot(monkeypatch):
    monkeypatch.setitem(sys.modules, "pydot", None)  # import pydot raises ImportError
    assert models.can_plot_model() is False


def test_can_plot_model_is_false_when_the_dot_program_fails(monkeypatch):
    monkeypatch.setitem(sys.modules, "pydot", fake_pydot(dot_works=False))
    assert models.can_plot_model() is False


def test_can_plot_model_is_true_only_when_a_dot_run_works(monkeypatch):
    monkeypatch.setitem(sys.modules, "pydot", fake_pydot(dot_works=True))
    assert models.can_plot_model() is True


def test_plot_model_file_without_and_with_graphviz(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pydot", None)
    assert models.plot_model_file(two_headed(), tmp_path / "m.png") is None
    assert not (tmp_path / "m.png").exists()
    drawn = []
    monkeypatch.setitem(sys.modules, "pydot", fake_pydot(dot_works=True))
    monkeypatch.setattr(keras.utils, "plot_model", lambda model, to_file, **kwargs: drawn.append((to_file, kwargs)))
    path = tmp_path / "sub" / "m.png"
    assert models.plot_model_file(two_headed(), path) == path and path.parent.is_dir()
    assert drawn == [(str(path), {"show_shapes": True, "show_layer_names": True, "dpi": 72})]


def test_plot_model_file_refuses_a_useless_dpi(tmp_path):
    with pytest.raises(ValueError, match="dpi must be at least 10"):
        models.plot_model_file(two_headed(), tmp_path / "m.png", dpi=0)


def test_chapter05_cnn_has_the_chapters_layers_and_a_chosen_head():
    ten = models.chapter05_cnn()
    assert ten.count_params() == 421_642 and ten.output_shape == (None, 10)   # chapter 05's count
    assert [layer.name for layer in ten.layers][:7] == ["conv_1", "pool_1", "conv_2", "pool_2", "flatten",
                                                         "dropout", "hidden"]
    binary = models.chapter05_cnn(1, "sigmoid", seed=0)
    assert binary.output_shape == (None, 1) and binary.layers[-1].get_config()["activation"] == "sigmoid"
    again = models.chapter05_cnn(1, "sigmoid", seed=0)
    assert all((a == b).all() for a, b in zip(binary.get_weights(), again.get_weights()))


def test_chapter05_cnn_refuses_an_empty_head():
    with pytest.raises(ValueError, match="n_outputs must be at least 1"):
        models.chapter05_cnn(0)
