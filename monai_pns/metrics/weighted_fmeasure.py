"""Weighted F-measure (beta = 1) of a continuous prediction against a binary GT.

Margolin et al., "How to Evaluate Foreground Maps?", CVPR 2014 (the authors' MATLAB ``WFb``).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import distance_transform_edt

from monai_pns.metrics.preprocess import code_histogram

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


def _decay_weighted_sum(pred: np.ndarray, gt: np.ndarray, lut: np.ndarray | None, chunk: int = 1 << 14) -> float:
    """``sum(pred * exp(log(0.5) / 5 * D))`` with D the Euclidean distance of every pixel to the nearest GT pixel
    (terms with D > ``DECAY_RADIUS`` dropped).

    OpenCV's exact transform returns float32 distances; squaring and rounding recovers the integer squared
    distance, whose weight is read from a table of the float64 chain ``exp(log(0.5) / 5 * sqrt(D^2))``, so the
    weights match a float64 ``bwdist`` / scipy ``distance_transform_edt`` bit for bit. The sum runs over blocks
    of rows of about ``chunk`` pixels, which stay in cache.
    """
    dist32 = cv2.distanceTransform((~gt).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    step = max(1, chunk // gt.shape[1])
    total = 0.0
    for r in range(0, gt.shape[0], step):
        sq_dist = cv2.multiply(dist32[r : r + step], dist32[r : r + step], dtype=cv2.CV_32S)
        weights = np.take(_DECAY_TABLE, sq_dist, mode="clip")  # beyond DECAY_RADIUS: the last entry, 0
        values = pred[r : r + step] if lut is None else cv2.LUT(pred[r : r + step], lut).reshape(weights.shape)
        total += float(np.einsum("ij,ij->", values, weights))
    return total


def _nonzero_box(pred: np.ndarray, lut: np.ndarray | None, box: tuple[int, int, int, int]) -> tuple:
    """(x, y, w, h) bounding box of ``box`` and of the pixels whose prediction is not 0; with ``lut``, of the pixels
    whose code is not 0, or the whole map when code 0 does not stand for 0 (a box that holds every non-zero value)."""
    if lut is not None and lut[0] != 0:
        return 0, 0, pred.shape[1], pred.shape[0]
    if all(edge.any() for edge in (pred[0], pred[-1], pred[:, 0], pred[:, -1])):
        return 0, 0, pred.shape[1], pred.shape[0]  # non-zero values on all four edges: the whole map
    x, y, w, h = cv2.boundingRect((pred != 0).view(np.uint8))
    if w == 0 or h == 0:
        return box
    x0, y0 = min(x, box[0]), min(y, box[1])
    x1, y1 = max(x + w, box[0] + box[2]), max(y + h, box[1] + box[3])
    return x0, y0, x1 - x0, y1 - y0


def _grown_box(rect: tuple[int, int, int, int], margin: int, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """(r0, r1, c0, c1) of an OpenCV (x, y, w, h) rectangle grown by ``margin`` pixels, clipped to ``shape``."""
    x, y, w, h = rect
    return max(y - margin, 0), min(y + h + margin, shape[0]), max(x - margin, 0), min(x + w + margin, shape[1])


def compute_weighted_fmeasure(
    pred: np.ndarray, gt: np.ndarray, lut: np.ndarray | None = None, code_hist: np.ndarray | None = None
) -> float:
    """Weighted F-measure with beta = 1; 0 for an empty GT.

    MATLAB ``WFb``: the error ``E = |pred - GT|`` outside the GT takes the value at the nearest GT pixel
    (``bwdist`` indices; here scipy's ``distance_transform_edt``, as in pysodmetrics, whose tie-breaking between
    equidistant GT pixels may differ from MATLAB's), is smoothed by a 7x7 Gaussian of sigma 5 with zero padding
    (``imfilter``), the smaller of E and the smoothed error is kept on the GT, and errors outside the GT are
    weighted by ``2 - exp(log(0.5) / 5 * distance)``.

    Only the GT's bounding box grown by 3 pixels needs the nearest-pixel indices and the filter (the filter
    output is read on GT pixels only). The distance weights use OpenCV's exact distance transform, over the
    bounding box of the GT and of the non-zero prediction only: every GT pixel lies inside it, so the
    distances there are those of the whole frame, and a zero prediction adds no false positive outside it.
    That box is also cut to the GT's box grown by ``DECAY_RADIUS``: farther pixels have negligible decay weights.

    Args:
        pred: (H, W) float64 in [0, 1]; or, with ``lut``, a uint8 map of codes whose values are ``lut[code]``.
        gt: (H, W) bool.
        lut: (256,) float64 values of the codes of a uint8 ``pred``.
        code_hist: optional (2, 256) counts of every code on the GT background and polyp, if already known.
    """
    gt_rect = cv2.boundingRect(gt.view(np.uint8))
    if gt_rect[2] == 0:
        return 0.0
    r0, r1, c0, c1 = _grown_box(gt_rect, _HALF, gt.shape)
    gt_box = gt[r0:r1, c0:c1]
    near_r, near_c = distance_transform_edt(~gt_box, return_distances=False, return_indices=True)
    # the error 1 - pred of the nearest GT pixel: a GT pixel's own error, elsewhere the propagated one
    nearest_pred = pred[r0:r1, c0:c1][near_r, near_c]
    if lut is not None:
        err_near = cv2.LUT(nearest_pred, 1.0 - lut).reshape(gt_box.shape)
        pred_sum = float((code_histogram(pred)[0] if code_hist is None else code_hist.sum(axis=0)) @ lut)
    else:
        err_near = 1.0 - nearest_pred
        pred_sum = float(pred.sum())
    smoothed = cv2.sepFilter2D(err_near, cv2.CV_64F, _KERNEL, _KERNEL, borderType=cv2.BORDER_CONSTANT)
    err_on_gt = err_near[gt_box]
    err_gt = np.minimum(err_on_gt, smoothed[gt_box])  # weight 1 on the GT
    n_gt, err_sum = err_on_gt.size, float(err_gt.sum())

    # weight 2 - decay is 1 on the GT, where pred does not count as a false positive
    pred_on_gt = n_gt - float(err_on_gt.sum())
    d0, d1, e0, e1 = _grown_box(gt_rect, DECAY_RADIUS, gt.shape)
    pred_near, gt_near = pred[d0:d1, e0:e1], gt[d0:d1, e0:e1]
    x, y, w, h = _nonzero_box(pred_near, lut, (c0 - e0, r0 - d0, c1 - c0, r1 - r0))
    decay_sum = _decay_weighted_sum(pred_near[y : y + h, x : x + w], gt_near[y : y + h, x : x + w], lut)
    fp_w = 2 * pred_sum - decay_sum - pred_on_gt
    tp_w = n_gt - err_sum
    recall = 1.0 - err_sum / n_gt
    precision = tp_w / (_EPS + tp_w + fp_w)
    return float(2 * recall * precision / (_EPS + recall + precision))
