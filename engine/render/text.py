"""Text on pictures with Pillow's built-in font (no font files needed)."""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image, ImageDraw, ImageFont

INK = (20, 20, 20)
PAPER = (255, 255, 255)


@functools.lru_cache(maxsize=16)
def font(size: int = 13) -> ImageFont.ImageFont:
    """Pillow's default font at `size` pixels (bitmap fallback without FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ValueError, OSError):  # Pillow < 10.1 or no FreeType
        return ImageFont.load_default()


def text_size(text: str, size: int = 13) -> tuple[int, int]:
    """(width, height) in pixels of one line of text."""
    left, top, right, bottom = font(size).getbbox(text or " ")
    return int(right - min(left, 0)), int(bottom - min(top, 0))


def line_height(size: int = 13) -> int:
    return text_size("Ag|", size)[1] + 3


def fit(text: str, width: int, size: int = 13) -> str:
    """`text` shortened with an ellipsis so that it fits in `width` pixels."""
    if text_size(text, size)[0] <= width:
        return text
    while text and text_size(text + "...", size)[0] > width:
        text = text[:-1]
    return text + "..."


def wrap(words: list[str], width: int, size: int = 13, sep: str = "  ") -> list[str]:
    """Join `words` into lines no wider than `width` pixels."""
    lines, cur = [], ""
    for w in words:
        trial = w if not cur else cur + sep + w
        if cur and text_size(trial, size)[0] > width:
            lines.append(cur)
            cur = w
        else:
            cur = trial
    if cur:
        lines.append(cur)
    return lines


def draw(
    img: Image.Image, xy, text: str, size: int = 13, fill=INK, anchor: str = "la"
) -> None:
    ImageDraw.Draw(img).text(xy, text, font=font(size), fill=fill, anchor=anchor)


def overlay(
    frame: np.ndarray, lines: list[str], size: int | None = None, corner: str = "tl"
) -> np.ndarray:
    """`lines` in a translucent dark box at a corner of an RGB frame (a copy)."""
    h, w = frame.shape[:2]
    size = size or max(10, min(18, h // 16))
    lh = line_height(size)
    box_w = max(text_size(t, size)[0] for t in lines) + 10
    box_h = lh * len(lines) + 6
    x0 = 4 if corner[1] == "l" else w - box_w - 4
    y0 = 4 if corner[0] == "t" else h - box_h - 4
    base = Image.fromarray(np.ascontiguousarray(frame[..., :3])).convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    d.rectangle([x0, y0, x0 + box_w, y0 + box_h], fill=(0, 0, 0, 140))
    for i, t in enumerate(lines):
        d.text((x0 + 5, y0 + 3 + i * lh), t, font=font(size), fill=(255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(base, layer).convert("RGB"))


def caption(
    image: np.ndarray,
    lines: list[str],
    size: int = 13,
    bg=PAPER,
    fill=INK,
    min_lines: int = 0,
) -> np.ndarray:
    """`image` with `lines` of text in a band below it (lines cut to the width)."""
    h, w = image.shape[:2]
    lh = line_height(size)
    n = max(len(lines), min_lines)
    out = Image.new("RGB", (w, h + lh * n + 6), bg)
    out.paste(Image.fromarray(np.ascontiguousarray(image[..., :3])), (0, 0))
    for i, t in enumerate(lines):
        draw(out, (4, h + 3 + i * lh), fit(t, w - 8, size), size, fill)
    return np.asarray(out)


def header(
    image: np.ndarray,
    line: str,
    height: int,
    size: int | None = None,
    bg=PAPER,
    fill=INK,
) -> np.ndarray:
    """`image` below a band of `height` pixels holding one line of text."""
    w = image.shape[1]
    size = size or max(9, height - 8)
    band = Image.new("RGB", (w, height), bg)
    draw(band, (5, height // 2), fit(line, w - 10, size), size, fill, anchor="lm")
    return np.concatenate([np.asarray(band), image[..., :3]], axis=0)
