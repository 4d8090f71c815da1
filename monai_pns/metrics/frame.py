"""All per-frame video polyp segmentation metrics in one call."""

from __future__ import annotations

import numpy as np

from monai.utils import look_up_option

from monai_pns.metrics._histogram import (
    adaptive_counts_from_code_hist,
    mae_from_code_hist,
    smeasure_from_quadrant_hist,
)
from monai_pns.metrics.emeasure import adaptive_threshold_counts, compute_emeasure_from_counts
from monai_pns.metrics.preprocess import EVAL_MODES, PreparedFrame, prepare_frame
from monai_pns.metrics.smeasure import compute_smeasure
from monai_pns.metrics.threshold_curves import ThresholdCounts, compute_count_curves, counts_from_level_hist
from monai_pns.metrics.weighted_fmeasure import compute_weighted_fmeasure

__all__ = ["CURVE_KEYS", "SCALAR_KEYS", "FRAME_KEYS", "compute_mae", "frame_metrics", "metrics_from_prepared"]

#: (256,) curves over ``THRESHOLDS`` (1 down to 0)
CURVE_KEYS = ("dice", "iou", "sensitivity", "specificity", "precision", "f1", "fmeasure", "emeasure")
SCALAR_KEYS = ("smeasure", "weighted_fmeasure", "mae", "adaptive_emeasure")
FRAME_KEYS = CURVE_KEYS + SCALAR_KEYS
_F_BETA2 = {"matlab": 1.0, "sunseg": 0.3}


def compute_mae(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean absolute error ``mean(|pred - gt|)`` of a (H, W) float map in [0, 1] against a bool GT."""
    return float(np.where(gt, 1.0 - pred, pred).mean())


def _adaptive_counts(frame: PreparedFrame) -> ThresholdCounts:
    """Confusion counts at the adaptive threshold ``min(2 mean(pred), 1)``; from the code histogram when 8-bit."""
    if frame.code_hist is None:
        return adaptive_threshold_counts(frame.pred, frame.gt)
    return adaptive_counts_from_code_hist(frame.code_hist, frame.lut)


def metrics_from_prepared(frame: PreparedFrame, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray | float]:
    """The metrics of :func:`frame_metrics` from a frame prepared in its mode; ``keys`` limits the work."""
    mode = frame.mode
    keys = FRAME_KEYS if keys is None else tuple(look_up_option(k, FRAME_KEYS) for k in keys)
    out: dict[str, np.ndarray | float] = {}
    counts = counts_from_level_hist(frame.level_hist)
    if any(k in keys for k in CURVE_KEYS[:-1]):
        curves = compute_count_curves(counts, beta2=_F_BETA2[mode])
        out.update({k: v for k, v in curves.items() if k in keys})
    if "emeasure" in keys or "adaptive_emeasure" in keys:  # one call: the adaptive threshold as a 257th entry
        emeasure = compute_emeasure_from_counts(ThresholdCounts(*map(np.append, counts, _adaptive_counts(frame))))
        out["emeasure"], out["adaptive_emeasure"] = emeasure[:-1], float(emeasure[-1])
    if "smeasure" in keys:
        if frame.quadrant_hist is not None:
            out["smeasure"] = smeasure_from_quadrant_hist(frame.quadrant_hist, frame.lut)
        else:
            out["smeasure"] = compute_smeasure(frame.pred, frame.gt, rounding=mode)
    if "weighted_fmeasure" in keys:
        if frame.codes is not None:
            out["weighted_fmeasure"] = compute_weighted_fmeasure(
                frame.codes, frame.gt, lut=frame.lut, code_hist=frame.code_hist
            )
        else:
            out["weighted_fmeasure"] = compute_weighted_fmeasure(frame.pred, frame.gt)
    if "mae" in keys:
        if frame.code_hist is not None:
            out["mae"] = mae_from_code_hist(frame.code_hist, frame.lut)
        else:
            out["mae"] = compute_mae(frame.pred, frame.gt)
    return {k: out[k] for k in keys}


def frame_metrics(
    pred: np.ndarray, gt: np.ndarray, mode: str = "matlab", keys: tuple[str, ...] | None = None
) -> dict[str, np.ndarray | float]:
    """Every per-frame metric of the video polyp segmentation toolboxes.

    The prediction is resized to the GT size when needed (bicubic in "matlab" mode, bilinear in "sunseg"
    mode), scaled to [0, 1] (uint8 / 255) and min-max normalised unless constant; the GT is ``> 128``.

    Curves, (256,) float64 over ``THRESHOLDS`` = linspace(1, 0, 256), positive where pred >= threshold:
    ``dice``, ``iou``, ``sensitivity``, ``specificity``, ``precision``, ``f1`` (all 0 where TP == 0),
    ``fmeasure`` (beta^2 = 1 in "matlab" mode, i.e. ``f1``; beta^2 = 0.3 in "sunseg" mode) and ``emeasure``.
    In "sunseg" mode every curve uses the 8-bit quantisation ``uint8(pred * 255)`` of SUN-SEG/pysodmetrics.
    Scalars: ``smeasure`` (alpha 0.5), ``weighted_fmeasure`` (beta 1, 0 for an empty GT), ``mae`` and
    ``adaptive_emeasure`` (threshold ``min(2 mean(pred), 1)``). No value is ever NaN.

    Args:
        pred: (H', W') uint8 0..255 or float in [0, 1].
        gt: (H, W) uint8 greyscale (polyp > 128) or bool.
        mode: "matlab" (PNS-Net / PraNet MATLAB toolbox) or "sunseg" (SUN-SEG toolbox).
        keys: compute only these metrics (default all of ``FRAME_KEYS``).

    Examples::

        >>> gt = np.zeros((64, 64), np.uint8); gt[20:40, 20:40] = 255
        >>> out = frame_metrics(gt.copy(), gt)
        >>> out["dice"].shape, float(out["dice"].max()), out["mae"]
        ((256,), 1.0, 0.0)
    """
    mode = look_up_option(mode, EVAL_MODES)
    return metrics_from_prepared(prepare_frame(pred, gt, mode), keys)
