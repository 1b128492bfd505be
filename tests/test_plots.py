"""Unit tests of helpers.plots: every function returns a labelled Figure and rejects bad input."""

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from helpers import plots


def test_set_style_sets_the_course_look():
    with matplotlib.rc_context():
        plots.set_style()
        assert matplotlib.rcParams["figure.dpi"] == 80 and list(matplotlib.rcParams["figure.figsize"]) == [8, 4]
        assert matplotlib.rcParams["image.interpolation"] == "nearest" and not matplotlib.rcParams["axes.grid"]


def test_show_images_grid_titles_and_gray_default(rng):
    images = [rng.random((8, 8)), rng.integers(0, 255, (8, 8, 3), dtype=np.uint8), rng.random((8, 8, 1))]
    fig = plots.show_images(images, ["a", "b", "c"], ncols=2, suptitle="grid")
    assert isinstance(fig, Figure)
    axes = fig.axes
    assert len(axes) == 4 and [ax.get_title() for ax in axes[:3]] == ["a", "b", "c"]
    assert axes[0].images[0].get_cmap().name == "gray"
    assert axes[2].images[0].get_array().shape == (8, 8)  # the single channel is drawn as a 2-D image
    assert not axes[3].images  # the spare cell is empty
    assert fig.get_suptitle() == "grid"


def test_show_images_bad_input():
    with pytest.raises(ValueError, match="images is empty"):
        plots.show_images([])
    with pytest.raises(ValueError, match="2 images but 1 titles"):
        plots.show_images([np.zeros((2, 2))] * 2, ["one"])
    with pytest.raises(ValueError, match="ncols must be >= 1"):
        plots.show_images([np.zeros((2, 2))], ncols=0)
    with pytest.raises(ValueError, match="images\\[1\\] must have shape"):
        plots.show_images([np.zeros((2, 2)), np.zeros(4)])


def test_compare_images_uses_keys_as_titles():
    fig = plots.compare_images({"mean": np.zeros((4, 4)), "luma": np.ones((4, 4))}, cmap=None, suptitle="two")
    assert [ax.get_title() for ax in fig.axes] == ["mean", "luma"] and fig.get_suptitle() == "two"
    assert fig.axes[0].images[0].get_cmap().name != "gray"
    with pytest.raises(ValueError, match="nothing to compare"):
        plots.compare_images({})


def test_show_kernel_effect_writes_the_kernel_values():
    kernel = np.array([[1, 0, -1]] * 3)
    fig = plots.show_kernel_effect(np.zeros((6, 6)), kernel, np.zeros((6, 6)), name="edge")
    assert [ax.get_title() for ax in fig.axes] == ["input", "edge 3x3", "output"]
    assert sorted({t.get_text() for t in fig.axes[1].texts}) == ["-1", "0", "1"]
    with pytest.raises(ValueError, match="result must have shape"):
        plots.show_kernel_effect(np.zeros((6, 6)), kernel, np.zeros(3))


def test_show_matrix_labels_every_cell_and_draws_on_a_given_axes():
    fig = plots.show_matrix(np.arange(6).reshape(2, 3), title="m")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["0", "1", "2", "3", "4", "5"] and ax.get_title() == "m"
    assert [t.get_color() for t in ax.texts] == ["black"] * 3 + ["white"] * 3  # light text on dark cells
    import matplotlib.pyplot as plt

    own, axes = plt.subplots(1, 2)
    assert plots.show_matrix(np.eye(2), ax=axes[1], fmt=".1f") is own and axes[1].texts[0].get_text() == "1.0"
    with pytest.raises(ValueError, match="matrix must have shape"):
        plots.show_matrix(np.zeros((2, 2, 2)))


def test_channel_histograms_colour_and_gray(rng):
    fig = plots.channel_histograms(rng.integers(0, 255, (5, 5, 3), dtype=np.uint8))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "pixel value" and [t.get_text() for t in ax.get_legend().get_texts()] == [
        "red", "green", "blue"]
    fig = plots.channel_histograms(rng.random((5, 5)), title="gray")
    assert fig.axes[0].get_legend() is None and fig.axes[0].get_title() == "gray"


