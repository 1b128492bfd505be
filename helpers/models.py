"""Looking at Keras models: the layer graph as text, or as a picture when pydot and Graphviz are installed."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _history_names(node: Any) -> list[str]:
    """Names of the layers whose outputs appear anywhere in one serialised inbound node."""
    if isinstance(node, dict):
        history = node.get("config", {}).get("keras_history") if node.get("class_name") == "__keras_tensor__" else None
        if history:
            return [history[0]]
        return [name for value in node.values() for name in _history_names(value)]
    if isinstance(node, (list, tuple)):
        return [name for value in node for name in _history_names(value)]
    return []


def layer_inputs(model: Any) -> dict[str, list[str]]:
    """For a functional model: {layer name: names of the layers feeding it}, in the model's layer order."""
    config = model.get_config()
    if "layers" not in config or "input_layers" not in config:
        raise ValueError("layer_inputs needs a functional keras.Model (built with keras.Input)")
    return {layer["name"]: list(dict.fromkeys(_history_names(layer.get("inbound_nodes", []))))
            for layer in config["layers"]}


def _output_histories(outputs: Any) -> list[list[Any]]:
    """The config's output_layers as a list of [name, node, tensor] whether saved as a dict, list or one entry."""
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    if outputs and isinstance(outputs[0], str):
        outputs = [outputs]
    return list(outputs)


def describe_graph(model: Any) -> str:
    """The model's graph as text: one line per layer with its type, output shape and the layers it reads."""
    inputs = layer_inputs(model)
    outputs = {history[0] for history in _output_histories(model.get_config()["output_layers"])}
    rows = [(layer.name, type(layer).__name__, str(tuple(layer.output.shape)),
             ", ".join(inputs[layer.name]) or "(model input)", "  -> model output" if layer.name in outputs else "")
            for layer in model.layers]
    # Each column as wide as its longest entry, so long layer names do not push the next columns out of line.
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return "\n".join(f"{name:<{widths[0]}}  {kind:<{widths[1]}}  {shape:<{widths[2]}}  <- {source}{mark}"
                     for name, kind, shape, source, mark in rows)


def can_plot_model() -> bool:
    """True when keras.utils.plot_model can draw: pydot importable and Graphviz's `dot` found."""
    try:
        import pydot

        pydot.Dot.create(pydot.Dot())
    except Exception:  # ImportError, or pydot's error when the dot program is missing
        return False
    return True


def plot_model_file(model: Any, path: Path, dpi: int = 72) -> Path | None:
    """Draw the model with keras.utils.plot_model into `path` if Graphviz is available; else return None."""
    if dpi < 10:
        raise ValueError(f"dpi must be at least 10, got {dpi}")
    if not can_plot_model():
        return None
    import keras

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keras.utils.plot_model(model, to_file=str(path), show_shapes=True, show_layer_names=True, dpi=dpi)
    return path


def chapter05_cnn(n_outputs: int = 10, activation: str = "softmax", seed: int | None = None) -> Any:
    """Chapter 05's CNN on 28x28 gray images (the worker script's builder) with a new head, optionally seeded."""
    import keras

    from .fashion_worker import build_cnn

    if n_outputs < 1:
        raise ValueError(f"n_outputs must be at least 1, got {n_outputs}")
    if seed is not None:
        keras.utils.set_random_seed(seed)
    return build_cnn(n_outputs, activation)
