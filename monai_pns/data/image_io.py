"""Reading frames and masks from image files and videos with OpenCV.

A *frame reference* is either the path of an image file or ``"<video path>#<index>"`` for frame ``index`` (0-based)
of a video file (see :func:`video_frame_ref`). Everything returned here is RGB ``uint8`` (H, W, 3) for frames and
``uint8`` (H, W) for masks, whatever the file holds (greyscale, RGBA, 16-bit).

Image files are read whole and checked before decoding: a JPEG must hold its end-of-image marker and a PNG its
``IEND`` chunk, so a file cut short (an interrupted copy or download) is an error naming it instead of a frame
whose lower part the decoder fills with grey (libjpeg only prints "Premature end of JPEG file").

Two rounding rules, each on purpose: a saved prediction rounds halves up (:func:`probability_to_uint8`, as MATLAB's
``im2uint8`` does, so that scores match the toolboxes); pictures made from floats (float image files, rescaled
volumes, overlays) round halves to even (``numpy.rint``). Tests pin both at ties on even and odd codes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import cv2
import numpy as np
import torch

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "check_image_complete",
    "count_video_frames",
    "frame_stem",
    "is_video_file",
    "parse_frame_ref",
    "probability_to_uint8",
    "read_frames",
    "read_image",
    "read_video_frames",
    "to_rgb_uint8",
    "to_grey_uint8",
    "video_frame_ref",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv")
#: where the end of a complete file is searched for: trailing padding after it is tolerated. JPEG entropy-coded
#: data never holds FF D9 (a data byte FF is followed by 00, restart markers are FF D0-D7), so a JPEG cut inside
#: its image data has no end marker in its tail; a PNG's last chunk is IEND, whose CRC is fixed
_TAIL_BYTES = 1024
_END_MARKERS = {
    b"\xff\xd8": ("JPEG end-of-image marker (FF D9)", b"\xff\xd9"),
    b"\x89PNG\r\n\x1a\n": ("PNG IEND chunk", b"IEND\xaeB`\x82"),
}


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


def probability_to_uint8(prob: np.ndarray | torch.Tensor) -> np.ndarray:
    """8-bit codes of probabilities in [0, 1]: ``floor(255 * p + 0.5)`` in float64, i.e. rounded to the nearest
    code, halves up (p = 0.5 -> 127.5 -> 128). The released PNS-Net saves ``uint8(255 * p)``, which truncates."""
    array = prob.detach().cpu().double().numpy() if isinstance(prob, torch.Tensor) else np.asarray(prob, np.float64)
    return np.floor(255.0 * np.clip(array, 0.0, 1.0) + 0.5).astype(np.uint8)


def frame_stem(ref: str | os.PathLike) -> str:
    """The name a frame's prediction is saved under (without extension): an image file's stem, or the frame index
    of a frame of a video file (``"clip.mp4#12"`` -> ``"12"``)."""
    path, index = parse_frame_ref(ref)
    return os.path.splitext(os.path.basename(path))[0] if index is None else str(index)


def check_image_complete(data: bytes | np.ndarray, path: str | os.PathLike = "<bytes>") -> None:
    """Check that the bytes of a JPEG or PNG file end as a complete file does (other formats pass: their decoders
    reject a cut file by themselves).

    Raises:
        ValueError: naming ``path`` when a JPEG has no end-of-image marker (FF D9) or a PNG no ``IEND`` chunk in its
            last KiB (bytes after them, such as padding, are tolerated).
    """
    data = memoryview(data).cast("B")
    for magic, (kind, end) in _END_MARKERS.items():
        if bytes(data[: len(magic)]) == magic:
            if end not in bytes(data[-_TAIL_BYTES:]):
                raise ValueError(
                    f"image file '{os.fspath(path)}' is truncated: no {kind} at its end ({len(data)} bytes)."
                )
            return


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
    """Read an image file: RGB ``uint8`` (H, W, 3), or grey ``uint8`` (H, W) when ``mask`` is True (a colour mask
    takes the brightest channel of each pixel, see :func:`to_grey_uint8`).

    The file is read whole, checked by :func:`check_image_complete`, then decoded by OpenCV.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ValueError: when the file is truncated, or OpenCV cannot decode it (corrupt or not an image), naming the file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"image file not found: '{path}'.")
    data = np.fromfile(path, np.uint8)
    check_image_complete(data, path)
    array = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
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
