"""Structure measure (S-measure) of a continuous prediction against a binary GT.

Fan et al., "Structure-measure: A new way to evaluate foreground maps", ICCV 2017.
"""

from __future__ import annotations

import math

import numpy as np

from monai.utils import look_up_option

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


def _centroid(counts: np.ndarray, n_fg: int, rounding: str) -> int:
    """1-based centroid coordinate along one axis from the per-line GT pixel counts."""
    if rounding == "matlab":
        return int(math.floor(float(np.dot(counts, np.arange(1, counts.size + 1))) / n_fg + 0.5))
    return int(np.round(float(np.dot(counts, np.arange(counts.size))) / n_fg)) + 1


def compute_smeasure(pred: np.ndarray, gt: np.ndarray, alpha: float = 0.5, rounding: str = "matlab") -> float:
    """S-measure: ``alpha * object score + (1 - alpha) * region score``, clamped at 0.

    An empty GT scores ``1 - mean(pred)``, a full GT ``mean(pred)``. The region score splits both maps into four
    quadrants at the GT centroid; a quadrant with no pixel (centroid on the last row or column, e.g. a GT of
    one pixel in the bottom-right corner) has weight 0 and contributes 0, where the reference implementations
    produce NaN.

    Args:
        pred: (H, W) float64 in [0, 1].
        gt: (H, W) bool.
        alpha: weight of the object score.
        rounding: how the centroid is rounded, see ``CENTROID_ROUNDING``.
    """
    rounding = look_up_option(rounding, CENTROID_ROUNDING)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}.")
    n_fg = int(np.count_nonzero(gt))
    if n_fg == 0:
        return 1.0 - float(pred.mean())
    if n_fg == gt.size:
        return float(pred.mean())
    h, w = gt.shape
    cy = _centroid(np.count_nonzero(gt, axis=1), n_fg, rounding)
    cx = _centroid(np.count_nonzero(gt, axis=0), n_fg, rounding)
    pred_fg = np.where(gt, pred, 0.0)
    # per-column sums above / below the centroid row of p, p^2, g, p*g and (p*g)^2
    halves = []
    for rows in (slice(0, cy), slice(cy, h)):
        p, pg = pred[rows], pred_fg[rows]
        halves.append(
            np.stack(
                [
                    p.sum(axis=0),
                    np.einsum("ij,ij->j", p, p),
                    np.count_nonzero(gt[rows], axis=0).astype(np.float64),
                    pg.sum(axis=0),
                    np.einsum("ij,ij->j", pg, pg),
                ]
            )
        )
    quadrants = [
        (halves[0][:, :cx], (0, cy), (0, cx)),
        (halves[0][:, cx:], (0, cy), (cx, w)),
        (halves[1][:, :cx], (cy, h), (0, cx)),
        (halves[1][:, cx:], (cy, h), (cx, w)),
    ]
    region = 0.0
    for col_sums, (r0, r1), (c0, c1) in quadrants:
        n = (r1 - r0) * (c1 - c0)
        if n == 0:
            continue  # weight 0
        s_p, s_pp, s_g, s_pg, _ = col_sums.sum(axis=1).tolist()
        s_g = round(s_g)
        constant = False
        if s_g in (0, n):
            block = pred[r0:r1, c0:c1]
            constant = bool(block.min() == block.max())
        region += n / gt.size * _quadrant_ssim(n, s_p, s_pp, s_g, s_pg, constant)
    s_p, s_pp, _, s_pg, s_pg_sq = (halves[0].sum(axis=1) + halves[1].sum(axis=1)).tolist()
    n_bg = gt.size - n_fg
    fg_score = _object_similarity(n_fg, s_pg, s_pg_sq)
    bg_sum = n_bg - (s_p - s_pg)
    bg_sq = n_bg - 2 * (s_p - s_pg) + (s_pp - s_pg_sq)
    bg_score = _object_similarity(n_bg, bg_sum, bg_sq)
    mean_g = n_fg / gt.size
    object_score = mean_g * fg_score + (1 - mean_g) * bg_score
    return max(0.0, alpha * object_score + (1 - alpha) * region)
