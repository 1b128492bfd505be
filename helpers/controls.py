"""Live controls for the chapters: ipywidgets in JupyterLab, one static picture in headless runs.

A control cell calls `live(draw, controls)`, where `draw` is a plain, tested function from the controls'
values to a matplotlib figure. In JupyterLab the controls appear above the figure, and every change
redraws it. In a headless run (the tests, the regeneration of stored outputs, the benchmark: they set
COURSE_HEADLESS=1) only the figure for the controls' starting values is drawn, so the stored notebook
holds that picture and no widget state.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

import numpy as np

HEADLESS_ENV = "COURSE_HEADLESS"


def headless() -> bool:
    """True in the course's headless runs (COURSE_HEADLESS=1): draw the starting picture, show no widgets."""
    return os.environ.get(HEADLESS_ENV) == "1"


def live(draw: Callable[..., object], controls: Mapping[str, object], above: Sequence[object] = (),
         columns: int | None = None) -> None:
    """Show `draw(**values)` for the controls' values; in JupyterLab show the controls too and redraw on every change."""
    import ipywidgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    if not controls:
        raise ValueError("live needs at least one control")
    if headless():
        draw(**{name: control.value for name, control in controls.items()})
        plt.show()
        return

    def redraw(**values):
        draw(**values)
        plt.show()

    output = ipywidgets.interactive_output(redraw, dict(controls))
    widgets = list(controls.values())
    grid = (ipywidgets.GridBox(widgets, layout=ipywidgets.Layout(grid_template_columns=f"repeat({columns}, 9em)"))
            if columns else ipywidgets.VBox(widgets))
    display(ipywidgets.VBox([*above, grid, output]))


def kernel_controls(kernel: np.ndarray) -> dict[str, object]:
    """One number box per weight of a 3x3 kernel, named 'w00' .. 'w22' (row, column), starting at its values."""
    import ipywidgets

    kernel = np.asarray(kernel, dtype=float)
    if kernel.shape != (3, 3):
        raise ValueError(f"the kernel editor takes a 3x3 kernel, got shape {kernel.shape}")
    return {f"w{row}{col}": ipywidgets.FloatText(value=float(kernel[row, col]), step=0.5,
                                                 layout=ipywidgets.Layout(width="8em"))
            for row in range(3) for col in range(3)}


def kernel_of(**weights: float) -> np.ndarray:
    """The 3x3 kernel from the editor's values 'w00' .. 'w22'."""
    names = [f"w{row}{col}" for row in range(3) for col in range(3)]
    if sorted(weights) != names:
        raise ValueError(f"need the nine weights {names}, got {sorted(weights)}")
    return np.array([weights[name] for name in names], dtype=float).reshape(3, 3)


def preset_menu(controls: Mapping[str, object], kernels: Mapping[str, np.ndarray], start: str | None = None):
    """A menu of named 3x3 kernels, showing `start` (the editor's starting kernel), that fills the boxes with the chosen one."""
    import ipywidgets

    choices = {name: np.asarray(k, dtype=float) for name, k in kernels.items() if np.shape(k) == (3, 3)}
    if not choices:
        raise ValueError("preset_menu needs at least one 3x3 kernel")
    if start is not None and start not in choices:
        raise ValueError(f"start must name one of the 3x3 kernels {list(choices)}, got {start!r}")
    menu = ipywidgets.Dropdown(options=list(choices), value=start, description="preset")

    def fill(change):
        for (row, col), value in np.ndenumerate(choices[change["new"]]):
            controls[f"w{row}{col}"].value = float(value)

    menu.observe(fill, names="value")
    return menu
