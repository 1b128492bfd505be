"""Save and reload Keras models, and prove the copy is the same model: formats, equality checks, clear errors.

Keras 3 knows two file formats, chosen by the file name: `.keras` (the whole model: architecture,
weights, compile configuration, optimizer state) and `.weights.h5` (weights only). `.h5` is the
legacy whole-model format: readable here, never written. A SavedModel folder from `model.export()`
is a serving artifact, loaded with `tf.saved_model.load` or `keras.layers.TFSMLayer`.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .paths import artifacts_dir, shown

KERAS = ".keras"
WEIGHTS = ".weights.h5"
LEGACY_H5 = ".h5"
KERAS_ARCHIVE_MEMBERS = ("config.json", "metadata.json", "model.weights.h5")

_SUPPORTED = (f"'{KERAS}' (whole model) or '{WEIGHTS}' (weights only); '{LEGACY_H5}' is the legacy "
              "whole-model format (read only); a folder written by model.export() loads with "
              "tf.saved_model.load or keras.layers.TFSMLayer")


class ModelFileError(ValueError):
    """A model file that exists but cannot be used: truncated, corrupt, or made for another architecture."""


def file_format(path: str | Path) -> str:
    """'keras', 'weights' or 'legacy-h5' from the file name, or a ValueError naming the supported endings."""
    name = Path(path).name
    if name.endswith(KERAS) and len(name) > len(KERAS):
        return "keras"
    if name.endswith(WEIGHTS) and len(name) > len(WEIGHTS):
        return "weights"
    if name.endswith((LEGACY_H5, ".hdf5")) and not name.startswith("."):
        return "legacy-h5"
    raise ValueError(f"{shown(path)} has no supported extension: use {_SUPPORTED}")


def file_size(path: str | Path) -> int:
    """Bytes in a file, or in all files under a folder (a SavedModel export)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
    raise FileNotFoundError(f"{shown(path)} does not exist")


def fresh_folder(name: str) -> Path:
    """An empty sub-folder of the artifacts cache (<data>/artifacts/name), deleted and recreated so reruns start clean."""
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(f"folder name must be one plain folder name, got {name!r}")
    folder = artifacts_dir() / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def save_model(model: Any, path: str | Path) -> Path:
    """Save the whole model (`.keras`) or its weights (`.weights.h5`), creating the folder; return the path."""
    path = Path(path)
    kind = file_format(path)
    if kind == "legacy-h5":
        raise ValueError(f"{shown(path)}: '.h5' whole-model files are legacy and lose the optimizer state; "
                         f"save as '{KERAS}' (or '{WEIGHTS}' for weights only)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "keras":
        model.save(path)
    else:
        model.save_weights(path)
    return path


def _check_readable(path: Path, kind: str) -> None:
    """Raise FileNotFoundError or ModelFileError before Keras gives a vaguer message."""
    if not path.is_file():
        where = "a folder, not a file" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"{shown(path)} {where}")
    if kind == "keras":
        if not zipfile.is_zipfile(path):
            raise ModelFileError(f"{shown(path)} is not a readable .keras archive (truncated or corrupt: "
                                 f"{file_size(path):,} bytes, no zip directory); save the model again")
        with zipfile.ZipFile(path) as archive:
            missing = [name for name in KERAS_ARCHIVE_MEMBERS if name not in archive.namelist()]
        if missing:
            raise ModelFileError(f"{shown(path)} is a zip file but not a Keras model: it lacks {missing}")
    else:
        import h5py

        if not h5py.is_hdf5(path):
            raise ModelFileError(f"{shown(path)} is not a readable HDF5 file (truncated or corrupt: "
                                 f"{file_size(path):,} bytes); save it again")


