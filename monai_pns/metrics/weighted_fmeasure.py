"""Weighted F-measure (beta = 1) of a continuous prediction against a binary GT.

Margolin et al., "How to Evaluate Foreground Maps?", CVPR 2014 (the authors' MATLAB ``WFb``).
"""

from __future__ import annotations

import cv2
import numpy as np

from monai_pns.metrics._histogram import code_histogram
from monai_pns.metrics.distance import decay_sum_and_nearest

__all__ = ["DECAY_RADIUS", "gaussian_kernel_1d", "compute_weighted_fmeasure"]

_EPS = np.spacing(1.0)
_HALF = 3  # fspecial('gaussian', 7, 5): a 7x7 window


def gaussian_kernel_1d(size: int = 7, sigma: float = 5.0) -> np.ndarray:
    """Normalised 1D Gaussian whose outer product is MATLAB ``fspecial('gaussian', size, sigma)``."""
    if size < 1 or sigma <= 0:
        raise ValueError(f"size must be >= 1 and sigma > 0, got size={size}, sigma={sigma}.")
    x = np.arange(size) - (size - 1) / 2
    k = np.exp(-(x * x) / (2 * sigma * sigma))
    return k / k.sum()


def _decay_table(radius: int) -> np.ndarray:
    """``exp(log(0.5) / 5 * sqrt(n))`` for every integer squared distance ``n`` up to ``radius^2``, then one 0 for
    every larger ``n`` (read with clipped indices); the same float64 operations as on each pixel, so the same
    values."""
    table = np.exp(np.sqrt(np.arange(radius * radius + 2, dtype=np.float64)) * (np.log(0.5) / 5))
    table[-1] = 0.0
    return table


#: decay weights farther than this from the GT are below 2^-60 and dropped: a relative change of at most 2^-60
#: of the false-positive sum (which holds the dropped pixels' full weight 2 * pred), far below float64 rounding
DECAY_RADIUS = 300
_DECAY_TABLE = _decay_table(DECAY_RADIUS)
_KERNEL = gaussian_kernel_1d()


def _prediction_box(pred: np.ndarray, lut: np.ndarray | None, box: tuple[int, int, int, int]) -> tuple:
    """(r0, r1, c0, c1) bounding box of ``box`` and of the pixels whose prediction is not 0; with ``lut``, of the
    pixels whose code is not 0, or the whole map when code 0 does not stand for 0 (a box that holds every non-zero
    value)."""
    whole = 0, pred.shape[0], 0, pred.shape[1]
    if lut is not None and lut[0] != 0:
        return whole
    if all(edge.any() for edge in (pred[0], pred[-1], pred[:, 0], pred[:, -1])):
        return whole  # non-zero values on all four edges: the whole map
    x, y, w, h = cv2.boundingRect((pred != 0).view(np.uint8))
    if w == 0 or h == 0:
        return box
    return min(y, box[0]), max(y + h, box[1]), min(x, box[2]), max(x + w, box[3])


def _grown_box(rect: tuple[int, int, int, int], margin: int, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """(r0, r1, c0, c1) of an OpenCV (x, y, w, h) rectangle grown by ``margin`` pixels, clipped to ``shape``."""
    x, y, w, h = rect
    return max(y - margin, 0), min(y + h + margin, shape[0]), max(x - margin, 0), min(x + w + margin, shape[1])


def compute_weighted_fmeasure(
    pred: np.ndarray, gt: np.ndarray, lut: np.ndarray | None = None, code_hist: np.ndarray | None = None
) -> float:
    """Weighted F-measure with beta = 1; 0 for an empty GT.

    MATLAB ``WFb``: the error ``E = |pred - GT|`` outside the GT takes the value at the nearest GT pixel
    (``bwdist`` indices; here scipy's ``distance_transform_edt`` tie-breaking, as in pysodmetrics, which may differ
    from MATLAB's between equidistant GT pixels), is smoothed by a 7x7 Gaussian of sigma 5 with zero padding
    (``imfilter``), the smaller of E and the smoothed error is kept on the GT, and errors outside the GT are
    weighted by ``2 - exp(log(0.5) / 5 * distance)``.

    One exact distance transform (:func:`~monai_pns.metrics.distance.decay_sum_and_nearest`) serves both parts.
    It covers the bounding box of the non-zero prediction and of the GT's box grown by 3 pixels (every GT pixel lies
    inside, so the distances are those of the whole frame, and a zero prediction adds no false positive outside),
    cut to the GT's box grown by ``DECAY_RADIUS`` (farther pixels have negligible decay weights). The filter output
    is read on GT pixels only, so only the pixels within 3 rows and columns of the GT need their nearest GT pixel.

    Args:
        pred: (H, W) float64 in [0, 1]; or, with ``lut``, a uint8 map of codes whose values are ``lut[code]``.
        gt: (H, W) bool.
        lut: (256,) float64 values of the codes of a uint8 ``pred``.
        code_hist: optional (2, 256) counts of every code on the GT background and polyp, if already known.
    """
    gt_rect = cv2.boundingRect(gt.view(np.uint8))
    if gt_rect[2] == 0:
        return 0.0
    r0, r1, c0, c1 = _grown_box(gt_rect, _HALF, gt.shape)  # the filter's reach
    d0, d1, e0, e1 = _grown_box(gt_rect, DECAY_RADIUS, gt.shape)
    p0, p1, q0, q1 = _prediction_box(pred[d0:d1, e0:e1], lut, (r0 - d0, r1 - d0, c0 - e0, c1 - e0))
    d0, d1, e0, e1 = d0 + p0, d0 + p1, e0 + q0, e0 + q1
    decay_sum, nearest = decay_sum_and_nearest(
        gt[d0:d1, e0:e1], pred[d0:d1, e0:e1], _DECAY_TABLE, (r0 - d0, r1 - d0, c0 - e0, c1 - e0), lut
    )

    gt_box, pred_box = gt[r0:r1, c0:c1], pred[r0:r1, c0:c1]
    if lut is not None:
        err = cv2.LUT(pred_box, 1.0 - lut).reshape(gt_box.shape)
        pred_sum = float((code_histogram(pred)[0] if code_hist is None else code_hist.sum(axis=0)) @ lut)
    else:
        err = 1.0 - pred_box
        pred_sum = float(pred.sum())
    err_near = err.take(nearest)  # the error of the nearest GT pixel: a GT pixel's own, elsewhere the propagated one
    smoothed = cv2.sepFilter2D(err_near, cv2.CV_64F, _KERNEL, _KERNEL, borderType=cv2.BORDER_CONSTANT)
    err_on_gt = err[gt_box]
    err_gt = np.minimum(err_on_gt, smoothed[gt_box])  # weight 1 on the GT
    n_gt, err_sum = err_on_gt.size, float(err_gt.sum())

    # weight 2 - decay is 1 on the GT, where pred does not count as a false positive
    pred_on_gt = n_gt - float(err_on_gt.sum())
    fp_w = 2 * pred_sum - decay_sum - pred_on_gt
    tp_w = n_gt - err_sum
    recall = 1.0 - err_sum / n_gt
    precision = tp_w / (_EPS + tp_w + fp_w)
    return float(2 * recall * precision / (_EPS + recall + precision))