def test_plot_history_draws_train_and_validation_per_run():
    runs = {"baseline": {"accuracy": [0.5, 0.9], "val_accuracy": [0.5, 0.6], "loss": [1, 0.5], "val_loss": [1, 1]},
            "dropout": {"accuracy": [0.5, 0.7], "loss": [1.0, 0.8]}}
    fig = plots.plot_history(runs)
    assert [ax.get_title() for ax in fig.axes] == ["accuracy", "loss"]
    # Validation lines are drawn after every training line, so they lie on top and their open markers show
    # a training curve underneath.
    assert [line.get_label() for line in fig.axes[0].lines] == ["baseline train", "dropout train",
                                                                "baseline validation"]
    train, _, validation = fig.axes[0].lines
    assert train.get_linestyle() == "-" and validation.get_linestyle() == "--"
    assert validation.get_markerfacecolor() == "none" and validation.get_markersize() > train.get_markersize()
    assert fig.axes[0].get_xlabel() == "epoch" and fig.get_suptitle() == "Learning curves"
    assert len(fig.legends) == 1 and not any(ax.get_legend() for ax in fig.axes)  # one legend, outside the panels
    assert [text.get_text() for text in fig.legends[0].get_texts()] == ["baseline train", "baseline validation",
                                                                        "dropout train"]


def test_plot_history_colours_by_position_unless_a_run_is_pinned():
    runs = {"CNN": {"loss": [1.0, 0.5], "val_loss": [1.0, 0.7]}, "further": {"loss": [0.9, 0.4]}}
    by_position = plots.plot_history(runs, metrics=["loss"]).axes[0].lines
    assert [line.get_color() for line in by_position] == ["C0", "C1", "C0"]
    pinned = plots.plot_history(runs, metrics=["loss"], colours={"CNN": "C1", "further": "tab:green"}).axes[0].lines
    assert [(line.get_label(), line.get_color()) for line in pinned] == [
        ("CNN train", "C1"), ("further train", "tab:green"), ("CNN validation", "C1")]
    with pytest.raises(ValueError, match="runs that are not plotted: \\['dense'\\]"):
        plots.plot_history(runs, metrics=["loss"], colours={"dense": "C0"})
    with pytest.raises(ValueError, match="not matplotlib colours: {'CNN': 'not-a-colour'}"):
        plots.plot_history(runs, metrics=["loss"], colours={"CNN": "not-a-colour"})


def test_plot_history_accepts_a_keras_history_and_rejects_bad_input():
    class FakeHistory:
        history = {"loss": [1.0, 0.5]}

    assert plots.plot_history({"run": FakeHistory()}, metrics=["loss"]).axes[0].get_ylabel() == "loss"
    with pytest.raises(ValueError, match="nothing to plot"):
        plots.plot_history({})
    with pytest.raises(ValueError, match="has no \\['accuracy'\\]"):
        plots.plot_history({"run": FakeHistory()})
    with pytest.raises(ValueError, match="non-empty keras History"):
        plots.plot_history({"run": {}})


def test_plot_timeline_draws_a_bar_per_span_and_a_line_per_event():
    rows = {"worker 0": [("start-up", 10.0, 12.0), ("epoch 1", 12.0, 15.0), ("epoch 2, lost", 15.0, 16.0)],
            "worker 1": [("start-up", 10.5, 12.0), ("epoch 1", 12.0, 15.0)]}
    fig = plots.plot_timeline(rows, events={"killed": 15.5})
    ax = fig.axes[0]
    assert len(ax.patches) == 5 and ax.patches[0].get_x() == 0.0 and ax.patches[1].get_width() == 3.0
    assert [tick.get_text() for tick in ax.get_yticklabels()] == ["worker 0", "worker 1"]
    assert [line.get_xdata()[0] for line in ax.lines] == [5.5]
    assert [text.get_text() for text in fig.legends[0].get_texts()] == ["start-up", "epoch 1", "work lost"]
    assert ax.get_xlabel() == "seconds since the first start" and ax.get_title() == "What happened when"


