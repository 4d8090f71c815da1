"""Structure measure (S-measure) of a continuous prediction against a binary GT.

Fan et al., "Structure-measure: A new way to evaluate foreground maps", ICCV 2017.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from monai.utils import look_up_option

from monai_pns.metrics.preprocess import code_histogram

__all__ = ["CENTROID_ROUNDING", "compute_smeasure"]

_EPS = np.spacing(1.0)
#: "matlab": round half away from zero on the 1-based centroid (MATLAB ``round``);
#: "sunseg": numpy's round half to even on the 0-based centroid, plus one (pysodmetrics / SUN-SEG)
CENTROID_ROUNDING = ("matlab", "sunseg")


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


def _centroid(gt: np.ndarray, n_fg: int, rounding: str) -> tuple[int, int]:
    """1-based (row, column) of the GT centroid, from exact integer moments (``cv2.moments`` of a binary map)."""
    moments = cv2.moments(gt.view(np.uint8), binaryImage=True)
    sums = (moments["m01"], moments["m10"])  # sums of the 0-based row and column indices: exact integers
    if rounding == "matlab":  # MATLAB: round(sum of 1-based indices / n), half away from zero
        return tuple(int(math.floor((s + n_fg) / n_fg + 0.5)) for s in sums)
    return tuple(int(np.round(s / n_fg)) + 1 for s in sums)  # numpy: half to even on the 0-based mean


def _stats_from_hists(hist_all: np.ndarray, hist_fg: np.ndarray, lut: np.ndarray) -> tuple:
    """(n, sum p, sum p^2, GT count, sum p on GT, sum p^2 on GT, pred constant) of a block of a uint8 map,
    from its code histograms over all pixels and over GT pixels."""
    lut_sq = lut * lut
    constant = np.count_nonzero(hist_all) == 1
    return hist_all.sum(), hist_all @ lut, hist_all @ lut_sq, hist_fg.sum(), hist_fg @ lut, hist_fg @ lut_sq, constant


def _quadrant_code_hists(codes: np.ndarray, gt: np.ndarray, cy: int, cx: int) -> list:
    """(all, GT) code histograms of the four quadrants split at row ``cy`` and column ``cx``, in one pass."""
    labels = gt.astype(np.uint8)  # label = GT + 2 * bottom + 4 * right
    labels[cy:] += 2
    labels[:, cx:] += 4
    hist = code_histogram(codes, labels, 8)
    return [(hist[q] + hist[q + 1], hist[q + 1]) for q in (0, 4, 2, 6)]  # TL, TR, BL, BR


def _block_stats_from_values(pred: np.ndarray, gt: np.ndarray) -> tuple:
    """The same statistics as ``_stats_from_hists`` from a float map."""
    pred_fg = np.where(gt, pred, 0.0)
    n_fg = np.count_nonzero(gt)
    constant = n_fg in (0, gt.size) and bool(pred.min() == pred.max())
    s_pp, s_ppg = np.einsum("ij,ij->", pred, pred), np.einsum("ij,ij->", pred_fg, pred_fg)  # no BLAS threads
    return pred.size, pred.sum(), s_pp, n_fg, pred_fg.sum(), s_ppg, constant


def compute_smeasure(
    pred: np.ndarray,
    gt: np.ndarray,
    alpha: float = 0.5,
    rounding: str = "matlab",
    lut: np.ndarray | None = None,
) -> float:
    """S-measure: ``alpha * object score + (1 - alpha) * region score``, clamped at 0.

    An empty GT scores ``1 - mean(pred)``, a full GT ``mean(pred)``. The region score splits both maps into four
    quadrants at the GT centroid; a quadrant with no pixel (centroid on the last row or column, e.g. a GT of
    one pixel in the bottom-right corner) has weight 0 and contributes 0, where the reference implementations
    produce NaN. Statistics come from pixel sums (or, for 8-bit maps, from per-quadrant histograms).

    Args:
        pred: (H, W) float64 in [0, 1]; or, with ``lut``, a uint8 map of codes whose values are ``lut[code]``.
        gt: (H, W) bool.
        alpha: weight of the object score.
        rounding: how the centroid is rounded, see ``CENTROID_ROUNDING``.
        lut: (256,) float64 values of the codes of a uint8 ``pred``.
    """
    rounding = look_up_option(rounding, CENTROID_ROUNDING)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}.")
    n_fg = int(np.count_nonzero(gt))
    if n_fg in (0, gt.size):
        mean = float(code_histogram(pred)[0] @ lut) / gt.size if lut is not None else float(pred.mean())
        return 1.0 - mean if n_fg == 0 else mean
    h, w = gt.shape
    cy, cx = _centroid(gt, n_fg, rounding)
    blocks = [(r, c) for r in (slice(0, cy), slice(cy, h)) for c in (slice(0, cx), slice(cx, w))]
    if lut is None:
        blocks = [(r, c) for r, c in blocks if r.start < r.stop and c.start < c.stop]
        stats = [_block_stats_from_values(pred[r, c], gt[r, c]) for r, c in blocks]
    else:
        stats = [_stats_from_hists(*hists, lut) for hists in _quadrant_code_hists(pred, gt, cy, cx)]
    region, totals = 0.0, np.zeros(6)
    for n, s_p, s_pp, s_g, s_pg, s_ppg, constant in stats:
        if n == 0:
            continue  # an empty quadrant weighs 0
        n, s_g = round(n), round(s_g)
        totals += (n, s_p, s_pp, s_g, s_pg, s_ppg)
        region += n / gt.size * _quadrant_ssim(n, s_p, s_pp, s_g, s_pg, constant)
    _, s_p, s_pp, _, s_pg, s_ppg = totals.tolist()
    n_bg = gt.size - n_fg
    fg_score = _object_similarity(n_fg, s_pg, s_ppg)
    bg_score = _object_similarity(n_bg, n_bg - (s_p - s_pg), n_bg - 2 * (s_p - s_pg) + (s_pp - s_ppg))
    mean_g = n_fg / gt.size
    object_score = mean_g * fg_score + (1 - mean_g) * bg_score
    return max(0.0, float(alpha * object_score + (1 - alpha) * region))
