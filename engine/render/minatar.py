"""MinAtar states as 10x10 grids, one colour per channel (no GL needed).

A MinAtar observation is a (10, 10, C) boolean grid; a synthetic state holds real
values. Intensity mapping: each channel c gets an opacity a_c = clip(value, 0, 1) and
its colour is alpha-blended over the dark background in channel order,
pixel <- pixel * (1 - a_c) + colour_c * a_c, so a real state (0/1 values) looks as
in the game and a synthetic one shows how strongly each cell "is" each object.
Values below 0 or above 1 saturate; `value_range` reports what was clipped.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from engine.render import text

BACKGROUND = np.array([24, 24, 28], np.float32)
GRID = (60, 60, 66)
PALETTE = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (188, 189, 34),
    (23, 190, 207),
)
# Colours by object name, so an object looks the same in every game.
NAMED = {
    "paddle": (31, 119, 180),
    "ball": (255, 127, 14),
    "trail": (120, 120, 130),
    "brick": (214, 39, 40),
    "player": (31, 119, 180),
    "enemy": (214, 39, 40),
    "gold": (230, 200, 30),
    "cannon": (31, 119, 180),
    "alien": (44, 160, 44),
    "chicken": (230, 200, 30),
    "car": (214, 39, 40),
}
MAPPING = (
    "colour opacity = clip(value, 0, 1) per channel, channels alpha-blended "
    "in order over the background"
)


def channel_colours(names) -> list[tuple[int, int, int]]:
    out = []
    for i, n in enumerate(names):
        out.append(NAMED.get(n, PALETTE[i % len(PALETTE)]))
    # Several channels of one game may share a colour by name: keep them distinct.
    seen = set()
    for i, col in enumerate(out):
        if col in seen:
            out[i] = PALETTE[(i + 4) % len(PALETTE)]
        seen.add(out[i])
    return out


def grid_rgb(obs: np.ndarray, colours) -> np.ndarray:
    """(10, 10, 3) float colours of a (10, 10, C) state (see the module docstring)."""
    obs = np.asarray(obs, np.float32)
    alpha = np.clip(obs, 0.0, 1.0)
    pix = np.broadcast_to(BACKGROUND, (*obs.shape[:2], 3)).copy()
    for c in range(obs.shape[-1]):
        a = alpha[..., c : c + 1]
        pix = pix * (1 - a) + np.asarray(colours[c], np.float32) * a
    return pix


def draw(obs, channel_names, size=(240, 240), grid_lines: bool = True) -> np.ndarray:
    """RGB image (H, W, 3) of one MinAtar state: square cells, as large as `size`
    allows, centred on the background colour."""
    obs = np.asarray(obs, np.float32)
    rows, cols = obs.shape[:2]
    w, h = int(size[0]), int(size[1])
    cell = max(1, min(w // cols, h // rows))
    gw, gh = cell * cols, cell * rows
    pix = grid_rgb(obs, channel_colours(channel_names))
    grid = Image.fromarray(np.round(pix).astype(np.uint8)).resize(
        (gw, gh), Image.NEAREST
    )
    if grid_lines and cell >= 4:
        d = ImageDraw.Draw(grid)
        for i in range(1, cols):
            d.line([(i * cell, 0), (i * cell, gh)], fill=GRID, width=1)
        for i in range(1, rows):
            d.line([(0, i * cell), (gw, i * cell)], fill=GRID, width=1)
    img = Image.new("RGB", (w, h), tuple(int(v) for v in BACKGROUND))
    img.paste(grid, ((w - gw) // 2, (h - gh) // 2))
    return np.asarray(img)


def value_range(obs) -> tuple[float, float]:
    obs = np.asarray(obs)
    return float(obs.min()), float(obs.max())


def legend(channel_names, width: int, size: int = 13) -> np.ndarray:
    """A band with a colour swatch and the name of every channel."""
    items = []
    for name, col in zip(channel_names, channel_colours(channel_names), strict=True):
        items.append((name, col, text.text_size(name, size)[0] + 26))
    lh = text.line_height(size) + 4
    rows, x = 1, 6
    for _, _, iw in items:
        if x + iw > width - 6 and x > 6:
            rows, x = rows + 1, 6
        x += iw
    img = Image.new("RGB", (width, rows * lh + 4), text.PAPER)
    d = ImageDraw.Draw(img)
    x, y = 6, 2
    for name, col, iw in items:
        if x + iw > width - 6 and x > 6:
            x, y = 6, y + lh
        d.rectangle([x, y + 2, x + 14, y + 16], fill=col, outline=(0, 0, 0))
        text.draw(img, (x + 19, y + 2), name, size)
        x += iw
    return np.asarray(img)
