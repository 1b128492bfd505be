"""Chapter 09's training windows drawn one after another in one process, as `make_windows` first did.

`make_windows` now draws each window's random numbers first and renders the windows on every core;
the tests check that it returns exactly these windows, so the detector trains on the same data.
"""

from __future__ import annotations

import numpy as np

from helpers.digit_detector import BACKGROUND, PATCH
from helpers.scenes import BACKGROUND_KINDS, check_digits, luminance, make_background, paste_digit, restyle


def sequential_windows(rng: np.random.Generator, digits: np.ndarray, labels: np.ndarray, n: int,
                 backgrounds: tuple[str, ...] = ("gradient",), restyled: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """n training windows (n, 28, 28, 1) in gray, and targets (n, 6): class, box in the window (0-1), box weight.

    Half show a digit at the window's scale (0.82-1.22) and centre (+-3 px), sometimes with a neighbour;
    the rest are background, or digits too far off centre or at the wrong scale (labelled background).
    Backgrounds are cut from a bank of generated backgrounds of the kinds in `backgrounds`; a fraction
    `restyled` of the digits is drawn in another hand first (`scenes.restyle`).
    """
    import cv2

    check_digits(digits, labels)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not 0 <= restyled <= 1:
        raise ValueError(f"restyled must be a fraction in [0, 1], got {restyled}")
    if not backgrounds or any(kind not in BACKGROUND_KINDS for kind in backgrounds):
        raise ValueError(f"backgrounds must be kinds among {BACKGROUND_KINDS}, got {backgrounds}")
    x = np.empty((n, PATCH, PATCH, 1), np.float32)
    y = np.zeros((n, 6), np.float32)
    canvas = 2 * PATCH
    # the model sees gray, and gray is linear in the colours: drawing in gray gives the same windows, faster
    bank = [luminance(make_background(rng, 192, 192, backgrounds[k % len(backgrounds)]))
            for k in range(max(4, min(64, n // 200), len(backgrounds)))]
    for i in range(n):
        zoom = rng.uniform(1.0, 2.9)          # the pyramid level's downscaling, applied after drawing
        side = int(round(canvas * zoom))
        source = bank[int(rng.integers(len(bank)))]
        top, left = rng.integers(0, 192 - side + 1, 2)
        image = source[top:top + side, left:left + side].copy()
        kind = rng.uniform()
        index = int(rng.integers(len(digits)))
        centre = canvas / 2
        if kind < 0.5:                          # a digit this window should report
            scale, offset = rng.uniform(0.82, 1.22), rng.uniform(-3, 3, 2)
        elif kind < 0.65:                       # a digit too far off centre
            scale = rng.uniform(0.6, 1.6)
            offset = rng.uniform(-20, 20, 2)
            offset[rng.integers(2)] = rng.choice([-1, 1]) * rng.uniform(8, 20)
        elif kind < 0.8:                        # a digit at the wrong scale
            scale = rng.choice([rng.uniform(0.3, 0.58), rng.uniform(1.7, 2.6)])
            offset = rng.uniform(-4, 4, 2)
        else:                                   # background only
            scale, offset = 0.0, np.zeros(2)
        box = None
        if scale:
            frame = PATCH * scale
            digit = restyle(digits[index], rng) if restyled and rng.uniform() < restyled else digits[index]
            box = paste_digit(image, digit, frame * zoom, tuple((centre + offset) * zoom), rng)
            if kind < 0.65 and rng.uniform() < 0.4:   # a neighbour just outside this digit's frame
                other = rng.uniform(0.8, 1.4) * PATCH
                gap = (frame + other) / 2 + rng.uniform(4, 16)
                shift = rng.uniform(-0.5, 0.5, 2) * other
                shift[rng.integers(2)] = rng.choice([-1, 1]) * gap
                paste_digit(image, digits[int(rng.integers(len(digits)))], other * zoom,
                            tuple((centre + offset + shift) * zoom), rng)
        small = cv2.resize(image, (canvas, canvas), interpolation=cv2.INTER_AREA)
        start = (canvas - PATCH) // 2
        x[i, ..., 0] = small[start:start + PATCH, start:start + PATCH]
        if kind < 0.5 and box is not None:
            y[i] = [labels[index], *np.clip(box / zoom - start, -4, PATCH + 4) / PATCH, 1.0]
        else:
            y[i, 0] = BACKGROUND
    return x, y
