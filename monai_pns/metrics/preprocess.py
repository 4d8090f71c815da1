"""Per-frame preparation shared by every VPS metric: resizing, min-max normalisation and threshold levels."""

from __future__ import annotations

import cv2
import numpy as np

from monai.utils import look_up_option

from monai_pns.metrics._histogram import level_histogram, quadrant_code_histogram
from monai_pns.metrics.smeasure import gt_centroid

__all__ = ["EVAL_MODES", "THRESHOLDS", "PreparedFrame", "prepare_frame", "threshold_levels"]

#: the 256 binarisation thresholds of the MATLAB toolbox, from 1 down to 0 (index 0 is threshold 1)
THRESHOLDS = np.linspace(1.0, 0.0, 256)
_ASCENDING = np.ascontiguousarray(THRESHOLDS[::-1])
_ASCENDING_OPEN = np.append(_ASCENDING, np.inf)  # a threshold above every value, after the last one
#: "matlab": PNS-Net / PraNet MATLAB toolbox; "sunseg": SUN-SEG Python toolbox (pysodmetrics definitions)
EVAL_MODES = ("matlab", "sunseg")
_INTERPOLATION = {"matlab": cv2.INTER_CUBIC, "sunseg": cv2.INTER_LINEAR}


class PreparedFrame:
    """A prediction normalised to [0, 1] at the ground-truth size, with its binary ground truth.

    An 8-bit prediction is kept as its codes and a 256-entry table of their normalised values, so that most
    metrics reduce to histograms; ``pred`` is then built on first use.

    Attributes:
        mode: "matlab" or "sunseg": the toolbox whose quantisation and centroid rounding the frame follows.
        gt: (H, W) bool, True on polyp pixels.
        level_hist: (2, 257) int64: pixel counts per threshold level for GT background (row 0) and polyp (row 1).
        codes: for an 8-bit prediction, the (H, W) uint8 map with ``pred == lut[codes]``; else None.
        lut: (256,) float64 value of every code, or None.
        code_hist: (2, 256) int64 pixel counts per code for GT background and polyp, or None.
        quadrant_hist: (8, 256) float64 counts per code and per (GT class, S-measure quadrant), see
            ``monai_pns.metrics._histogram.quadrant_code_histogram``, or None.
        pred: (H, W) float64 in [0, 1] after min-max normalisation.

    Examples::

        >>> gt = np.zeros((8, 8), np.uint8); gt[2:5, 2:5] = 255
        >>> frame = prepare_frame(gt // 2, gt)  # 8-bit: kept as codes + lookup table
        >>> float(frame.pred.max()), frame.level_hist.shape, int(frame.code_hist[1, 127])
        (1.0, (2, 257), 9)
    """

    def __init__(
        self,
        mode: str,
        gt: np.ndarray,
        level_hist: np.ndarray,
        pred: np.ndarray | None = None,
        codes: np.ndarray | None = None,
        lut: np.ndarray | None = None,
        code_hist: np.ndarray | None = None,
        quadrant_hist: np.ndarray | None = None,
    ) -> None:
        if pred is None and (codes is None or lut is None):
            raise ValueError("PreparedFrame needs pred, or codes with their lut.")
        self.mode = look_up_option(mode, EVAL_MODES)
        self.gt, self.level_hist = gt, level_hist
        self.codes, self.lut, self.code_hist, self.quadrant_hist = codes, lut, code_hist, quadrant_hist
        self._pred = pred

    @property
    def pred(self) -> np.ndarray:
        if self._pred is None:
            self._pred = cv2.LUT(self.codes, self.lut).reshape(self.codes.shape)  # == lut[codes]
        return self._pred


def threshold_levels(pred: np.ndarray, mode: str = "matlab") -> np.ndarray:
    """Number of the 256 thresholds each pixel reaches: 0..256; a pixel is positive at threshold index ``i``
    (threshold ``THRESHOLDS[i]``) when its level is at least ``256 - i``.

    In "matlab" mode the comparison ``pred >= THRESHOLDS[i]`` is exact for any float; in "sunseg" mode the
    prediction is first quantised to 8 bits by truncation, ``uint8(pred * 255)``, as pysodmetrics does.
    """
    mode = look_up_option(mode, EVAL_MODES)
    if mode == "sunseg":
        return (pred * 255).astype(np.uint8).astype(np.intp) + 1
    # candidate from the 8-bit grid, then corrected by one step where the float thresholds disagree
    quant = (pred * 255).astype(np.intp)
    np.minimum(quant, 255, out=quant)
    levels = quant + 1
    levels -= np.take(_ASCENDING, quant) > pred
    quant += 1  # the next threshold up; past the last one, never reached
    levels += np.take(_ASCENDING_OPEN, quant) <= pred
    return levels