def _first_line(error: BaseException) -> str:
    """The informative part of a Keras loading error, on one line."""
    text = str(error)
    layer = re.search(r"object <(\w+) name=([^,>]+)", text)
    shapes = re.search(r"variable\.shape=(\([^)]*\)), Received: value\.shape=(\([^)]*\))", text)
    if layer and shapes:
        return (f"layer {layer.group(2)!r} ({layer.group(1)}) has a variable of shape {shapes.group(1)}, "
                f"the file has {shapes.group(2)}")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    detail = next((line for line in lines if "expected" in line), lines[0] if lines else type(error).__name__)
    return detail[:300]


def load_model_checked(path: str | Path, *, compile: bool = True, safe_mode: bool = True,
                       custom_objects: dict[str, Any] | None = None) -> Any:
    """`keras.models.load_model` for `.keras` and legacy `.h5` files, with a clear error for each kind of bad file."""
    import keras

    path = Path(path)
    kind = file_format(path)
    if kind == "weights":
        raise ValueError(f"{shown(path)} holds weights only, no architecture: build the model in code "
                         "(or from its config), then call load_weights_checked(model, path)")
    _check_readable(path, kind)
    try:
        return keras.models.load_model(path, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{shown(path)} has an unreadable config.json ({error}); the file is damaged, "
                             "save it again") from error
    except ValueError as error:
        damaged = re.search(r"Bad CRC-32[^\n]*", str(error))  # Python 3.12+: Keras wraps the BadZipFile
        if damaged:
            raise ModelFileError(f"{shown(path)} could not be read (BadZipFile: {damaged.group(0)}); "
                                 "the file is damaged, save it again") from error
        if kind == "legacy-h5" and compile and "deserialize" in str(error):
            raise ModelFileError(f"{shown(path)}: this Keras cannot rebuild the file's training set-up "
                                 f"({_first_line(error)}); load with compile=False and compile again") from error
        raise
    except (zipfile.BadZipFile, OSError, KeyError, EOFError) as error:
        raise ModelFileError(f"{shown(path)} could not be read ({type(error).__name__}: "
                             f"{_first_line(error)}); the file is damaged, save it again") from error


def load_weights_checked(model: Any, path: str | Path, *, restore_optimizer: bool = True) -> Any:
    """Load `.weights.h5` (or a `.keras` file's weights) into `model`; build its optimizer first so its state is restored too."""
    path = Path(path)
    kind = file_format(path)
    if kind == "legacy-h5":
        raise ValueError(f"{shown(path)} is a legacy whole-model file: load it with load_model_checked")
    _check_readable(path, kind)
    optimizer = getattr(model, "optimizer", None)
    if restore_optimizer and optimizer is not None and not optimizer.built:
        # An unbuilt optimizer has no slots yet, and Keras then skips the saved optimizer state with a warning.
        optimizer.build(model.trainable_variables)
    try:
        model.load_weights(path)
    except ValueError as error:
        raise ModelFileError(f"{shown(path)} does not fit model {model.name!r}: {_first_line(error)} "
                             "(the layers that fit were loaded: rebuild the model before using it)") from error
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        raise ModelFileError(f"{shown(path)} could not be read ({type(error).__name__}: {_first_line(error)}); "
                             "the file is damaged, save it again") from error
    return model


def predictions(model: Any | Callable[[Any], Any], probe: np.ndarray) -> np.ndarray:
    """A model's outputs on `probe` as one float64 NumPy array (a Keras model uses `predict`; any callable is called)."""
    import keras

    if isinstance(model, keras.Model):
        outputs = model.predict(probe, verbose=0)
    elif callable(model):
        outputs = model(probe)
    else:
        raise TypeError(f"expected a keras.Model or a callable, got {type(model).__name__}")
    flat = keras.tree.flatten(outputs)
    if not flat:
        raise ValueError("the model returned no outputs")
    return np.concatenate([np.asarray(part, dtype=np.float64).reshape(len(probe), -1) for part in flat], axis=1)


