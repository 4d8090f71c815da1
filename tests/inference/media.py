"""Small generated inputs for the inference tests: mp4 videos, frame folders, NIfTI volumes, checkpoints."""

from __future__ import annotations

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


def write_video(path: Path, num_frames: int, size: tuple[int, int] = (40, 72), fps: float = 10.0) -> Path:
    """An OpenCV-written mp4 (mp4v) of ``num_frames`` synthetic frames."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (size[1], size[0]))
    assert writer.isOpened()
    for i in range(num_frames):
        writer.write(cv2.cvtColor(synthetic_frame(i, size), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


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
