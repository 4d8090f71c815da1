"""Reading frames and masks from image files and videos with OpenCV.

A *frame reference* is either the path of an image file or ``"<video path>#<index>"`` for frame ``index`` (0-based)
of a video file (see :func:`video_frame_ref`). Everything returned here is RGB ``uint8`` (H, W, 3) for frames and
``uint8`` (H, W) for masks, whatever the file holds (greyscale, RGBA, 16-bit).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import cv2
import numpy as np

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "count_video_frames",
    "is_video_file",
    "parse_frame_ref",
    "read_frames",
    "read_image",
    "read_video_frames",
    "to_rgb_uint8",
    "to_grey_uint8",
    "video_frame_ref",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv")


def is_video_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` has a video extension (``VIDEO_EXTENSIONS``, case-insensitive)."""
    return os.fspath(path).lower().endswith(VIDEO_EXTENSIONS)


def video_frame_ref(path: str | os.PathLike, index: int) -> str:
    """The frame reference of frame ``index`` (0-based) of the video at ``path``: ``"<path>#<index>"``."""
    if index < 0:
        raise ValueError(f"frame index must be >= 0, got index={index}.")
    return f"{os.fspath(path)}#{index}"


def parse_frame_ref(ref: str | os.PathLike) -> tuple[str, int | None]:
    """Split a frame reference into ``(path, video frame index)``; the index is None for an image file."""
    ref = os.fspath(ref)
    path, sep, index = ref.rpartition("#")
    if sep and index.isdigit() and is_video_file(path):
        return path, int(index)
    return ref, None


def _to_uint8(array: np.ndarray, path: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        # 16-bit files: keep the high byte, so that 65535 -> 255 as 255 -> 255 for 8-bit files
        return (array >> 8).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        return np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)
    raise ValueError(f"unsupported pixel type {array.dtype} in '{path}'.")


def to_rgb_uint8(array: np.ndarray, path: str = "<array>") -> np.ndarray:
    """Convert an OpenCV image (grey (H, W) or (H, W, 1), BGR, BGRA; 8 or 16 bit) to RGB ``uint8`` (H, W, 3)."""
    array = _to_uint8(array, path)
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 1):
        return cv2.cvtColor(array.reshape(array.shape[:2]), cv2.COLOR_GRAY2RGB)
    if array.ndim == 3 and array.shape[2] == 3:
        return cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    if array.ndim == 3 and array.shape[2] == 4:
        return cv2.cvtColor(array, cv2.COLOR_BGRA2RGB)
    raise ValueError(f"unsupported image shape {array.shape} in '{path}'.")


def to_grey_uint8(array: np.ndarray, path: str = "<array>") -> np.ndarray:
    """Convert an OpenCV image (grey, BGR, BGRA; 8 or 16 bit) to grey ``uint8`` (H, W), as masks are read."""
    array = _to_uint8(array, path)
    if array.ndim == 2:
        return array
    if array.ndim == 3 and array.shape[2] == 1:
        return array[..., 0]
    if array.ndim == 3 and array.shape[2] in (3, 4):
        # a colour mask: a pixel belongs to the mask as soon as any channel is bright
        return array[..., :3].max(axis=2)
    raise ValueError(f"unsupported mask shape {array.shape} in '{path}'.")


def read_image(path: str | os.PathLike, mask: bool = False) -> np.ndarray:
    """Read an image file: RGB ``uint8`` (H, W, 3), or grey ``uint8`` (H, W) when ``mask`` is True.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ValueError: when OpenCV cannot decode the file (corrupt or not an image), naming the file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image file not found: '{path}'.")
    array = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if array is None or array.size == 0:
        raise ValueError(f"cannot read image file '{path}': corrupt or not an image.")
    return to_grey_uint8(array, path) if mask else to_rgb_uint8(array, path)


def _open_video(path: str) -> cv2.VideoCapture:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"video file not found: '{path}'.")
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        capture.release()
        raise ValueError(f"cannot open video file '{path}': corrupt or unsupported codec.")
    return capture


def count_video_frames(path: str | os.PathLike) -> int:
    """The number of frames of a video, counted by decoding it (container headers are often wrong)."""
    path = os.fspath(path)
    capture = _open_video(path)
    count = 0
    try:
        while capture.grab():
            count += 1
    finally:
        capture.release()
    if count == 0:
        raise ValueError(f"cannot read any frame from video file '{path}': empty or corrupt.")
    return count


def read_video_frames(path: str | os.PathLike, indices: Sequence[int], mask: bool = False) -> list[np.ndarray]:
    """Read frames ``indices`` (0-based, any order, repeats allowed) of a video in one sequential pass.

    Returns RGB ``uint8`` (H, W, 3) frames, or grey ``uint8`` (H, W) when ``mask`` is True, in the order of
    ``indices``.
    """
    path = os.fspath(path)
    if len(indices) == 0:
        return []
    wanted = sorted(set(int(i) for i in indices))
    if wanted[0] < 0:
        raise ValueError(f"frame indices must be >= 0, got {wanted[0]} for '{path}'.")
    capture = _open_video(path)
    found: dict[int, np.ndarray] = {}
    try:
        if wanted[0] > 0:
            capture.set(cv2.CAP_PROP_POS_FRAMES, wanted[0])
        position = int(capture.get(cv2.CAP_PROP_POS_FRAMES))
        if position != wanted[0]:  # seeking unsupported: read from the start
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            position = 0
        wanted_set = set(wanted)
        while position <= wanted[-1]:
            ok, frame = capture.read()
            if not ok:
                break
            if position in wanted_set:
                found[position] = to_grey_uint8(frame, path) if mask else to_rgb_uint8(frame, path)
            position += 1
    finally:
        capture.release()
    missing = [i for i in wanted if i not in found]
    if missing:
        raise ValueError(f"cannot read frame {missing[0]} of video file '{path}' (it has {position} readable frames).")
    return [found[int(i)] for i in indices]


def read_frames(refs: Sequence[str | os.PathLike], mask: bool = False) -> list[np.ndarray]:
    """Read a sequence of frame references (image paths and ``"<video>#<index>"``), opening each video once."""
    parsed = [parse_frame_ref(ref) for ref in refs]
    out: list[np.ndarray | None] = [None] * len(parsed)
    by_video: dict[str, list[int]] = {}
    for position, (path, index) in enumerate(parsed):
        if index is None:
            out[position] = read_image(path, mask=mask)
        else:
            by_video.setdefault(path, []).append(position)
    for path, positions in by_video.items():
        frames = read_video_frames(path, [parsed[p][1] for p in positions], mask=mask)  # type: ignore[misc]
        for position, frame in zip(positions, frames):
            out[position] = frame
    return out  # type: ignore[return-value]