def test_plot_timeline_rejects_empty_and_backward_spans():
    with pytest.raises(ValueError, match="nothing to plot"):
        plots.plot_timeline({"worker 0": []})
    with pytest.raises(ValueError, match="end at or after its start"):
        plots.plot_timeline({"worker 0": [("epoch 1", 5.0, 4.0)]})


# --- classifier results ------------------------------------------------------------------


def test_plot_confusion_matrix_counts_and_shares():
    matrix = np.array([[5, 1], [2, 7]])
    fig = plots.plot_confusion_matrix(matrix, ["cat", "dog"], title="cm")
    ax = fig.axes[0]
    assert ax.get_title() == "cm" and ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert [t.get_text() for t in ax.texts] == ["5", "1", "2", "7"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"]
    assert fig.axes[1].get_ylabel() == "count"  # the colour bar
    fig = plots.plot_confusion_matrix(matrix, ["cat", "dog"], normalize=True)
    assert [t.get_text() for t in fig.axes[0].texts] == ["0.83", "0.17", "0.22", "0.78"]
    assert fig.axes[1].get_ylabel() == "share of the row"


def test_plot_confusion_matrix_can_colour_only_the_mistakes():
    matrix = np.array([[90, 4, 0], [1, 95, 0], [2, 0, 88]])
    fig = plots.plot_confusion_matrix(matrix, ["a", "b", "c"], mistakes_only=True)
    image = fig.axes[0].images[0]
    assert image.get_clim() == (0, 4)  # the scale runs from 0 to the largest mistake, not to the diagonal's 95
    assert list(np.ma.getmaskarray(image.get_array()).diagonal()) == [True] * 3  # the diagonal is not coloured
    assert [t.get_text() for t in fig.axes[0].texts][:3] == ["90", "4", "0"]  # every count is still written
    assert fig.axes[1].get_ylabel() == "mistakes: count (diagonal not coloured)"
    assert all(float(tick).is_integer() for tick in fig.axes[1].get_yticks())
    shares = plots.plot_confusion_matrix(matrix, ["a", "b", "c"], normalize=True, mistakes_only=True)
    assert shares.axes[0].images[0].get_clim()[1] == pytest.approx(4 / 94)
    perfect = plots.plot_confusion_matrix(np.diag([3, 4]), ["a", "b"], mistakes_only=True)
    assert perfect.axes[0].images[0].get_clim() == (0, 1)  # no mistakes: still a scale from 0


def test_plot_confusion_matrix_counts_are_readable_for_ten_classes():
    ten = plots.plot_confusion_matrix(np.eye(10, dtype=int) * 100, [f"class {i}" for i in range(10)])
    assert {text.get_fontsize() for text in ten.axes[0].texts} == {11}
    two = plots.plot_confusion_matrix(np.eye(2, dtype=int), ["a", "b"])
    assert {text.get_fontsize() for text in two.axes[0].texts} == {12}


def test_plot_confusion_matrix_bad_input():
    with pytest.raises(ValueError, match="must be square"):
        plots.plot_confusion_matrix(np.zeros((2, 3), dtype=int), ["a", "b"])
    with pytest.raises(ValueError, match="2 classes but 1 class names"):
        plots.plot_confusion_matrix(np.zeros((2, 2), dtype=int), ["a"])


def test_show_predictions_titles_true_slash_predicted_wrong_in_red(rng):
    images = rng.integers(0, 255, (3, 6, 6), dtype=np.uint8)
    fig = plots.show_predictions(images, np.array([0, 1, 2]), np.array([0, 2, 2]), ["a", "b", "c"], ncols=3)
    titles = [ax.title for ax in fig.axes[:3]]
    assert [t.get_text() for t in titles] == ["a / a", "b / c", "c / c"]
    assert [t.get_color() for t in titles] == ["black", "red", "black"]
    assert fig.get_suptitle() == "true / predicted (wrong in red)"
    assert plots.show_predictions(images[:1], [3], [4]).axes[0].get_title() == "3 / 4"


def test_show_predictions_bad_input():
    with pytest.raises(ValueError, match="nothing to show"):
        plots.show_predictions(np.zeros((0, 4, 4)), [], [])
    with pytest.raises(ValueError, match="2 images, 1 true and 2 predicted"):
        plots.show_predictions(np.zeros((2, 4, 4)), [0], [0, 1])


def test_show_misclassified_keeps_only_the_wrong_ones():
    images = np.stack([np.full((4, 4), i, dtype=np.uint8) for i in range(5)])
    fig = plots.show_misclassified(images, np.array([0, 1, 2, 3, 4]), np.array([0, 9, 2, 8, 7]), limit=2)
    shown = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in shown] == ["1 / 9", "3 / 8"]
    assert shown[0].images[0].get_array()[0, 0] == 1  # the image belongs to its title
    assert all(ax.title.get_color() == "red" for ax in shown)
    assert fig.get_suptitle() == "The first 2 of 3 misclassified: true / predicted"
    everything = plots.show_misclassified(images, np.array([0, 1, 2, 3, 4]), np.array([0, 9, 2, 8, 7]))
    assert everything.get_suptitle() == "3 misclassified: true / predicted"
    for limit in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="limit must be an int >= 1"):
            plots.show_misclassified(images, np.arange(5), np.arange(5) + 1, limit=limit)
    with pytest.raises(ValueError, match="no misclassified examples"):
        plots.show_misclassified(images, np.arange(5), np.arange(5))
    with pytest.raises(ValueError, match="shape"):
        plots.show_misclassified(images, np.arange(5), np.arange(4))


