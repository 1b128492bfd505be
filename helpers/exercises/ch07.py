"""Chapter 07's exercises: a weights file by its proper name, Adam's state restored with the weights, an exported
model served."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from helpers.exercises import NotYet, exercise, same_arrays


@exercise(
    "07.1",
    why="save_weights stores numbers only, and Keras 3 wants that said in the name: a file ending in .weights.h5 "
        "(or .weights.json, sharded), which a model of the same architecture reads back with load_weights.",
    hint="import tempfile, then make a folder of your own with tempfile.mkdtemp() (the chapter's folder is removed at "
         "the end), name the file inside it so that it ends in .weights.h5, and call model.save_weights (not "
         "model.save) with that path.",
    scaffold="weights_file = ...  # a path in a new temporary folder, where model.save_weights wrote model's weights",
    solution="import tempfile\n\n"
             "weights_file = Path(tempfile.mkdtemp()) / \"exercise.weights.h5\"\n"
             "model.save_weights(weights_file)\n"
             "print(weights_file.name, saving.file_size(weights_file), \"bytes\")",
    context={"model": "model", "build": "build_cnn", "chapter_folder": "folder"},
)
def weights_by_name(weights_file, *, model, build, chapter_folder):
    """A weights file of `model`, named as Keras 3 requires."""
    import h5py

    if not isinstance(weights_file, (str, Path)):
        raise NotYet(f"`weights_file` should be the file's path, got {type(weights_file).__name__}")
    path = Path(weights_file)
    if path.is_dir():
        raise NotYet(f"{path} is a folder; name a file inside it, ending in .weights.h5")
    if not path.name.endswith((".weights.h5", ".weights.json")):
        raise NotYet(f"{path.name!r} does not end in .weights.h5, the ending save_weights requires in Keras 3 "
                     "(or .weights.json with max_shard_size); it refuses other names with a ValueError")
    if path.resolve().is_relative_to(Path(chapter_folder).resolve()):
        raise NotYet("this file lies in the chapter's folder, which its last cell removes; use a folder of your own "
                     "(tempfile.mkdtemp())")
    if not path.is_file():
        raise NotYet(f"there is no file at {path}: call model.save_weights(weights_file) after naming it")
    if path.suffix == ".h5":
        with h5py.File(path, "r") as h5_file:
            whole_model = "model_config" in h5_file.attrs
        if whole_model:
            raise NotYet("this is a whole model in the legacy .h5 format: model.save picks the format by the ending. "
                         "Use model.save_weights; and as section 7 showed, that .h5 save took the optimizer out of "
                         "`model`'s compile settings (rerun the chapter to restore them)")
    copy = build(seed=1)
    copy.load_weights(path)
    if not same_arrays(copy.get_weights(), model.get_weights()):
        raise NotYet("the file holds other weights than `model`'s: save the weights of `model`, the trained one")


@exercise(
    "07.2",
    why="A weights file holds the optimizer's arrays too, but load_weights can only fill arrays that exist: build "
        "the optimizer first and training resumes where it stopped, with Adam's step count and averages.",
    hint="Section 4 did it: a fresh build_cnn(seed=1), then its optimizer.build(its trainable_variables), then "
         "load_weights from a weights file of `model` (save one into a folder from tempfile.mkdtemp() first, after "
         "import tempfile).",
    scaffold="resumed_from_file = ...  # a fresh build_cnn(seed=1) with model's weights AND Adam state, from a file",
    solution="import tempfile\n\n"
             "state_file = Path(tempfile.mkdtemp()) / \"state.weights.h5\"\n"
             "model.save_weights(state_file)\n"
             "resumed_from_file = build_cnn(seed=1)\n"
             "resumed_from_file.optimizer.build(resumed_from_file.trainable_variables)  # Adam's arrays first ...\n"
             "resumed_from_file.load_weights(state_file)                   # ... then the file fills them\n"
             "print(\"optimizer steps:\", int(resumed_from_file.optimizer.iterations.numpy()))",
    context={"model": "model", "restored": "restored"},
)
def optimizer_state_restored(resumed_from_file, *, model, restored):
    """A fresh model with `model`'s weights and optimizer state."""
    import keras

    if not isinstance(resumed_from_file, keras.Model):
        raise NotYet(f"`resumed_from_file` should be a Keras model, got {type(resumed_from_file).__name__}")
    if resumed_from_file is model:
        raise NotYet("`resumed_from_file` is `model` itself; build a fresh one with build_cnn(seed=1) and load into "
                     "it")
    if resumed_from_file is restored:
        raise NotYet("this is section 4's `restored`; build a fresh one yourself, as section 4 did")
    if not same_arrays(resumed_from_file.get_weights(), model.get_weights()):
        raise NotYet("its weights differ from `model`'s: load_weights from a file that `model` saved")
    steps, expected = int(resumed_from_file.optimizer.iterations.numpy()), int(model.optimizer.iterations.numpy())
    if steps == 0:
        raise NotYet("the weights arrived but Adam's state did not (0 steps): it comes only from a file, and "
                     "load_weights fills it only if resumed_from_file.optimizer.build(resumed_from_file."
                     "trainable_variables) ran first")
    if steps != expected:
        raise NotYet(f"the optimizer has taken {steps} steps, `model`'s {expected}: load a file saved from `model` "
                     "after its training")
    if not same_arrays(resumed_from_file.optimizer.variables, model.optimizer.variables):
        raise NotYet("Adam's averages differ from `model`'s: load them from a file of `model`")


