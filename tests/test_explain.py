"""Tests of helpers.explain: Grad-CAM on models whose answer is known, the localisation share, rank correlations and
model randomisation."""

import numpy as np
import pytest

from helpers import explain


def pixel_model(activation="softmax", units=2):
    """8x8 gray in; a 1x1 convolution that copies the image ('copy'); class 0's logit is +pixel (2, 3), class 1's -it."""
    import keras

    inputs = keras.Input(shape=(8, 8, 1))
    copy = keras.layers.Conv2D(1, 1, use_bias=False, name="copy")
    flat = keras.layers.Flatten(name="flat")
    head = keras.layers.Dense(units, activation=activation, name="head")
    model = keras.Sequential([inputs, copy, flat, head])
    copy.set_weights([np.ones((1, 1, 1, 1), np.float32)])
    kernel = np.zeros((64, units), np.float32)
    kernel[2 * 8 + 3, 0] = 1.0
    if units == 2:
        kernel[2 * 8 + 3, 1] = -1.0
    head.set_weights([kernel, np.zeros(units, np.float32)])
    return model


def images(n=3):
    return np.random.default_rng(0).uniform(0.1, 1, (n, 8, 8, 1)).astype(np.float32)


def test_grad_cam_weighs_the_channel_by_its_mean_gradient():
    x = images()
    cams, classes = explain.grad_cam(pixel_model(), x, "copy", np.zeros(3, int))
    # the gradient of logit 0 is 1 at one pixel of 64: the channel's weight is 1/64, the map the image / 64
    assert cams.shape == (3, 8, 8) and classes.tolist() == [0, 0, 0]
    np.testing.assert_allclose(cams, x[..., 0] / 64, rtol=1e-5)
    negative, _ = explain.grad_cam(pixel_model(), x, "copy", np.ones(3, int))
    assert (negative == 0).all()                                    # a negative weight: ReLU leaves nothing


def test_grad_cam_uses_the_predicted_class_and_the_logit_of_one_sigmoid_unit():
    x = images()
    _, predicted = explain.grad_cam(pixel_model(), x, "copy")
    assert predicted.tolist() == [0, 0, 0]                          # +pixel beats -pixel for positive pixels
    cams, classes = explain.grad_cam(pixel_model("sigmoid", 1), x, "copy")
    assert classes.tolist() == [1, 1, 1]
    np.testing.assert_allclose(cams, x[..., 0] / 64, rtol=1e-5)    # the sigmoid's input, not its output


def test_grad_cam_resizes_a_smaller_map_to_the_image():
    import keras

    model = keras.Sequential([keras.Input(shape=(8, 8, 1)), keras.layers.Conv2D(2, 3, name="conv"),
                              keras.layers.MaxPooling2D(2), keras.layers.Flatten(), keras.layers.Dense(3)])
    cams, classes = explain.grad_cam(model, images(2), "conv")
    assert cams.shape == (2, 8, 8) and (cams >= 0).all() and classes.shape == (2,)


def test_grad_cam_rejects_what_it_cannot_explain():
    import keras

    model = pixel_model()
    with pytest.raises(ValueError, match="no layer 'conv_9'"):
        explain.grad_cam(model, images(), "conv_9")
    with pytest.raises(ValueError, match="batch"):
        explain.grad_cam(model, images()[0], "copy")
    with pytest.raises(ValueError, match="one class per image"):
        explain.grad_cam(model, images(), "copy", [0, 1])
    with pytest.raises(ValueError, match="last layer"):
        explain.grad_cam(model, images(), "head")
    with pytest.raises(ValueError, match="not feature maps"):
        explain.grad_cam(model, images(), "flat")
    with pytest.raises(ValueError, match="activation must be"):
        explain.grad_cam(pixel_model("relu"), images(), "copy")
    no_dense = keras.Sequential([keras.Input(shape=(8, 8, 1)), keras.layers.Conv2D(1, 1, name="c"),
                                 keras.layers.GlobalAveragePooling2D()])
    with pytest.raises(ValueError, match="must be Dense"):
        explain.grad_cam(no_dense, images(), "c")


def test_mass_share_is_the_part_of_the_map_on_the_mask():
    maps = np.zeros((3, 4, 4))
    maps[0, 0, 0], maps[0, 3, 3] = 3.0, 1.0
    maps[1] = 1.0
    masks = np.zeros((3, 4, 4), bool)
    masks[:, :2, :2] = True
    share = explain.mass_share(maps, masks)
    assert share[0] == 0.75 and share[1] == 0.25 and np.isnan(share[2])     # the last map is empty
    with pytest.raises(ValueError, match="both be"):
        explain.mass_share(maps, masks[:2])
    with pytest.raises(ValueError, match="negative"):
        explain.mass_share(-maps, masks)


def test_rank_correlations_pair_maps_and_skip_constant_ones():
    ramp = np.arange(16.0).reshape(1, 4, 4)
    first = np.concatenate([ramp, ramp, np.ones((1, 4, 4))])
    second = np.concatenate([ramp ** 3, -ramp, ramp])
    rho = explain.rank_correlations(first, second)
    assert rho[0] == pytest.approx(1.0) and rho[1] == pytest.approx(-1.0) and np.isnan(rho[2])
    with pytest.raises(ValueError, match="same shape"):
        explain.rank_correlations(first, second[:2])