def test_probability_bars_colours_predicted_and_true():
    probabilities = np.array([0.1, 0.7, 0.2])
    fig = plots.probability_bars(probabilities, ["a", "b", "c"], true_class=2, title="one image")
    bars = fig.axes[0].patches
    assert [round(b.get_height(), 2) for b in bars] == [0.1, 0.7, 0.2]
    colours = [b.get_facecolor() for b in bars]
    assert colours[2][:3] == (1.0, 0.0, 0.0) and colours[1] != colours[0]
    assert fig.axes[0].get_ylabel() == "probability" and fig.axes[0].get_title() == "one image"
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["predicted class (wrong)", "true class", "other classes"]
    right_fig = plots.probability_bars(probabilities, ["a", "b", "c"], true_class=np.int64(1))
    assert [t.get_text() for t in right_fig.axes[0].get_legend().get_texts()] == ["predicted class (right)",
                                                                                   "other classes"]
    assert plots.probability_bars(probabilities, ["a", "b", "c"]).axes[0].get_legend() is None
    right = right_fig.axes[0].patches
    assert right[0].get_facecolor() == right[2].get_facecolor()  # no red bar when the prediction is right
    long_names = plots.probability_bars(probabilities, ["shirt", "coat", "bag"])
    assert long_names.axes[0].get_xticklabels()[0].get_rotation() == 45


def test_probability_bars_bad_input():
    with pytest.raises(ValueError, match="expected 3 probabilities"):
        plots.probability_bars(np.array([0.5, 0.5]), ["a", "b", "c"])
    with pytest.raises(ValueError, match="sum to 1"):
        plots.probability_bars(np.array([0.5, 0.6]), ["a", "b"])
    with pytest.raises(ValueError, match=">= 0"):
        plots.probability_bars(np.array([1.5, -0.5]), ["a", "b"])


@pytest.mark.parametrize("true_class", [-1, 3, 4, True, 1.0, "b"])
def test_probability_bars_refuses_a_true_class_outside_the_classes(true_class):
    with pytest.raises(ValueError, match="true_class must be a class index in 0..2, got"):
        plots.probability_bars(np.array([0.1, 0.7, 0.2]), ["a", "b", "c"], true_class=true_class)


