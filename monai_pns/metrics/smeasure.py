"""Structure measure (S-measure) of a continuous prediction against a binary GT.

Fan et al., "Structure-measure: A new way to evaluate foreground maps", ICCV 2017.
"""

from __future__ import annotations

import math

import numpy as np

from monai.utils import look_up_option

from monai_pns.metrics.preprocess import CENTROID_ROUNDING, gt_centroid, quadrant_code_histogram

__all__ = ["compute_smeasure", "smeasure_from_quadrant_hist"]

_EPS = np.spacing(1.0)


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


def _stats_from_hists(quadrant_hist: np.ndarray, lut: np.ndarray) -> list[tuple]:
    """Per quadrant (TL, TR, BL, BR): (n, sum p, sum p^2, GT count, sum p on GT, sum p^2 on GT, pred constant)
    of a uint8 map, from its code histograms per quadrant and GT class (see ``smeasure_from_quadrant_hist``)."""
    order = [0, 2, 1, 3]  # rows 2q + gt, q = 2 * right + bottom: TL, BL, TR, BR
    hist_all = (quadrant_hist[0::2] + quadrant_hist[1::2])[order]
    powers = np.stack([np.ones_like(lut), lut, lut * lut], axis=1)  # (256, 3): counts, sums, sums of squares
    moments = np.concatenate([hist_all @ powers, quadrant_hist[1::2][order] @ powers], axis=1).tolist()
    constant = (np.count_nonzero(hist_all, axis=1) == 1).tolist()
    return [(*m, c) for m, c in zip(moments, constant)]


def _block_stats_from_values(pred: np.ndarray, gt: np.ndarray) -> tuple:
    """The statistics of ``_stats_from_hists`` for one block of a float map."""
    pred_fg = np.where(gt, pred, 0.0)
    n_fg = np.count_nonzero(gt)
    constant = n_fg in (0, gt.size) and bool(pred.min() == pred.max())
    s_pp, s_ppg = np.einsum("ij,ij->", pred, pred), np.einsum("ij,ij->", pred_fg, pred_fg)  # no BLAS threads
    return pred.size, pred.sum(), s_pp, n_fg, pred_fg.sum(), s_ppg, constant


def _combine(stats: list, n_fg: int, size: int, alpha: float) -> float:
    """S-measure from the per-quadrant statistics (TL, TR, BL, BR; empty quadrants have n = 0)."""
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


def smeasure_from_quadrant_hist(quadrant_hist: np.ndarray, lut: np.ndarray, alpha: float = 0.5) -> float:
    """S-measure of an 8-bit map from its code histogram per quadrant and GT class.

    Args:
        quadrant_hist: (8, 256) pixel counts per code, row ``gt + 2 * bottom + 4 * right`` for the split at the
            GT centroid (see ``quadrant_code_histogram``).
        lut: (256,) float64 value of every code.
        alpha: weight of the object score.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}.")
    size = float(quadrant_hist.sum())
    n_fg = int(round(float(quadrant_hist[1::2].sum())))
    if n_fg in (0, round(size)):
        mean = float(quadrant_hist.sum(axis=0) @ lut) / size
        return 1.0 - mean if n_fg == 0 else mean
    return _combine(_stats_from_hists(quadrant_hist, lut), n_fg, round(size), alpha)


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
    cy, cx = gt_centroid(gt, rounding)
    if lut is not None:
        return smeasure_from_quadrant_hist(quadrant_code_histogram(pred, gt, cy, cx), lut, alpha)
    n_fg = int(np.count_nonzero(gt))
    if n_fg in (0, gt.size):
        return 1.0 - float(pred.mean()) if n_fg == 0 else float(pred.mean())
    h, w = gt.shape
    blocks = [(r, c) for r in (slice(0, cy), slice(cy, h)) for c in (slice(0, cx), slice(cx, w))]
    blocks = [(r, c) for r, c in blocks if r.start < r.stop and c.start < c.stop]
    return _combine([_block_stats_from_values(pred[r, c], gt[r, c]) for r, c in blocks], n_fg, gt.size, alpha)
