"""Synthetic prediction / GT pairs shared by the metric tests (generated, never real data)."""

from __future__ import annotations

import cv2
import numpy as np


def blob_case(height: int, width: int, seed: int, noise: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """A uint8 prediction (blurred ellipse + noise) and a uint8 GT ellipse (0 / 255) at a random place."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    cy, cx = rng.uniform(0.25, 0.75) * height, rng.uniform(0.25, 0.75) * width
    ry, rx = rng.uniform(0.08, 0.25) * height, rng.uniform(0.08, 0.25) * width
    gt = ((yy - cy) ** 2 / ry**2 + (xx - cx) ** 2 / rx**2) < 1
    shift = rng.integers(-3, 4, size=2)
    pred = cv2.GaussianBlur(np.roll(gt, shift, axis=(0, 1)).astype(np.float64), (0, 0), max(height / 40, 1.0))
    pred = np.clip(pred + rng.normal(0, noise, (height, width)), 0, 1)
    return np.round(pred * 255).astype(np.uint8), gt.astype(np.uint8) * 255
