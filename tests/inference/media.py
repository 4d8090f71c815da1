"""Small generated inputs for the inference tests: mp4 and AVI videos (whole or cut short), checkpoints."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import torch

from monai_pns.networks import PNSNet


def synthetic_frame(index: int, size: tuple[int, int] = (40, 72)) -> np.ndarray:
    """RGB uint8 frame ``index`` of a moving disc on a dark background."""
    h, w = size
    frame = np.full((h, w, 3), 40, np.uint8)
    cv2.circle(frame, (w // 4 + 3 * index, h // 2), max(3, h // 6), (200, 80, 60), -1)
    return frame


def write_video(
    path: Path, num_frames: int, size: tuple[int, int] = (40, 72), fps: float = 10.0, fourcc: str = "mp4v"
) -> Path:
    """An OpenCV-written video (mp4v mp4 by default; e.g. ``fourcc="MJPG"`` for an AVI) of ``num_frames`` synthetic
    frames."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (size[1], size[0]))
    assert writer.isOpened()
    for i in range(num_frames):
        writer.write(cv2.cvtColor(synthetic_frame(i, size), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _boxes(data: bytes | bytearray, start: int, end: int) -> dict[bytes, tuple[int, int]]:
    """The ISO-BMFF (mp4) boxes between ``start`` and ``end``: type -> (offset, size), the last of each type."""
    boxes = {}
    while start < end:
        size, kind = struct.unpack(">I4s", data[start : start + 8])
        boxes[kind] = (start, size)
        start += size
    return boxes


def index_to_front(path: Path) -> Path:
    """Rewrite an OpenCV-written mp4 (one track, its index ``moov`` after the data ``mdat``) with the index first,
    as streaming ("fast start") files have it: a copy cut short then still opens and states the full frame count."""
    data = path.read_bytes()
    top = _boxes(data, 0, len(data))
    (moov_at, moov_size), (mdat_at, _) = top[b"moov"], top[b"mdat"]
    moov = bytearray(data[moov_at : moov_at + moov_size])
    start, end = 8, moov_size
    for kind in (b"trak", b"mdia", b"minf", b"stbl", b"stco"):  # down to the chunk offset table
        at, size = _boxes(moov, start, end)[kind]
        start, end = at + 8, at + size
    (count,) = struct.unpack(">I", moov[start + 4 : start + 8])  # after the version and flags
    chunks = np.frombuffer(moov, ">u4", count, start + 8) + moov_size  # the data moves back by the index's size
    moov[start + 8 : start + 8 + 4 * count] = chunks.astype(">u4").tobytes()
    path.write_bytes(data[:mdat_at] + moov + data[mdat_at:moov_at] + data[moov_at + moov_size :])
    return path


def cut_in_half(path: Path) -> Path:
    """Truncate a file to half its bytes, as an interrupted copy leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def read_all_frames(path: Path) -> list[np.ndarray]:
    """Every frame OpenCV decodes from a video, BGR, until its decoder stops."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def count_frames(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.grab():
        count += 1
    capture.release()
    return count


def small_network(seed: int = 0, **kwargs) -> PNSNet:
    """A random PNSNet in eval mode whose NS outputs stay O(1) (random raw-score attention grows features ~100x
    per block, which would make float32 comparisons meaningless)."""
    torch.manual_seed(seed)
    net = PNSNet(**kwargs).eval()
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):  # non-trivial statistics, so that folding them matters
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    for name, param in net.named_parameters():
        if name.endswith("out_proj.weight"):
            param.data.mul_(0.01)
    return net
