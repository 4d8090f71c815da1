"""Structure measure (S-measure) of a continuous prediction against a binary GT.

Fan et al., "Structure-measure: A new way to evaluate foreground maps", ICCV 2017.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from monai.utils import look_up_option

__all__ = ["CENTROID_ROUNDING", "compute_smeasure", "gt_centroid", "smeasure_from_stats"]

#: S-measure centroid rounding. "matlab": half away from zero on the 1-based centroid (MATLAB ``round``);
#: "sunseg": numpy's half to even on the 0-based centroid, plus one (pysodmetrics / SUN-SEG)
CENTROID_ROUNDING = ("matlab", "sunseg")
_EPS = np.spacing(1.0)


def gt_centroid(gt: np.ndarray, rounding: str = "matlab") -> tuple[int, int]:
    """1-based (row, column) of the GT centroid as the S-measure splits the frame: the first ``row`` rows and
    ``column`` columns form the top-left quadrant. An empty GT gives the frame centre (rounded the same way; the
    S-measure of an empty GT does not depend on it).

    Sums of the 0-based indices are exact integers, so both roundings see the references' exact quotients.
    """
    rounding = look_up_option(rounding, CENTROID_ROUNDING)
    h, w = gt.shape
    gt_u8 = gt.view(np.uint8)
    per_row = cv2.reduce(gt_u8, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel().astype(np.int64)
    per_col = cv2.reduce(gt_u8, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel().astype(np.int64)
    n_fg = int(per_row.sum())
    if n_fg == 0:  # MATLAB: round(rows / 2), half away from zero; the Python toolbox: np.round, half to even
        if rounding == "matlab":
            return int(math.floor(h / 2 + 0.5)), int(math.floor(w / 2 + 0.5))
        return round(h / 2), round(w / 2)
    sums = (int(per_row @ np.arange(h)), int(per_col @ np.arange(w)))
    if rounding == "matlab":  # round(sum of 1-based indices / n), half away from zero
        return tuple(int(math.floor((s + n_fg) / n_fg + 0.5)) for s in sums)
    return tuple(round(s / n_fg) + 1 for s in sums)  # Python's round is half to even, like numpy's


def _object_similarity(count: float, total: float, total_sq: float) -> float:
    """``2 x / (x^2 + 1 + sigma_x + eps)`` with x, sigma_x the mean and sample std of ``count`` values."""
    if count == 0:
        return 0.0
    mean = total / count
    std = math.sqrt(max(total_sq - total * mean, 0.0) / (count - 1)) if count > 1 else 0.0
    return 2 * mean / (mean**2 + 1 + std + _EPS)


def _quadrant_ssim(n: int, s_p: float, s_pp: float, s_g: float, s_pg: float, constant_pred: bool) -> float:
    """The S-measure's SSIM-like score of one quadrant, from its pixel sums (``s_g`` = GT pixel count)."""
    x, y = s_p / n, s_g / n
    if s_g in (0, n):  # the GT is constant: no GT variance nor covariance, alpha = 0
        return 1.0 if (constant_pred or (x == 0 and y == 0)) else 0.0
    sigma_x = max(s_pp - s_p * x, 0.0) / (n - 1 + _EPS)
    sigma_y = (s_g - s_g * y) / (n - 1 + _EPS)
    sigma_xy = (s_pg - s_p * y) / (n - 1 + _EPS)
    alpha = 4 * x * y * sigma_xy
    beta = (x**2 + y**2) * (sigma_x + sigma_y)
    if alpha != 0:
        return alpha / (beta + _EPS)
    return 1.0 if beta == 0 else 0.0


def _block_stats_from_values(pred: np.ndarray, gt: np.ndarray) -> tuple:
    """The statistics of :func:`smeasure_from_stats` for one block of a float map."""
    pred_fg = np.where(gt, pred, 0.0)
    n_fg = np.count_nonzero(gt)
    constant = n_fg in (0, gt.size) and bool(pred.min() == pred.max())
    s_pp, s_ppg = np.einsum("ij,ij->", pred, pred), np.einsum("ij,ij->", pred_fg, pred_fg)  # no BLAS threads
    return pred.size, pred.sum(), s_pp, n_fg, pred_fg.sum(), s_ppg, constant


def smeasure_from_stats(stats: list, n_fg: int, size: int, alpha: float) -> float:
    """S-measure from the per-quadrant statistics (TL, TR, BL, BR; empty quadrants have n = 0): each a tuple (n,
    sum p, sum p^2, GT count, sum p on GT, sum p^2 on GT, whether the prediction is constant there)."""
    region, totals = 0.0, np.zeros(6)
    for n, s_p, s_pp, s_g, s_pg, s_ppg, constant in stats:
        if n == 0:
            continue  # an empty quadrant weighs 0
        n, s_g = round(n), round(s_g)
        totals += (n, s_p, s_pp, s_g, s_pg, s_ppg)
        region += n / size * _quadrant_ssim(n, s_p, s_pp, s_g, s_pg, constant)
    _, s_p, s_pp, _, s_pg, s_ppg = totals.tolist()
    n_bg = size - n_fg
    fg_score = _object_similarity(n_fg, s_pg, s_ppg)
    bg_score = _object_similarity(n_bg, n_bg - (s_p - s_pg), n_bg - 2 * (s_p - s_pg) + (s_pp - s_ppg))
    mean_g = n_fg / size
    object_score = mean_g * fg_score + (1 - mean_g) * bg_score
    return max(0.0, float(alpha * object_score + (1 - alpha) * region))


def compute_smeasure(pred: np.ndarray, gt: np.ndarray, alpha: float = 0.5, rounding: str = "matlab") -> float:
    """S-measure: ``alpha * object score + (1 - alpha) * region score``, clamped at 0.

    An empty GT scores ``1 - mean(pred)``, a full GT ``mean(pred)``. The region score splits both maps into four
    quadrants at the GT centroid; a quadrant with no pixel (centroid on the last row or column, e.g. a GT of
    one pixel in the bottom-right corner) has weight 0 and contributes 0, where the reference implementations
    produce NaN. Statistics come from pixel sums. ``frame_metrics`` computes the same value for 8-bit maps from
    per-quadrant histograms (``monai_pns.metrics._histogram``), tested against this definition.

    Args:
        pred: (H, W) float64 in [0, 1].
        gt: (H, W) bool.
        alpha: weight of the object score.
        rounding: how the centroid is rounded, see ``CENTROID_ROUNDING``.

    Examples::

        >>> gt = np.zeros((8, 8), bool); gt[2:6, 2:6] = True
        >>> round(compute_smeasure(gt.astype(np.float64), gt), 9)  # a perfect prediction
        1.0
    """
    rounding = look_up_option(rounding, CENTROID_ROUNDING)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}.")
    cy, cx = gt_centroid(gt, rounding)
    n_fg = int(np.count_nonzero(gt))
    if n_fg in (0, gt.size):
        return 1.0 - float(pred.mean()) if n_fg == 0 else float(pred.mean())
    h, w = gt.shape
    blocks = [(r, c) for r in (slice(0, cy), slice(cy, h)) for c in (slice(0, cx), slice(cx, w))]
    blocks = [(r, c) for r, c in blocks if r.start < r.stop and c.start < c.stop]
    stats = [_block_stats_from_values(pred[r, c], gt[r, c]) for r, c in blocks]
    return smeasure_from_stats(stats, n_fg, gt.size, alpha)