@exercise(
    "07.3",
    why="An exported SavedModel is the forward pass as a TensorFlow graph: it serves predictions without Keras or "
        "the model's Python code, equal to the Keras model's up to float rounding (section 6 saw why they can differ "
        "in the last bits: other batch sizes).",
    hint="import tempfile; model.export(folder) writes it (to a folder inside tempfile.mkdtemp()); "
         "tf.saved_model.load(str(folder)) reads it back, and its serve function takes a batch of images.",
    scaffold="serving_graph = ...  # model exported to a new temporary folder, loaded back with tf.saved_model.load",
    solution="import tempfile\n\n"
             "export_folder = Path(tempfile.mkdtemp()) / \"exported\"\n"
             "model.export(export_folder, verbose=False)\n"
             "serving_graph = tf.saved_model.load(str(export_folder))\n"
             "gap = np.abs(serving_graph.serve(probe).numpy() - model.predict(probe, verbose=0)).max()\n"
             "print(f\"largest difference on the probe: {gap:.1e}\")",
    context={"model": "model", "images": "probe"},
)
def exported_and_served(serving_graph, *, model, images):
    """`model` exported and loaded back as a TensorFlow SavedModel that serves the same predictions."""
    import keras

    if isinstance(serving_graph, (str, Path)):
        raise NotYet("this is the folder's path; load it with tf.saved_model.load(str(folder))")
    if isinstance(serving_graph, (keras.Model, keras.layers.Layer)):
        raise NotYet(f"this goes through Keras ({type(serving_graph).__name__}); load the exported folder with "
                     "TensorFlow alone: tf.saved_model.load(str(folder))")
    if callable(serving_graph) and not hasattr(serving_graph, "serve"):
        raise NotYet("this is one of the loaded object's functions; pass the loaded object itself, the one "
                     "tf.saved_model.load returned")
    if not hasattr(serving_graph, "serve"):
        raise NotYet(f"`serving_graph` has no serve function ({type(serving_graph).__name__}): load the folder "
                     "model.export wrote")
    predicted = np.asarray(serving_graph.serve(np.asarray(images)))
    expected = np.asarray(model.predict(np.asarray(images), verbose=0))
    if predicted.shape != expected.shape or not np.allclose(predicted, expected, atol=1e-6):
        raise NotYet("its predictions differ from `model`'s: export `model` itself, after its training")


