"""Protocol aggregation of per-frame metrics: frames -> videos -> sets."""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from monai.utils import look_up_option

from monai_pns.metrics.frame import CURVE_KEYS, FRAME_KEYS, frame_metrics
from monai_pns.metrics.preprocess import EVAL_MODES

__all__ = ["SUMMARY_KEYS", "SUMMARY_SOURCES", "required_frame_keys", "summarise_curves", "VPSEvaluator"]

#: summary name -> (frame metric, reduction over thresholds: "max", "mean" or None for a scalar)
SUMMARY_SOURCES: dict[str, tuple[str, str | None]] = {
    "maxDice": ("dice", "max"),
    "meanDice": ("dice", "mean"),
    "maxSpe": ("specificity", "max"),
    "maxIoU": ("iou", "max"),
    "meanIoU": ("iou", "mean"),
    "S_alpha": ("smeasure", None),
    "meanEm": ("emeasure", "mean"),
    "maxEm": ("emeasure", "max"),
    "adpEm": ("adaptive_emeasure", None),
    "wF": ("weighted_fmeasure", None),
    "meanF": ("fmeasure", "mean"),
    "maxF": ("fmeasure", "max"),
    "MAE": ("mae", None),
    "meanSen": ("sensitivity", "mean"),
}
SUMMARY_KEYS = tuple(SUMMARY_SOURCES)


def required_frame_keys(summary_keys: Sequence[str]) -> tuple[str, ...]:
    """The per-frame metrics (``FRAME_KEYS`` order) that the given summary names need."""
    needed = {SUMMARY_SOURCES[look_up_option(k, SUMMARY_KEYS)][0] for k in summary_keys}
    return tuple(k for k in FRAME_KEYS if k in needed)


def summarise_curves(averaged: Mapping[str, np.ndarray | float], summary_keys: Sequence[str]) -> dict[str, float]:
    """Reduce averaged curves to maxX / meanX over the thresholds; scalars pass through."""
    out = {}
    for name in summary_keys:
        source, reduction = SUMMARY_SOURCES[look_up_option(name, SUMMARY_KEYS)]
        value = np.asarray(averaged[source], dtype=np.float64)
        out[name] = float(value.max() if reduction == "max" else value.mean())
    return out


def _mean(items: Sequence[Mapping[str, np.ndarray | float]], keys: Sequence[str]) -> dict[str, np.ndarray | float]:
    return {k: np.mean([np.asarray(it[k], dtype=np.float64) for it in items], axis=0) for k in keys}