def test_reinitialized_draws_new_weights_reproducibly_without_touching_global_state():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(8, 8, 1)), keras.layers.Conv2D(4, 3, name="conv"),
                              keras.layers.BatchNormalization(), keras.layers.Flatten(), keras.layers.Dense(3)])
    before = np.random.get_state()[1].copy()
    first, again, other = (explain.reinitialized(model, seed) for seed in (1, 1, 2))
    assert np.array_equal(np.random.get_state()[1], before)
    weights = [w for w in first.get_weights()]
    assert all(np.array_equal(a, b) for a, b in zip(weights, again.get_weights()))
    assert not np.array_equal(weights[0], other.get_weights()[0])
    assert not np.array_equal(weights[0], model.get_weights()[0])
    assert [w.shape for w in weights] == [w.shape for w in model.get_weights()]
    with pytest.raises(ValueError, match="seed"):
        explain.reinitialized(model, -1)


def test_grad_cam_opens_nested_models_and_follows_layers_shared_with_another_model():
    import keras

    inner = pixel_model()
    nested = keras.Sequential([keras.Input(shape=(8, 8, 1)), keras.Sequential(inner.layers[:1], name="features"),
                               *inner.layers[1:]])
    cams, _ = explain.grad_cam(nested, images(), "copy", np.zeros(3, int))
    np.testing.assert_allclose(cams, images()[..., 0] / 64, rtol=1e-5)
    # the same convolution reused on 16x16 images: its .output belongs to the first model, the chain does not
    bigger = keras.Sequential([keras.Input(shape=(16, 16, 1)), inner.get_layer("copy"),
                               keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    cams, _ = explain.grad_cam(bigger, np.ones((2, 16, 16, 1), np.float32), "copy")
    assert cams.shape == (2, 16, 16)


def test_grad_cam_refuses_a_model_whose_layers_in_order_do_not_compute_its_output():
    import keras

    inputs = keras.Input(shape=(8, 8, 1))
    conv = keras.layers.Conv2D(1, 1, name="conv")
    twice = keras.Model(inputs, keras.layers.Dense(2, name="head")(keras.layers.Flatten()(conv(conv(inputs)))))
    with pytest.raises(ValueError, match="not a chain of layers"):                    # a layer called twice
        explain.grad_cam(twice, images(), "conv")
    branch = keras.layers.Conv2D(1, 1, name="branch")(inputs)
    merged = keras.layers.Add(name="add")([keras.layers.Conv2D(1, 1, name="main")(inputs), branch])
    branching = keras.Model(inputs, keras.layers.Dense(2, name="head")(keras.layers.Flatten()(merged)))
    with pytest.raises(ValueError, match="not a chain of layers"):                    # two inputs to one layer
        explain.grad_cam(branching, images(), "main")


def test_activations_returns_each_named_layer_for_one_image():
    import keras

    model = keras.Sequential([keras.Input(shape=(8, 8, 1)), keras.layers.Conv2D(3, 3, name="conv"),
                              keras.layers.MaxPooling2D(2, name="pool"), keras.layers.Flatten(), keras.layers.Dense(2)])
    image = images(1)[0]
    maps = explain.activations(model, image, ["pool", "conv"])
    assert list(maps) == ["pool", "conv"] and maps["conv"].shape == (6, 6, 3) and maps["pool"].shape == (3, 3, 3)
    np.testing.assert_allclose(maps["pool"], keras.ops.convert_to_numpy(model.get_layer("pool")(maps["conv"][None]))[0])
    with pytest.raises(ValueError, match="input shape"):
        explain.activations(model, images(1), ["conv"])
    with pytest.raises(ValueError, match="no layer"):
        explain.activations(model, image, ["conv_7"])
    with pytest.raises(ValueError, match="empty"):
        explain.activations(model, image, [])


def test_reinitialized_opens_nested_models():
    import keras

    inner = keras.Sequential([keras.Input(shape=(8, 8, 1)), keras.layers.Conv2D(4, 3, name="conv")], name="inner")
    model = keras.Sequential([keras.Input(shape=(8, 8, 1)), inner, keras.layers.Flatten(), keras.layers.Dense(3)])
    first, again = explain.reinitialized(model, 3), explain.reinitialized(model, 3)
    assert all(np.array_equal(a, b) for a, b in zip(first.get_weights(), again.get_weights()))
    assert not np.array_equal(first.get_weights()[0], model.get_weights()[0])


def test_a_layer_name_that_appears_twice_in_the_chain_is_refused():
    import keras

    inner = keras.Sequential([keras.Input(shape=(8, 8, 1)), keras.layers.Conv2D(1, 1, name="conv")], name="inner")
    model = keras.Sequential([keras.Input(shape=(8, 8, 1)), inner, keras.layers.Conv2D(1, 1, name="conv"),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="2 layers named 'conv'"):
        explain.grad_cam(model, images(), "conv")
    with pytest.raises(ValueError, match="more than one layer named"):
        explain.activations(model, images(1)[0], ["conv"])