def test_show_predictions_adds_each_confidence_to_its_title(rng):
    images = rng.integers(0, 255, (2, 6, 6), dtype=np.uint8)
    fig = plots.show_predictions(images, [0, 1], [0, 0], ["a", "b"], confidences=[0.5, 0.987])
    assert [ax.get_title() for ax in fig.axes[:2]] == ["a / a (0.50)", "b / a (0.99)"]
    with pytest.raises(ValueError, match="2 images but 1 confidences"):
        plots.show_predictions(images, [0, 1], [0, 0], confidences=[0.5])


def test_probability_bars_beside_the_image(rng):
    image = rng.integers(0, 255, (6, 6), dtype=np.uint8)
    fig = plots.probability_bars(np.array([0.2, 0.8]), ["a", "b"], image=image)
    picture, bars = fig.axes
    assert picture.images[0].get_array().shape == (6, 6) and picture.get_title() == "input"
    assert [round(b.get_height(), 1) for b in bars.patches] == [0.2, 0.8]
    with pytest.raises(ValueError, match="image must have shape"):
        plots.probability_bars(np.array([0.2, 0.8]), ["a", "b"], image=np.zeros(6))


def test_show_images_keeps_the_suptitle_above_the_images(rng):
    fig = plots.show_images(list(rng.integers(0, 255, (16, 8, 8), dtype=np.uint8)), [f"image {i}" for i in range(16)],
                            ncols=8, suptitle="a long title over two rows of images")
    fig.canvas.draw()
    suptitle = next(text for text in fig.texts if text.get_text() == fig.get_suptitle())
    title_bottom = suptitle.get_window_extent().y0
    tops = [ax.title.get_window_extent().y1 for ax in fig.axes]
    assert title_bottom >= max(tops)


def test_show_on_one_scale_shares_limits_and_adds_a_colour_bar(rng):
    weights = [rng.normal(size=(3, 3)) for _ in range(4)]
    weights[2][0, 0] = -5.0  # the largest magnitude sets both limits
    fig = plots.show_on_one_scale(weights, [f"w{i}" for i in range(4)], ncols=4, signed=True, label="weight")
    panels = [ax for ax in fig.axes if ax.images and ax.get_title()]
    assert len(panels) == 4 and all(ax.images[0].get_clim() == (-5.0, 5.0) for ax in panels)
    assert panels[0].images[0].get_cmap().name == "RdBu_r"
    colour_bar = [ax for ax in fig.axes if ax.get_ylabel() == "weight"]
    assert len(colour_bar) == 1
    maps = plots.show_on_one_scale([np.zeros((2, 2)), np.full((2, 2), 3.0)])
    assert {ax.images[0].get_clim() for ax in maps.axes if ax.images and ax.get_title() == ""} >= {(0.0, 3.0)}


def test_show_on_one_scale_bad_input():
    with pytest.raises(ValueError, match="nothing to show"):
        plots.show_on_one_scale([])
    with pytest.raises(ValueError, match=r"arrays\[0\] must have shape \(height, width\)"):
        plots.show_on_one_scale([np.zeros((2, 2, 3))])


def test_show_activations_gives_each_layer_its_own_scale_and_colour_bar(rng):
    maps = {"conv_1": rng.random((6, 6, 12)) * 4, "conv_2": rng.normal(size=(3, 3, 2))}
    maps["conv_2"][0, 0, 1] = -7.0                             # a signed layer: diverging colours, limits ±7
    fig = plots.show_activations(maps, channels=8)
    first, second = fig.subfigs
    shown = [ax for ax in first.axes if ax.images and ax.get_title()]
    assert len(shown) == 8 and [ax.get_title() for ax in shown] == [str(i) for i in range(8)]
    assert {ax.images[0].get_clim() for ax in shown} == {(0.0, float(maps["conv_1"][..., :8].max()))}
    signed = [ax for ax in second.axes if ax.images and ax.get_title()]
    assert len(signed) == 2 and signed[0].images[0].get_clim() == (-7.0, 7.0)
    assert signed[0].images[0].get_cmap().name == "RdBu_r"
    assert [ax.get_ylabel() for ax in fig.axes].count("activation") == 2
    assert "8 of 12 channels, 6x6" in first.get_suptitle()


