"""Frames to video files: H.264 mp4 (yuv420p, plays in browsers) or GIF.

mp4 goes through imageio-ffmpeg's bundled ffmpeg (libx264, `+faststart` so browsers
can start playing before the download ends). yuv420p needs even frame sizes: odd
sizes are padded by one edge pixel, never rescaled. Without a working ffmpeg the
frames are written as a GIF next to the requested path (the returned path says so).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from PIL import Image

from engine.render.gl import RenderError

MP4_SUFFIXES = (".mp4", ".m4v", ".mov")
MAX_GIF_FPS = 50.0  # browsers slow GIF frames shorter than 20 ms down


def as_frames(frames) -> np.ndarray:
    """(T, H, W, 3) uint8 array from a list or array of RGB(A) frames."""
    arr = np.asarray(frames) if not isinstance(frames, np.ndarray) else frames
    if arr.ndim != 4 or arr.shape[0] == 0 or arr.shape[-1] not in (3, 4):
        raise RenderError(
            f"need a non-empty sequence of (H, W, 3) frames, got shape {arr.shape}"
        )
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr[..., :3])


def even_frames(frames) -> np.ndarray:
    """Frames padded (edge pixels repeated) to even height and width."""
    arr = as_frames(frames)
    ph, pw = arr.shape[1] % 2, arr.shape[2] % 2
    if ph or pw:
        arr = np.pad(arr, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
    return arr


def _prepare(path) -> str:
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    return path


def write_gif(frames, path, fps: float) -> str:
    """Animated GIF (looping) at `fps` frames per second (at most 50)."""
    path = _prepare(path)
    arr = as_frames(frames)
    duration = max(20, round(1000.0 / min(float(fps), MAX_GIF_FPS)))
    images = [Image.fromarray(f) for f in arr]
    images[0].save(
        path,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=duration,
        loop=0,
    )
    return path


def write_mp4(frames, path, fps: float, crf: int = 23) -> str:
    """H.264 mp4, yuv420p, at `fps`; raises RenderError without ffmpeg."""
    path = _prepare(path)
    arr = even_frames(frames)
    try:
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as e:
        raise RenderError(f"no ffmpeg for mp4 ({e}); pip install imageio-ffmpeg") from e
    h, w = arr.shape[1:3]
    writer = imageio_ffmpeg.write_frames(
        path,
        (w, h),
        fps=float(fps),
        codec="libx264",
        pix_fmt_out="yuv420p",
        quality=None,
        macro_block_size=2,
        ffmpeg_log_level="error",
        output_params=["-crf", str(int(crf)), "-movflags", "+faststart"],
    )
    try:
        with warnings.catch_warnings():
            # fork+exec of ffmpeg is safe; JAX warns about any fork.
            warnings.filterwarnings(
                "ignore", message="os.fork", category=RuntimeWarning
            )
            writer.send(None)
        for f in arr:
            writer.send(np.ascontiguousarray(f))
    except (OSError, RuntimeError) as e:
        raise RenderError(f"ffmpeg failed writing {path}: {e}") from e
    finally:
        writer.close()
    return path


def write_video(frames, path, fps: float) -> str:
    """Write `frames` to `path` and return the path written.

    `.mp4`/`.m4v`/`.mov`: H.264 yuv420p (even sizes); `.gif`: animated GIF. When
    ffmpeg is missing, an mp4 request falls back to a GIF with the `.gif` suffix.
    """
    p = os.fspath(path)
    suffix = os.path.splitext(p)[1].lower()
    if suffix == ".gif":
        return write_gif(frames, p, fps)
    if suffix not in MP4_SUFFIXES:
        raise RenderError(f"unsupported video file {p!r}: use .mp4 or .gif")
    try:
        return write_mp4(frames, p, fps)
    except RenderError:
        if os.path.exists(p) and os.path.getsize(p) == 0:
            os.unlink(p)
        return write_gif(frames, os.path.splitext(p)[0] + ".gif", fps)