def _normalise(values: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """MATLAB ``mapminmax(x, 0, 1)`` with the constant-map case left as is."""
    if vmax != vmin:
        return (values - vmin) / (vmax - vmin)
    return values


def _binary_gt(gt: np.ndarray) -> np.ndarray:
    gt = np.asarray(gt)
    if gt.ndim != 2:
        raise ValueError(f"gt must be a 2D greyscale map (H, W), got shape {gt.shape}.")
    if gt.dtype == bool:
        return gt
    if gt.dtype != np.uint8:
        raise ValueError(f"gt must be uint8 greyscale (polyp > 128) or bool, got dtype {gt.dtype}.")
    return gt > 128


def prepare_frame(pred: np.ndarray, gt: np.ndarray, mode: str = "matlab") -> PreparedFrame:
    """Bring a prediction to the toolboxes' normalised form.

    Args:
        pred: (H', W') uint8 0..255, or float in [0, 1]; (H', W', C) uses channel 0 like the MATLAB toolbox.
            Resized to the GT size when it differs (bicubic in "matlab" mode, bilinear in "sunseg" mode, on the
            input dtype: a uint8 map is resized as uint8 as MATLAB ``imresize`` does on the PNG it reads).
        gt: (H, W) uint8 greyscale where > 128 is polyp, or bool.
        mode: "matlab" or "sunseg".
    """
    mode = look_up_option(mode, EVAL_MODES)
    gt = _binary_gt(gt)
    pred = np.asarray(pred)
    if pred.ndim == 3:
        pred = pred[..., 0]
    if pred.ndim != 2:
        raise ValueError(f"pred must be a 2D map (H, W) or (H, W, C), got shape {pred.shape}.")
    if pred.dtype == bool:
        pred = pred.astype(np.float64)
    if pred.dtype != np.uint8 and not np.issubdtype(pred.dtype, np.floating):
        raise ValueError(f"pred must be uint8 (0..255) or float in [0, 1], got dtype {pred.dtype}.")
    if pred.size == 0:
        raise ValueError(f"pred must not be empty, got shape {pred.shape}.")
    if pred.dtype != np.uint8:
        pred = pred.astype(np.float64)
        vmin, vmax = float(pred.min()), float(pred.max())
        if not (np.isfinite(vmin) and np.isfinite(vmax)) or vmin < 0.0 or vmax > 1.0:
            raise ValueError(f"a float pred must lie in [0, 1] without NaN, got range [{vmin}, {vmax}].")
    if pred.shape != gt.shape:
        pred = cv2.resize(pred, (gt.shape[1], gt.shape[0]), interpolation=_INTERPOLATION[mode])
        if pred.dtype != np.uint8:
            vmin, vmax = float(pred.min()), float(pred.max())
    if pred.dtype == np.uint8:
        return _prepare_uint8(pred, gt, mode)
    pred = _normalise(pred, vmin, vmax)
    levels = threshold_levels(pred, mode)
    hist = np.bincount((levels + 257 * gt).ravel(), minlength=514).reshape(2, 257)
    return PreparedFrame(mode, pred=pred, gt=gt, level_hist=hist)


def _prepare_uint8(codes: np.ndarray, gt: np.ndarray, mode: str) -> PreparedFrame:
    """Fast path for 8-bit maps: every per-pixel quantity is a 256-entry lookup table, every count a histogram
    (``monai_pns.metrics._histogram``)."""
    codes = np.ascontiguousarray(codes)
    split = gt_centroid(gt, mode)  # the centroid rounding follows the mode's toolbox
    quadrant_hist = quadrant_code_histogram(codes, gt, *split)
    code_hist = quadrant_hist.reshape(4, 2, 256).sum(0).astype(np.int64)  # exact integer counts
    present = np.flatnonzero(code_hist.sum(0))
    # codes outside [min, max] are absent; clipping keeps their table entries (and threshold levels) in range
    lut = np.clip(_normalise(np.arange(256) / 255, present[0] / 255, present[-1] / 255), 0.0, 1.0)
    hist = level_histogram(code_hist, threshold_levels(lut, mode))
    return PreparedFrame(
        mode, gt=gt, level_hist=hist, codes=codes, lut=lut, code_hist=code_hist, quadrant_hist=quadrant_hist
    )
