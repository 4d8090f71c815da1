"""Speed machinery of the 8-bit path: labelled code histograms of a uint8 prediction and the metrics read from them.

An 8-bit prediction takes at most 256 values, so every count the metrics need (confusion counts at the 256
thresholds, S-measure quadrant statistics, MAE, the adaptive threshold's counts) is a sum over a histogram of its
codes split by GT class (and S-measure quadrant), computed in one OpenCV ``calcHist`` pass. The readable
definitions are the float paths (``prepare_frame`` on a float map, ``compute_smeasure``, ``compute_mae``, ...);
the tests check that both agree.
"""

from __future__ import annotations

import cv2
import numpy as np

from monai_pns.metrics.smeasure import smeasure_from_stats
from monai_pns.metrics.threshold_curves import ThresholdCounts

__all__ = [
    "CALCHIST_EXACT_LIMIT",
    "adaptive_counts_from_code_hist",
    "code_histogram",
    "level_histogram",
    "mae_from_code_hist",
    "quadrant_code_histogram",
    "smeasure_from_quadrant_hist",
]

#: OpenCV histograms count in float32: exact below 2^24 pixels; larger maps use np.bincount
CALCHIST_EXACT_LIMIT = 1 << 24


def code_histogram(codes: np.ndarray, labels: np.ndarray | None = None, n_labels: int = 1) -> np.ndarray:
    """Exact (n_labels, 256) float64 pixel counts of a uint8 map per code and per uint8 label (0..n_labels-1)."""
    if labels is None:
        labels, n_labels = np.zeros_like(codes), 1
    if codes.size >= CALCHIST_EXACT_LIMIT:
        flat = codes.astype(np.int64).ravel() + 256 * labels.astype(np.int64).ravel()
        return np.bincount(flat, minlength=256 * n_labels).reshape(n_labels, 256).astype(np.float64)
    hist = cv2.calcHist([codes, labels], [0, 1], None, [256, n_labels], [0, 256, 0, n_labels])
    return hist.T.astype(np.float64)


def quadrant_code_histogram(codes: np.ndarray, gt: np.ndarray, row: int, column: int) -> np.ndarray:
    """(8, 256) pixel counts per code of a uint8 map, row ``gt + 2 * bottom + 4 * right`` for the split of the
    frame after ``row`` rows and ``column`` columns (one histogram pass).

    The columns are counted under four sets of 8 labels by column modulo 4, added up at the end: neighbouring
    pixels of one code then increment different counters, which makes maps with large uniform areas 2.5x faster
    (each increment of one counter otherwise waits for the previous one).
    """
    columns = np.arange(gt.shape[1])
    column_labels = (4 * (columns >= column) + 8 * (columns & 3)).astype(np.uint8)
    labels = gt.view(np.uint8) + column_labels
    labels[row:] += 2
    return code_histogram(codes, labels, 32).reshape(4, 8, 256).sum(axis=0)


def level_histogram(code_hist: np.ndarray, level_lut: np.ndarray) -> np.ndarray:
    """(2, 257) int64 pixel counts per threshold level (see ``threshold_levels``) for GT background and polyp, from
    the (2, 256) code counts and the level of every code."""
    return np.stack([np.bincount(level_lut, weights=row, minlength=257) for row in code_hist]).astype(np.int64)


def mae_from_code_hist(code_hist: np.ndarray, lut: np.ndarray) -> float:
    """Mean absolute error: ``|p - 0|`` on the background, ``|p - 1|`` on the polyp, from the (2, 256) code counts
    and the (256,) value of every code."""
    bg, fg = code_hist
    return float((bg @ lut + fg @ (1.0 - lut)) / code_hist.sum())


def adaptive_counts_from_code_hist(code_hist: np.ndarray, lut: np.ndarray) -> ThresholdCounts:
    """Confusion counts at the adaptive threshold ``min(2 mean(pred), 1)`` (positive where pred >= it), from the
    (2, 256) code counts and the value of every code."""
    bg, fg = code_hist
    threshold = min(2 * float((bg + fg) @ lut) / float(code_hist.sum()), 1.0)
    positive = lut >= threshold
    tp, fp = fg[positive].sum(), bg[positive].sum()
    return ThresholdCounts(tp, fp, fg.sum() - tp, bg.sum() - fp)


def _quadrant_stats(quadrant_hist: np.ndarray, lut: np.ndarray) -> list[tuple]:
    """Per quadrant (TL, TR, BL, BR): the statistics of ``smeasure_from_stats`` of a uint8 map, from its code
    histograms per quadrant and GT class."""
    order = [0, 2, 1, 3]  # rows 2q + gt, q = 2 * right + bottom: TL, BL, TR, BR
    hist_all = (quadrant_hist[0::2] + quadrant_hist[1::2])[order]
    powers = np.stack([np.ones_like(lut), lut, lut * lut], axis=1)  # (256, 3): counts, sums, sums of squares
    moments = np.concatenate([hist_all @ powers, quadrant_hist[1::2][order] @ powers], axis=1).tolist()
    constant = (np.count_nonzero(hist_all, axis=1) == 1).tolist()
    return [(*m, c) for m, c in zip(moments, constant)]


def smeasure_from_quadrant_hist(quadrant_hist: np.ndarray, lut: np.ndarray, alpha: float = 0.5) -> float:
    """S-measure of an 8-bit map (``compute_smeasure``) from its code histogram per quadrant and GT class.

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
    return smeasure_from_stats(_quadrant_stats(quadrant_hist, lut), n_fg, round(size), alpha)