def assert_same_predictions(a: Any, b: Any, probe: np.ndarray, atol: float = 0.0) -> float:
    """Assert two models (or callables) give the same outputs on `probe`, to within `atol`; return the largest difference."""
    if len(probe) == 0:
        raise ValueError("probe is empty: nothing to compare")
    first, second = predictions(a, probe), predictions(b, probe)
    if first.shape != second.shape:
        raise AssertionError(f"output shapes differ: {first.shape} vs {second.shape}")
    difference = float(np.max(np.abs(first - second)))
    if not difference <= atol:
        raise AssertionError(f"predictions differ by up to {difference:.3g} (allowed: {atol:.3g}) on {len(probe)} inputs")
    return difference


def assert_same_weights(a: Any, b: Any, atol: float = 0.0) -> None:
    """Assert two models hold the same weights, array by array, to within `atol`."""
    first, second = a.get_weights(), b.get_weights()
    if len(first) != len(second):
        raise AssertionError(f"{len(first)} weight arrays vs {len(second)}")
    for index, (x, y) in enumerate(zip(first, second)):
        if x.shape != y.shape:
            raise AssertionError(f"weight array {index}: shape {x.shape} vs {y.shape}")
        difference = float(np.max(np.abs(x - y))) if x.size else 0.0
        if not difference <= atol:
            raise AssertionError(f"weight array {index} differs by up to {difference:.3g} (allowed: {atol:.3g})")


def optimizer_state(model: Any) -> dict[str, np.ndarray]:
    """The optimizer's variables by path ('adam/iteration', 'adam/conv_kernel_momentum', ...); empty if none."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return {}
    return {variable.path: np.array(variable.numpy()) for variable in optimizer.variables}


def assert_same_optimizer_state(a: Any, b: Any) -> None:
    """Assert two models' optimizers hold the same variables with equal values (step count, moments, ...)."""
    first, second = optimizer_state(a), optimizer_state(b)
    if len(first) != len(second):
        raise AssertionError(f"optimizer state differs: {len(first)} variables vs {len(second)}")
    for (name, x), y in zip(first.items(), second.values()):
        if x.shape != y.shape or not np.array_equal(x, y):
            raise AssertionError(f"optimizer variable {name!r} differs")


def round_trip(model: Any, path: str | Path, probe: np.ndarray, atol: float = 0.0) -> Any:
    """Save `model` to `path`, load it back, assert same predictions (and optimizer state); return the copy."""
    import keras

    path = save_model(model, path)
    if file_format(path) == "keras":
        copy = load_model_checked(path)
    else:
        copy = keras.models.clone_model(model)  # same architecture, fresh weights
        if getattr(model, "compiled", False):
            copy.compile_from_config(model.get_compile_config())
        load_weights_checked(copy, path)
    assert_same_predictions(model, copy, probe, atol=atol)
    if getattr(model, "optimizer", None) is not None and model.optimizer.built:
        assert_same_optimizer_state(model, copy)
    return copy


def cached_model(path: str | Path, build_and_train: Callable[[], Any], verbose: bool = True) -> tuple[Any, bool]:
    """Load the `.keras` model at `path`, or build, train and save it there; returns (model, was_cached).

    A damaged cache file is reported in one line and replaced, so a killed run never blocks the next.
    """
    path = Path(path)
    if file_format(path) != "keras":
        raise ValueError(f"{shown(path)}: a cached model must be a whole-model '{KERAS}' file")
    if path.is_file():
        try:
            model = load_model_checked(path)
        except ModelFileError as error:
            print(f"NOTE: rebuilding the cached model: {error}")
        else:
            if verbose:
                print(f"loaded the cached model from {shown(path)}")
            return model, True
    model = build_and_train()
    partial = path.with_name(path.stem + ".partial" + KERAS)
    save_model(model, partial)       # written under another name, then moved: never a half-written cache
    partial.replace(path)
    if verbose:
        print(f"trained and saved to {shown(path)}")
    return model, False
