"""Enhanced-alignment measure (E-measure) of binarised maps, from pixel counts.

Fan et al., "Enhanced-alignment Measure for Binary Foreground Map Evaluation", IJCAI 2018.
"""

from __future__ import annotations

import numpy as np

from monai_pns.metrics.threshold_curves import ThresholdCounts

__all__ = ["adaptive_threshold_counts", "compute_emeasure_from_counts", "compute_adaptive_emeasure"]

_EPS = np.spacing(1.0)  # MATLAB's eps
_PAIR_VALUES = np.array([[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0]])  # prediction and GT values of TP, FP, FN, TN


def compute_emeasure_from_counts(counts: ThresholdCounts) -> np.ndarray:
    """E-measure of the binarised map at every threshold, from the four confusion counts.

    A binary prediction P and GT G take only four value pairs, so the enhanced alignment matrix
    ``((2 (G - mG)(P - mP) / ((G - mG)^2 + (P - mP)^2 + eps)) + 1)^2 / 4`` takes four values, each weighted by
    its pixel count; the score is its sum over ``H * W - 1 + eps``. An all-black GT scores the sum of ``1 - P``,
    an all-white GT the sum of ``P`` (same denominator), as in the MATLAB toolbox and pysodmetrics.

    Args:
        counts: TP, FP, FN, TN arrays of any common shape.

    Returns:
        float64 array of the counts' shape.
    """
    stacked = np.array(counts, dtype=np.float64)  # (4, ...): TP, FP, FN, TN
    tp, fp, fn, _ = stacked
    total = stacked.sum(axis=0)
    n_fg = tp + fn
    pos = tp + fp
    values = _PAIR_VALUES.reshape(2, 4, *(1,) * tp.ndim)  # (P, G) value of each count's pixels
    dp, dg = values[0] - pos / total, values[1] - n_fg / total
    align = 2 * dp * dg / (dp**2 + dg**2 + _EPS)
    enhanced = (stacked * (align + 1) ** 2 / 4).sum(axis=0)  # summed in the order TP, FP, FN, TN
    enhanced = np.where(n_fg == 0, total - pos, np.where(n_fg == total, pos, enhanced))
    return enhanced / (total - 1 + _EPS)


def adaptive_threshold_counts(pred: np.ndarray, gt: np.ndarray) -> ThresholdCounts:
    """TP, FP, FN, TN (0-d int64) at the adaptive threshold ``min(2 * mean(pred), 1)``, positive where pred >= it.

    Args:
        pred: (H, W) float64 in [0, 1].
        gt: (H, W) bool.
    """
    binary = pred >= min(2 * float(pred.mean()), 1.0)
    tp = np.count_nonzero(binary & gt)
    pos = np.count_nonzero(binary)
    n_fg = np.count_nonzero(gt)
    return ThresholdCounts(*np.array([tp, pos - tp, n_fg - tp, gt.size - n_fg - pos + tp]))


def compute_adaptive_emeasure(pred: np.ndarray, gt: np.ndarray) -> float:
    """E-measure at the adaptive threshold ``min(2 * mean(pred), 1)`` (positive where pred >= threshold).

    Args:
        pred: (H, W) float64 in [0, 1].
        gt: (H, W) bool.
    """
    return float(compute_emeasure_from_counts(adaptive_threshold_counts(pred, gt)))
