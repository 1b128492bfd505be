"""Tests of helpers.controls (live controls around a drawing function) and plots.show_output_grid, the picture
chapter 02's padding and stride sliders draw."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers import controls, plots


@pytest.fixture
def shown(monkeypatch):
    """What live() displays, captured instead of sent to a front-end."""
    import IPython.display

    displayed = []
    monkeypatch.setattr(IPython.display, "display", lambda *objects, **_: displayed.extend(objects))
    return displayed


def test_headless_draws_the_starting_picture_and_shows_no_widget(monkeypatch, shown):
    import ipywidgets

    monkeypatch.setenv(controls.HEADLESS_ENV, "1")
    calls = []
    controls.live(lambda size: calls.append(size), {"size": ipywidgets.IntSlider(5, min=1, max=9)})
    assert calls == [5] and shown == []


def test_in_jupyterlab_the_controls_redraw_on_every_change(monkeypatch, shown):
    import ipywidgets

    monkeypatch.delenv(controls.HEADLESS_ENV, raising=False)
    slider, menu = ipywidgets.IntSlider(5, min=1, max=9), ipywidgets.Dropdown(options=["valid", "same"])
    calls = []
    controls.live(lambda size, padding: calls.append((size, padding)), {"size": slider, "padding": menu})
    (box,) = shown
    assert isinstance(box, ipywidgets.VBox) and slider in box.children[0].children
    slider.value = 7
    menu.value = "same"
    assert calls == [(5, "valid"), (7, "valid"), (7, "same")]
    with pytest.raises(ValueError, match="at least one control"):
        controls.live(lambda: None, {})


def test_kernel_editor_boxes_give_back_the_kernel_and_presets_fill_them():
    kernel = np.arange(9.0).reshape(3, 3) - 4
    editor = controls.kernel_controls(kernel)
    assert sorted(editor) == [f"w{r}{c}" for r in range(3) for c in range(3)]
    values = {name: box.value for name, box in editor.items()}
    assert np.array_equal(controls.kernel_of(**values), kernel)
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    menu = controls.preset_menu(editor, {"Sobel x": sobel, "start": kernel, "box 5x5": np.ones((5, 5)) / 25},
                                start="start")
    assert list(menu.options) == ["Sobel x", "start"] and menu.value == "start"    # 5x5 kernels do not fit
    menu.value = "Sobel x"
    assert np.array_equal(controls.kernel_of(**{name: box.value for name, box in editor.items()}), sobel)
    with pytest.raises(ValueError, match="3x3 kernel"):
        controls.kernel_controls(np.ones((5, 5)))
    with pytest.raises(ValueError, match="nine weights"):
        controls.kernel_of(w00=1.0)
    with pytest.raises(ValueError, match="start must name"):
        controls.preset_menu(editor, {"Sobel x": sobel}, start="box 5x5")
    with pytest.raises(ValueError, match="at least one 3x3"):
        controls.preset_menu(editor, {"big": np.ones((5, 5))})


@pytest.mark.parametrize("size, kernel, stride, padding", [(5, 3, 2, "same"), (7, 3, 1, "valid"), (6, 2, 3, "same"),
                                                            (9, 5, 2, "valid"), (4, 1, 1, "valid")])
def test_output_grid_shows_the_size_keras_computes(size, kernel, stride, padding):
    import keras

    expected = keras.layers.Conv2D(1, kernel, strides=stride, padding=padding).compute_output_shape((1, size, size, 1))[1]
    fig = plots.show_output_grid(size, kernel, stride, padding)
    assert fig._suptitle.get_text().endswith(f"output {expected}x{expected}")
    assert len(fig.axes[1].patches) == expected ** 2                   # one cell per output value
    plt.close(fig)


def test_output_grid_says_when_the_kernel_does_not_fit_and_rejects_bad_values():
    fig = plots.show_output_grid(3, 5, 1, "valid")
    assert "does not fit" in fig.axes[0].get_title() and fig._suptitle.get_text().endswith("output 0x0")
    plt.close(fig)
    with pytest.raises(ValueError, match="padding"):
        plots.show_output_grid(5, 3, 1, "full")
    with pytest.raises(ValueError, match="stride must be"):
        plots.show_output_grid(5, 3, 0, "valid")


def test_show_augmented_draws_the_original_and_its_variants():
    import keras

    image = np.random.default_rng(0).uniform(0, 255, (16, 16, 3))
    flip = keras.Sequential([keras.layers.RandomFlip("horizontal", seed=1)])
    fig = plots.show_augmented(image, flip, count=5, title="flips")
    shown = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(shown) == 6 and fig._suptitle.get_text() == "flips"
    assert np.array_equal(shown[0], np.clip(image, 0, 255).astype("uint8"))
    assert all(np.array_equal(v, shown[0]) or np.array_equal(v, shown[0][:, ::-1]) for v in shown[1:])
    plt.close(fig)
    with pytest.raises(ValueError, match="count"):
        plots.show_augmented(image, flip, count=0)
    with pytest.raises(ValueError, match="shape"):
        plots.show_augmented(image, keras.layers.Resizing(8, 8), count=2)


def test_a_grad_cam_class_picker_redraws_the_evidence_for_the_chosen_class(monkeypatch, shown):
    import ipywidgets
    import keras

    from helpers import explain

    monkeypatch.delenv(controls.HEADLESS_ENV, raising=False)
    copy = keras.layers.Conv2D(1, 1, use_bias=False, name="copy")
    head = keras.layers.Dense(2, name="head")
    model = keras.Sequential([keras.Input(shape=(8, 8, 1)), copy, keras.layers.Flatten(), head])
    copy.set_weights([np.ones((1, 1, 1, 1), np.float32)])
    head.set_weights([np.tile([[1.0, -1.0]], (64, 1)).astype(np.float32), np.zeros(2, np.float32)])
    images = np.random.default_rng(0).uniform(0.1, 1, (3, 8, 8, 1)).astype(np.float32)
    drawn = []

    def evidence_for(target: str):                     # as chapter 05's picker: maps of one class, one scale
        maps, _ = explain.grad_cam(model, images, "copy", np.full(3, ["more", "less"].index(target)))
        drawn.append(plots.show_heatmaps(images, maps, shared=True))
        plt.close(drawn[-1])

    menu = ipywidgets.Dropdown(options=["more", "less"], value="more")
    controls.live(evidence_for, {"target": menu})
    menu.value = "less"
    overlays = [[ax.images[1].get_array().max() for ax in fig.axes if len(ax.images) == 2] for fig in drawn]
    assert len(overlays) == 2 and max(overlays[0]) == 1.0 and min(overlays[0]) > 0.5   # evidence on every image
    assert overlays[1] == [0.0, 0.0, 0.0]                             # a negative weight: ReLU leaves nothing
