"""Confusion counts at the 256 thresholds and the count-based curves (Dice, IoU, sensitivity, ...)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["ThresholdCounts", "counts_from_level_hist", "compute_count_curves"]


class ThresholdCounts(NamedTuple):
    """TP, FP, FN, TN per threshold, each a (256,) int64 array ordered as ``THRESHOLDS`` (1 down to 0).

    Examples::

        >>> hist = np.zeros((2, 257), np.int64); hist[1, 256] = 3; hist[0, 1] = 5  # 3 polyp pixels at 1, 5 bg at 0
        >>> counts = counts_from_level_hist(hist)
        >>> int(counts.tp[0]), int(counts.fp[0]), int(counts.fp[-1]), int(counts.tn[0])
        (3, 0, 5, 5)
    """

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    tn: np.ndarray


def counts_from_level_hist(level_hist: np.ndarray) -> ThresholdCounts:
    """Counts at every threshold from one histogram of threshold levels split by GT class.

    Args:
        level_hist: (2, 257) pixel counts per level (see ``threshold_levels``): row 0 GT background,
            row 1 GT polyp. A pixel of level ``L`` is positive at threshold index ``i`` when ``L >= 256 - i``,
            so the positives at index ``i`` are a cumulative sum of the histogram read from level 256 down.
    """
    level_hist = np.asarray(level_hist, dtype=np.int64)
    if level_hist.shape != (2, 257):
        raise ValueError(f"level_hist must have shape (2, 257), got {level_hist.shape}.")
    above = np.cumsum(level_hist[:, ::-1], axis=1)[:, :256]
    n_bg, n_fg = level_hist.sum(axis=1)
    fp, tp = above
    return ThresholdCounts(tp=tp, fp=fp, fn=n_fg - tp, tn=n_bg - fp)


def _ratio(num: np.ndarray, den: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """num / den where ``valid`` (den must be > 0 there), else 0 (never NaN)."""
    return np.divide(num, den, out=np.zeros(np.shape(num)), where=valid)


def compute_count_curves(counts: ThresholdCounts, beta2: float = 1.0) -> dict[str, np.ndarray]:
    """Dice, IoU, sensitivity, specificity, precision, F1 and F-beta curves from threshold counts.

    Follows the MATLAB toolbox (``Fmeasure_calu``): at a threshold where TP == 0 every one of these is 0;
    otherwise Dice = 2TP / (|G| + |P|), IoU = TP / (TP + FP + FN), sensitivity = TP / (TP + FN),
    specificity = TN / (TN + FP) (0 when the GT has no background pixel), precision = TP / (TP + FP),
    F1 = 2PR / (P + R) and F-beta = (1 + beta2) PR / (beta2 P + R).

    Args:
        counts: the output of :func:`counts_from_level_hist`.
        beta2: beta squared of the F-measure curve (1 for the MATLAB toolbox, 0.3 for SUN-SEG).
    """
    if beta2 <= 0:
        raise ValueError(f"beta2 must be positive, got {beta2}.")
    tp, fp, fn, tn = counts
    hit = tp > 0  # every denominator but specificity's is positive there
    pos = tp + fp
    precision = _ratio(tp, pos, hit)
    recall = _ratio(tp, tp + fn, hit)
    return {
        "dice": _ratio(2 * tp, tp + fn + pos, hit),
        "iou": _ratio(tp, tp + fp + fn, hit),
        "sensitivity": recall,
        "specificity": _ratio(tn, tn + fp, hit & (tn + fp > 0)),
        "precision": precision,
        "f1": _ratio(2 * precision * recall, precision + recall, hit),
        "fmeasure": _ratio((1 + beta2) * precision * recall, beta2 * precision + recall, hit),
    }