class VPSEvaluator:
    """Accumulates per-frame metrics per (set, video) and aggregates them as the VPS evaluation protocol does.

    Order of averaging (PNS-Net / PraNet MATLAB toolbox, SUN-SEG toolbox):

    1. per frame: the (256,) curves over the thresholds and the scalars (``frame_metrics``);
    2. per video: frames sorted by frame index, the first and the last frame dropped (``skip_first_last``),
       then the curves and the scalars averaged over the remaining frames;
    3. per set: the video curves and scalars averaged over the set's videos (every video weighs the same,
       whatever its length);
    4. only then maxX / meanX = max / mean of the averaged curve over the 256 thresholds. Taking the max per
       frame (or per video) before averaging would inflate maxDice.

    Per-video results apply step 4 to the video's own averaged curve. A video left with no frame after
    skipping is reported with a warning and left out of its set.

    Args:
        mode: "matlab" or "sunseg", passed to ``frame_metrics``.
        skip_first_last: drop the first and last frame of every video (protocol default).
        summary_keys: summary names to report, a subset of ``SUMMARY_KEYS`` (default all).

    Examples::

        >>> ev = VPSEvaluator()
        >>> gt = np.zeros((32, 32), np.uint8); gt[8:20, 8:20] = 255
        >>> for i in range(4):
        ...     _ = ev.add_frame(gt.copy(), gt, video="case1", frame_index=i, set_name="CVC-300")
        >>> ev.set_results()["CVC-300"]["maxDice"]
        1.0
    """

    def __init__(
        self, mode: str = "matlab", skip_first_last: bool = True, summary_keys: Sequence[str] | None = None
    ) -> None:
        self.mode = look_up_option(mode, EVAL_MODES)
        self.skip_first_last = skip_first_last
        self.summary_keys = tuple(
            look_up_option(k, SUMMARY_KEYS) for k in (SUMMARY_KEYS if summary_keys is None else summary_keys)
        )
        if not self.summary_keys:
            raise ValueError("summary_keys must name at least one of SUMMARY_KEYS.")
        self.frame_keys = required_frame_keys(self.summary_keys)
        self._frames: dict[tuple[Hashable, Hashable], dict[int, dict]] = {}

    def reset(self) -> None:
        self._frames = {}

    def add_frame(
        self, pred: np.ndarray, gt: np.ndarray, video: Hashable, frame_index: int, set_name: Hashable = "default"
    ) -> dict:
        """Score one frame with ``frame_metrics`` and store it; returns the frame's metrics."""
        metrics = frame_metrics(pred, gt, mode=self.mode, keys=self.frame_keys)
        self.add_frame_metrics(metrics, video, frame_index, set_name)
        return metrics

    def add_frame_metrics(
        self,
        metrics: Mapping[str, np.ndarray | float],
        video: Hashable,
        frame_index: int,
        set_name: Hashable = "default",
    ) -> None:
        """Store precomputed per-frame metrics (must hold every key of ``self.frame_keys``)."""
        missing = [k for k in self.frame_keys if k not in metrics]
        if missing:
            raise ValueError(f"frame metrics of video {video!r} frame {frame_index} miss keys {missing}.")
        frames = self._frames.setdefault((set_name, video), {})
        frame_index = int(frame_index)
        if frame_index in frames:
            raise ValueError(f"frame {frame_index} of video {video!r} (set {set_name!r}) was added twice.")
        frames[frame_index] = {k: metrics[k] for k in self.frame_keys}

    def _video_averages(self) -> list[tuple[Hashable, Hashable, int, dict]]:
        out = []
        for (set_name, video), frames in self._frames.items():
            order = sorted(frames)
            if self.skip_first_last:
                order = order[1:-1]
            if not order:
                warnings.warn(
                    f"video {video!r} of set {set_name!r} has {len(frames)} frame(s): none left after skipping "
                    "the first and last frame; it is left out of the set."
                )
                continue
            out.append((set_name, video, len(order), _mean([frames[i] for i in order], self.frame_keys)))
        return out

    def video_results(self) -> list[dict]:
        """One row per video: ``set``, ``video``, ``frames`` (scored frames) and the summary values."""
        return [
            {"set": s, "video": v, "frames": n, **summarise_curves(avg, self.summary_keys)}
            for s, v, n, avg in self._video_averages()
        ]

    def set_curves(self) -> dict[Hashable, dict[str, np.ndarray | float]]:
        """Per set, the video-averaged curves (256,) and scalars (steps 1-3 above)."""
        by_set: dict[Hashable, list[dict]] = {}
        for set_name, _, _, avg in self._video_averages():
            by_set.setdefault(set_name, []).append(avg)
        return {s: _mean(videos, self.frame_keys) for s, videos in by_set.items()}

    def set_results(self) -> dict[Hashable, dict[str, float]]:
        """Per set, the summary values (maxDice, S_alpha, ...) plus ``videos`` and ``frames`` counts."""
        counts: dict[Hashable, list[int]] = {}
        for set_name, _, n, _ in self._video_averages():
            counts.setdefault(set_name, []).append(n)
        return {
            s: {**summarise_curves(curves, self.summary_keys), "videos": len(counts[s]), "frames": sum(counts[s])}
            for s, curves in self.set_curves().items()
        }

    @property
    def curve_keys(self) -> tuple[str, ...]:
        return tuple(k for k in self.frame_keys if k in CURVE_KEYS)
