"""Chapter 06's exercises: the dense layer at another image size, a brightness layer for 0-1 images, a bad file
found and moved aside, single images shuffled across batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from helpers.exercises import NotYet, as_number, exercise

BLOCKS, LAST_FILTERS, UNITS = 3, 64, 128      # build_cnn's defaults: three conv + 2x2 pooling blocks, 64 maps, Dense 128


@exercise(
    "06.1",
    why="Flatten hands the dense layer every value of the last feature maps, so its weights grow with the square of "
        "the image side: that layer, not the convolutions, is where a larger input costs parameters.",
    hint="Three 2 x 2 poolings divide the side by 8: 128 -> 16. Flatten then gives 16 x 16 x 64 values, and the "
         "Dense layer has one weight per value and unit, plus a bias per unit (128 units).",
    scaffold="hidden_params_128 = ...  # parameters of build_cnn's Dense(128) after Flatten, for 128 x 128 images",
    solution="side_128 = 128 // 8                                  # three 2x2 poolings\n"
             "hidden_params_128 = (side_128 * side_128 * 64 + 1) * 128  # a weight per value and unit, + a bias per unit\n"
             "print(f\"{hidden_params_128:,} against {(IMAGE_SIZE // 8) ** 2 * 64 * 128 + 128:,} at {IMAGE_SIZE} px\")",
    context={"image_size": "IMAGE_SIZE"},
)
def hidden_layer_at_128(hidden_params_128, *, image_size):
    """The Dense(128) layer's parameters for 128 x 128 images, by hand."""
    value = as_number(hidden_params_128, "hidden_params_128")

    def dense(side: int) -> int:
        return (side * side * LAST_FILTERS + 1) * UNITS

    if value == dense(128 // 8):
        return
    if value == (128 // 8) ** 2 * LAST_FILTERS * UNITS:
        raise NotYet(f"{value:,.0f} counts the weights only; each of the {UNITS} units also has a bias")
    if value == (128 // 8) ** 2 * LAST_FILTERS:
        raise NotYet(f"{value:,.0f} is the number of values Flatten hands on; the Dense layer has a weight for each "
                     f"value and each of its {UNITS} units")
    if value == dense(image_size // 8):
        raise NotYet(f"{value:,.0f} is the count at this run's {image_size} px; the question asks for 128 x 128")
    convolutions = (3 * 3 * 3 + 1) * 16 + (3 * 3 * 16 + 1) * 32 + (3 * 3 * 32 + 1) * 64
    if value == convolutions + dense(128 // 8) + (UNITS + 1) * 5:
        raise NotYet(f"{value:,.0f} counts the whole model; the question asks for the Dense(128) layer alone")
    if value in (dense(128 // 4), dense(128 // 2), dense(128 // 6), dense(128)):
        raise NotYet("each of the three 2 x 2 poolings halves the side: 128 / 2 / 2 / 2 = 16")
    raise NotYet(f"the Dense layer does not have {value:,.0f} parameters at 128 px: (values after Flatten + 1) x units")


@exercise(
    "06.2",
    why="RandomBrightness adds up to `factor` times the width of `value_range` and clips to that range, so the range "
        "must match the images' scale: its default, (0, 255), is wrong for images already rescaled to 0-1.",
    hint="RandomBrightness(factor, value_range=...): factor is a fraction (0.2 for 20 %) and the default value_range "
         "is (0, 255); images in 0-1 need value_range=(0, 1).",
    scaffold="brightness_01 = ...  # a RandomBrightness layer for images in 0-1: shifts by up to 20 % of that range",
    solution="brightness_01 = layers.RandomBrightness(0.2, value_range=(0, 1))\n"
             "scaled = photo / 255.0\n"
             "fig = plots.show_images([brightness_01(scaled, training=True)[0].numpy() for _ in range(3)],\n"
             "                        [\"brighter or darker\"] * 3, ncols=3, size=2.2)",
)
def brightness_for_0_1(brightness_01):
    """A RandomBrightness layer for images in 0-1 with factor 0.2."""
    import keras

    layer = brightness_01
    if not isinstance(layer, keras.layers.RandomBrightness):
        raise NotYet(f"`brightness_01` should be a layers.RandomBrightness layer, got {type(layer).__name__}")
    low, high = (float(value) for value in layer.value_range)
    lower, upper = (float(value) for value in layer.factor)
    if (low, high) == (0.0, 255.0):
        if max(abs(lower), abs(upper)) * 255 <= 1.0:
            raise NotYet("a smaller factor on the default value_range (0, 255) does shift by up to 0.2, but the layer "
                         "still clips to 0-255; value_range=(0, 1) with factor=0.2 says what you mean")
        raise NotYet("value_range is (0, 255), the default: on images in 0-1 the shift is drawn from up to 20 % of "
                     "255 = 51, which sends most pixels to 0 or far past 1; set value_range=(0, 1)")
    if (low, high) != (0.0, 1.0):
        raise NotYet(f"value_range should be (0, 1), the scale of the images, got ({low:g}, {high:g})")
    if not np.allclose((lower, upper), (-0.2, 0.2)):
        raise NotYet(f"the layer changes brightness by {lower:+g} to {upper:+g} of the range; 20 % either way is "
                     "factor=0.2")


@exercise(
    "06.3",
    why="A folder of images collected by hand nearly always holds a file that is not an image; found before training, "
        "it costs one line, found by the loader it stops an epoch with a message that does not name the file.",
    hint="copy_folder = Path(tempfile.mkdtemp()) / 'copy' names a folder that does not exist yet; "
         "shutil.copytree(source.folder / class_names[0], copy_folder / class_names[0]) copies one class into it "
         "(copytree creates the folders); (copy_folder / class_names[0] / 'extra.jpg').write_text('not an image') "
         "adds the bad file; then run image_folders.check_image_folder(copy_folder), once.",
    scaffold="copy_folder = ...  # a new folder inside tempfile.mkdtemp(); copy one class folder of source.folder into it\n"
             "# ... write a text file named extra.jpg into that class folder of the copy ...\n"
             "found = ...  # what image_folders.check_image_folder(copy_folder) returns",
    solution="copy_folder = Path(tempfile.mkdtemp()) / \"copy\"\n"
             "shutil.copytree(source.folder / class_names[0], copy_folder / class_names[0])   # one class is enough\n"
             "(copy_folder / class_names[0] / \"extra.jpg\").write_text(\"not an image\")\n"
             "found = image_folders.check_image_folder(copy_folder)\n"
             "print([(item.path.name, item.reason) for item in found])",
    context={"original": "source.folder"},
)
def bad_file_moved_aside(copy_folder, found, *, original):
    """A copy of the data with a fake extra.jpg, checked: the file is reported and moved to <copy>_rejected."""
    if not isinstance(copy_folder, (str, Path)):
        raise NotYet(f"`copy_folder` should be the copy's path, got {type(copy_folder).__name__}")
    copy_folder = Path(copy_folder)
    if copy_folder.resolve() == Path(original).resolve():
        raise NotYet("`copy_folder` is the chapter's own folder; work on a copy, so the chapter's data stay as they are")
    if not copy_folder.is_dir():
        raise NotYet(f"there is no folder at {copy_folder}: shutil.copytree(source.folder, copy_folder) makes it")
    if not isinstance(found, list):
        raise NotYet(f"`found` should be the list check_image_folder returns, got {type(found).__name__}")
    named = [item for item in found if Path(getattr(item, "path", "")).name == "extra.jpg"]
    rejected = copy_folder.with_name(copy_folder.name + "_rejected")
    if not named:
        if any(copy_folder.glob("extra.jpg")):
            raise NotYet("extra.jpg lies in the copy's top folder; the check looks inside the class sub-folders")
        if any(rejected.glob("*/extra.jpg")):
            raise NotYet(f"extra.jpg is already in {rejected.name}/: an earlier run of the check moved it, and this "
                         "`found` comes from a later run, which had nothing left to move; run the check once")
        raise NotYet("`found` does not name extra.jpg: write it into a class folder of the copy, then run the check")
    path = Path(named[0].path)
    if not path.resolve().is_relative_to(copy_folder.resolve()):
        raise NotYet(f"`found` names {path}, which is not in the copy; check the copy, not another folder")
    if path.exists():
        raise NotYet(f"{path.name} is still in its class folder: check_image_folder moves bad files aside unless you "
                     "pass move=False")


def _batch_sums(dataset, limit: int = 200) -> list[float]:
    """The sum of each batch's pixels, in the order the dataset yields them (at most `limit` batches)."""
    return [float(np.sum(x)) for x, _ in dataset.take(limit)]


def _stages(dataset) -> list[str]:
    """A tf.data pipeline's stages, last first, as the chapter's `stages` reads them (tf.data's `_inputs()`)."""
    names = []
    while True:
        names.append(type(dataset).__name__.strip("_").removesuffix("Dataset"))
        inputs = dataset._inputs()
        if len(inputs) != 1:
            return names
        dataset = inputs[0]


@exercise(
    "06.4",
    why="shuffle() shuffles the elements it is given: after cache(), train_ds's batches are fixed, so shuffling them "
        "only reorders whole batches; unbatch() first, and every epoch mixes new batches.",
    hint="train_raw yields batches of 32; .unbatch() makes single images, then .cache(), .shuffle(1000, seed=SEED), "
         ".batch(BATCH_SIZE) and .prefetch(AUTOTUNE), under the new name.",
    scaffold="singles = ...  # train_raw's images shuffled one by one each epoch, then batched (train_ds stays as it is)",
    solution="singles = train_raw.unbatch().cache().shuffle(1000, seed=SEED).batch(BATCH_SIZE).prefetch(AUTOTUNE)\n"
             "batch_sums = lambda ds: sorted(float(tf.reduce_sum(x)) for x, _ in ds)   # one number per batch\n"
             "print(batch_sums(train_ds) == batch_sums(train_ds), batch_sums(singles) == batch_sums(singles))",
    context={"batches": "train_ds"},
)
def shuffled_single_images(singles, *, batches):
    """A dataset of the training images, shuffled one by one and batched again."""
    import tensorflow as tf

    if not isinstance(singles, tf.data.Dataset):
        raise NotYet(f"`singles` should be a tf.data.Dataset, got {type(singles).__name__}")
    spec = singles.element_spec
    if not isinstance(spec, tuple) or len(spec) != 2:
        raise NotYet("`singles` should yield (images, labels) pairs, as train_raw does")
    if len(spec[0].shape) == len(batches.element_spec[0].shape) - 1:
        raise NotYet(f"it yields single images of shape {tuple(spec[0].shape)}; batch them again with "
                     ".batch(BATCH_SIZE)")
    stages = _stages(singles)
    if "Unbatch" not in stages:
        raise NotYet("the pipeline has no unbatch(): without it every shuffle or cache works on whole batches")
    above = stages[:stages.index("Unbatch")]            # what comes after unbatch(), last first
    if "Shuffle" not in above:
        raise NotYet("nothing shuffles the single images: add .shuffle(1000, seed=SEED) after unbatch()")
    if "Batch" not in above or above.index("Batch") > above.index("Shuffle"):
        raise NotYet("batch() should come after shuffle(), so each batch is drawn from shuffled single images")
    if "Cache" in above and above.index("Cache") < above.index("Shuffle"):
        raise NotYet("cache() comes after shuffle(): it keeps the first pass's order for every later pass; cache the "
                     "single images before shuffling them")
    first, second, kept = _batch_sums(singles), _batch_sums(singles), _batch_sums(batches)
    count = lambda dataset: sum(int(x.shape[0]) for x, _ in dataset.take(200))   # noqa: E731
    if not np.isclose(sum(first), sum(kept), rtol=1e-5) or count(singles) != count(batches):
        raise NotYet("it yields other images than train_ds; start from train_raw, which holds the training images")
    if sorted(first) == sorted(second):
        raise NotYet("two passes yield the same batches of images: shuffle the single images, after unbatch() and "
                     "before batch()")