def _all_layers(model):
    """Every layer of `model`, nested models' layers included."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def _load_plainly(path: Path, classes: list[str]):
    """keras.models.load_model(path) with no other argument, or NotYet saying why it failed."""
    import keras

    try:
        return keras.models.load_model(path)
    except (TypeError, ValueError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        cause = next((line for line in reversed(lines) if line.startswith("Exception encountered")), lines[-1])
        if "unexpected keyword argument" in cause:
            raise NotYet(f"the class is found but cannot be rebuilt ({cause[:160]}): let __init__ accept **kwargs and "
                         "pass them to super().__init__, and return your own arguments from get_config") from None
        if "Could not locate" in str(error) or "could not be deserialized" in str(error):
            raise NotYet(f"load_model without custom_objects cannot find {', '.join(classes) or 'your class'}: "
                         "decorate the class with @keras.saving.register_keras_serializable(package=...) (for "
                         "example package=\"course\") before building the model, then save it again") from None
        raise NotYet(f"the file does not load with load_model alone: {cause[:160]}") from None


@exercise(
    "07.4",
    why="A registered layer class keeps code out of the file and the load call plain: the file names the class "
        "('package>Name'), your program supplies its code, and load_model needs neither custom_objects nor "
        "safe_mode=False.",
    hint="Write a small layer class whose call returns 1.0 - inputs (as section 9's Invert), decorate it with "
         "@keras.saving.register_keras_serializable(package=\"course\") (any package name will do), build "
         "keras.Model(inputs, ...) with it, save it to a .keras file in a folder from tempfile.mkdtemp(), and load it "
         "back with keras.models.load_model and no other argument.",
    scaffold="registered_file = ...  # the .keras file of a model computing 1 - x with a registered layer class\n"
             "registered_copy = ...  # that file loaded back with keras.models.load_model(registered_file) alone",
    solution="import tempfile\n\n\n"
             "@keras.saving.register_keras_serializable(package=\"course\")\n"
             "class RegisteredInvert(keras.layers.Layer):\n"
             "    \"\"\"1 - x, registered: load_model finds the class by its registered name.\"\"\"\n\n"
             "    def call(self, inputs):\n"
             "        return 1.0 - inputs\n\n\n"
             "registered_file = Path(tempfile.mkdtemp()) / \"registered.keras\"\n"
             "keras.Model(inputs, RegisteredInvert(name=\"invert\")(inputs)).save(registered_file)\n"
             "registered_copy = keras.models.load_model(registered_file)   # no custom_objects, safe_mode on\n"
             "with zipfile.ZipFile(registered_file) as archive:\n"
             "    entry = json.loads(archive.read(\"config.json\"))[\"config\"][\"layers\"][1]\n"
             "print(\"class_name:\", entry[\"class_name\"], \"  registered_name:\", entry[\"registered_name\"])",
    context={"images": "probe"},
)
def registered_layer_class(registered_file, registered_copy, *, images):
    """A .keras file of a model computing 1 - x with a registered layer class, and that file loaded back plainly."""
    import keras

    if not isinstance(registered_file, (str, Path)):
        raise NotYet(f"`registered_file` should be the path of the .keras file you saved, got "
                     f"{type(registered_file).__name__}")
    path = Path(registered_file)
    if path.suffix != ".keras":
        raise NotYet(f"{path.name!r} does not end in .keras: save the whole model with model.save(path) to a .keras "
                     "file")
    if not path.is_file():
        raise NotYet(f"there is no file at {path}: save the model there with model.save(registered_file)")
    if not isinstance(registered_copy, keras.Model):
        raise NotYet(f"`registered_copy` should be the model keras.models.load_model(registered_file) returned, got "
                     f"{type(registered_copy).__name__}")
    if any(isinstance(layer, keras.layers.Lambda) for layer in _all_layers(registered_copy)):
        raise NotYet("it holds a Lambda layer; the exercise asks for a layer class of your own instead (a lambda's "
                     "code is stored in the file, a named function must be passed or registered)")
    own_classes = [type(layer).__name__ for layer in _all_layers(registered_copy)
                   if type(layer).__module__.split(".")[0] != "keras"]
    images = np.asarray(images)
    for name, model in (("registered_copy", registered_copy), ("the file", _load_plainly(path, own_classes))):
        predicted = np.asarray(model.predict(images, verbose=0))
        if predicted.shape != images.shape:
            raise NotYet(f"{name} maps the probe images {images.shape} to {predicted.shape}: build the model on "
                         "section 9's `inputs`, shape (28, 28, 1), and keep the image's shape")
        if not np.allclose(predicted, 1.0 - images, atol=1e-6):
            raise NotYet(f"{name} does not compute 1 - x on the probe images: the layer's call should return "
                         "1.0 - inputs")