def test_show_activations_bad_input():
    with pytest.raises(ValueError, match="nothing to show"):
        plots.show_activations({})
    with pytest.raises(ValueError, match=r"maps\['a'\] must be \(height, width, channels\)"):
        plots.show_activations({"a": np.zeros((4, 4))})
    with pytest.raises(ValueError, match=r"channels\['a'\] must be an int >= 1"):
        plots.show_activations({"a": np.zeros((4, 4, 2))}, channels=0)
    with pytest.raises(ValueError, match="ncols must be"):
        plots.show_activations({"a": np.zeros((4, 4, 2))}, ncols=True)
    with pytest.raises(ValueError, match="must name every layer"):
        plots.show_activations({"a": np.zeros((4, 4, 2)), "b": np.zeros((4, 4, 2))}, channels={"a": 1})
    with pytest.raises(ValueError, match=r"channels\['a'\] must be"):
        plots.show_activations({"a": np.zeros((4, 4, 2))}, channels={"a": 0})


def test_show_activations_wraps_a_layer_s_channels_into_rows(rng):
    fig = plots.show_activations({"conv": rng.random((4, 4, 20))}, channels=16, ncols=8)
    shown = [ax for ax in fig.subfigs[0].axes if ax.images and ax.get_title()]
    assert len(shown) == 16 and len([ax for ax in fig.subfigs[0].axes if ax.get_ylabel() == "activation"]) == 1
    per_layer = plots.show_activations({"a": rng.random((4, 4, 20)), "b": rng.random((2, 2, 64))}, channels={"a": 20, "b": 8})
    assert [len([ax for ax in sub.axes if ax.images and ax.get_title()]) for sub in per_layer.subfigs] == [20, 8]
    assert "8 of 64 channels" in per_layer.subfigs[1].get_suptitle()


def test_show_heatmaps_overlays_each_map_scaled_to_its_maximum(rng):
    images = [rng.random((8, 8)), rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)]
    maps = [np.arange(64.0).reshape(8, 8), np.zeros((8, 8))]
    fig = plots.show_heatmaps(images, maps, ["a", "b"], suptitle="where")
    panels = [ax for ax in fig.axes if ax.get_title() in ("a", "b")]
    assert len(panels) == 2 and all(len(ax.images) == 2 for ax in panels)
    assert panels[0].images[1].get_array().max() == 1.0                # scaled to its own maximum
    assert panels[1].images[1].get_array().max() == 0.0                # an empty map stays empty
    assert [ax.get_ylabel() for ax in fig.axes].count("map / its maximum") == 1
    together = plots.show_heatmaps(images, [maps[0], maps[0] / 4], shared=True)
    overlays = [ax.images[1].get_array().max() for ax in together.axes if len(ax.images) == 2]
    assert overlays == [1.0, 0.25]                                      # one scale: the weaker map stays weaker
    assert [ax.get_ylabel() for ax in together.axes].count("map / the largest map's maximum") == 1


def test_show_heatmaps_bad_input(rng):
    with pytest.raises(ValueError, match="as many maps as images"):
        plots.show_heatmaps([rng.random((8, 8))], [])
    with pytest.raises(ValueError, match="titles"):
        plots.show_heatmaps([rng.random((8, 8))], [np.zeros((8, 8))], ["a", "b"])
    with pytest.raises(ValueError, match="height and width"):
        plots.show_heatmaps([rng.random((8, 8))], [np.zeros((4, 4))])
    with pytest.raises(ValueError, match=">= 0"):
        plots.show_heatmaps([rng.random((8, 8))], [-np.ones((8, 8))])
