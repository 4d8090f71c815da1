"""The VPS protocol metrics as a MONAI ``CumulativeIterationMetric`` for engines and Ignite handlers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from monai.metrics import CumulativeIterationMetric
from monai.utils import look_up_option, string_list_all_gather

from monai_pns.data.frame_keys import FRAME_INDEX, FRAME_WRITE, VIDEO_ID, batch_frame_ids
from monai_pns.metrics.aggregation import SUMMARY_KEYS, VPSEvaluator
from monai_pns.metrics.frame import CURVE_KEYS, metrics_from_prepared
from monai_pns.metrics.preprocess import EVAL_MODES, prepare_frame

__all__ = ["VPSMetric"]

#: leading columns of a buffered row: process rank, video code in that process, frame index, write flag
_RANK, _CODE, _INDEX, _WRITE, _VALUES = 0, 1, 2, 3, 4


def _rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


class VPSMetric(CumulativeIterationMetric):
    """Video polyp segmentation metrics (maxDice, S_alpha, meanEm, ...) under the evaluation protocol.

    Every call scores each frame of a batch of clips (or images) with ``frame_metrics`` and buffers one row per
    frame; ``aggregate()`` then applies the protocol of ``VPSEvaluator``: first/last frame of each video skipped,
    averaged frame -> video -> all videos (one set, video-weighted), then max/mean over the thresholds. Wrapped by
    ``monai.handlers.IgniteMetricHandler`` it can be a ``SupervisedEvaluator``'s key metric (e.g. maxDice for
    best-checkpoint selection).

    Videos and frames are identified by the label's metadata, as :class:`monai_pns.transforms.LoadFramesd`
    records it and MONAI collates it: ``y.meta["video_id"]`` (a string per item), ``y.meta["frame_index"]``
    ((B, T), or (B,) for images) and ``y.meta["frame_write"]`` (same shape; absent: all True), or by the
    ``video_id`` / ``frame_index`` / ``frame_write`` arguments of a direct call. Frames flagged False are not
    scored: the overlap of the shifted last test clip and the PNS+ anchor frame count once, from the clip that
    writes them. A frame of a video scored twice is an error.

    Across processes (``torch.distributed``), MONAI's ``Cumulative`` gathers every process's rows before
    ``aggregate``: each row holds its process rank and the video's code in that process, and ``aggregate`` /
    ``evaluator`` gather the processes' code -> name tables (``monai.utils.string_list_all_gather``), so rows
    from any process mean the same video and the result equals a single-process run. Every process must call
    them (as ``IgniteMetricHandler`` does), every process must have scored at least one item, and a video's frames
    may be spread over processes but each scored once (``monai.data.DistributedSampler(even_divisible=False)``).

    Args:
        metric_name: a name of ``SUMMARY_KEYS`` or a sequence of them (``aggregate`` then returns a list).
        sigmoid: apply a sigmoid to ``y_pred`` (logits); otherwise ``y_pred`` holds probabilities in [0, 1].
        mode: "matlab" or "sunseg" (see ``frame_metrics``).
        skip_first_last: drop the first and last frame of each video.
        label_threshold: label values above it are polyp.
        video_key: metadata key of the video ids.
        frame_key: metadata key of the frame indices.
        write_key: metadata key of the write flags.

    Examples::

        >>> metric = VPSMetric("maxDice", sigmoid=True)
        >>> logits = torch.randn(2, 1, 3, 32, 32)  # (B, 1, T, H, W)
        >>> label = (torch.rand(2, 1, 3, 32, 32) > 0.5).float()
        >>> metric(logits, label, video_id=["a", "b"], frame_index=torch.arange(3).repeat(2, 1)).shape
        torch.Size([6, 260])
        >>> float(metric.aggregate()) <= 1.0
        True
    """

    def __init__(
        self,
        metric_name: str | Sequence[str] = "maxDice",
        sigmoid: bool = False,
        mode: str = "matlab",
        skip_first_last: bool = True,
        label_threshold: float = 0.5,
        video_key: str = VIDEO_ID,
        frame_key: str = FRAME_INDEX,
        write_key: str = FRAME_WRITE,
    ) -> None:
        super().__init__()
        names = (metric_name,) if isinstance(metric_name, str) else tuple(metric_name)
        if not names:
            raise ValueError("metric_name must name at least one of SUMMARY_KEYS.")
        self.metric_name = tuple(look_up_option(n, SUMMARY_KEYS) for n in names)
        self.sigmoid = sigmoid
        self.mode = look_up_option(mode, EVAL_MODES)
        self.skip_first_last = skip_first_last
        self.label_threshold = label_threshold
        self.video_key = video_key
        self.frame_key = frame_key
        self.write_key = write_key
        self.frame_keys = VPSEvaluator(self.mode, skip_first_last, self.metric_name).frame_keys
        self._video_codes: dict[str, int] = {}

    def _row_size(self) -> int:
        return _VALUES + sum(256 if k in CURVE_KEYS else 1 for k in self.frame_keys)

    def _identifiers(
        self, y: torch.Tensor, video_id: Any, frame_index: Any, frame_write: Any, batch: int, frames: int
    ) -> tuple[list[str], np.ndarray, np.ndarray]:
        meta = dict(getattr(y, "meta", None) or {})
        given = {self.video_key: video_id, self.frame_key: frame_index, self.write_key: frame_write}
        meta.update({k: v for k, v in given.items() if v is not None})
        try:
            return batch_frame_ids(meta, batch, frames, self.video_key, self.frame_key, self.write_key)
        except ValueError as err:
            raise ValueError(f"VPSMetric needs the video id and frame index of every frame: {err}") from None

    def _compute_tensor(  # type: ignore[override]
        self,
        y_pred: torch.Tensor,
        y: torch.Tensor | None = None,
        video_id: Any = None,
        frame_index: Any = None,
        frame_write: Any = None,
    ) -> torch.Tensor:
        """
        Args:
            y_pred: (B, 1, T, H, W) or (B, 1, H, W) logits (``sigmoid=True``) or probabilities.
            y: label of the same shape, polyp where > ``label_threshold``.
            video_id: B video ids (default: from ``y.meta``).
            frame_index: (B, T) or (B,) frame indices (default: from ``y.meta``).
            frame_write: (B, T) or (B,) flags, False for frames not to score (default: from ``y.meta``, or all True).

        Returns:
            (B * T, 4 + n) float64 rows: process rank, video code, frame index, write flag, the needed per-frame
            values (NaN for frames not written).
        """
        if y is None:
            raise ValueError("VPSMetric needs the label y.")
        if y_pred.shape != y.shape or y_pred.ndim not in (4, 5) or y_pred.shape[1] != 1:
            raise ValueError(
                f"y_pred and y must both be (B, 1, T, H, W) or (B, 1, H, W), got {tuple(y_pred.shape)} and "
                f"{tuple(y.shape)}."
            )
        pred = torch.sigmoid(y_pred.float()) if self.sigmoid else y_pred.float()
        pred = pred.as_tensor() if hasattr(pred, "as_tensor") else pred
        label = y.as_tensor() if hasattr(y, "as_tensor") else y
        if pred.ndim == 4:
            pred, label = pred.unsqueeze(2), label.unsqueeze(2)
        batch, frames = pred.shape[0], pred.shape[2]
        videos, index, writes = self._identifiers(y, video_id, frame_index, frame_write, batch, frames)
        pred_np = pred[:, 0].detach().cpu().double().numpy()
        gt_np = (label[:, 0] > self.label_threshold).detach().cpu().numpy()
        rows = np.full((batch * frames, self._row_size()), np.nan)
        rank = _rank()
        for b in range(batch):
            code = self._video_codes.setdefault(videos[b], len(self._video_codes))
            for t in range(frames):
                row = rows[b * frames + t]
                row[:_VALUES] = rank, code, index[b, t], writes[b, t]
                if writes[b, t]:
                    frame = prepare_frame(np.clip(pred_np[b, t], 0.0, 1.0), gt_np[b, t], self.mode)
                    values = metrics_from_prepared(frame, self.frame_keys)
                    row[_VALUES:] = np.concatenate(
                        [np.atleast_1d(np.asarray(values[k], dtype=np.float64)) for k in self.frame_keys]
                    )
        return torch.as_tensor(rows, dtype=torch.float64, device=y_pred.device)

    def _video_names(self) -> list[list[str]]:
        """Per process rank, its video names by code (gathered from every process when distributed)."""
        local = json.dumps(sorted(self._video_codes, key=self._video_codes.__getitem__))
        return [json.loads(table) for table in string_list_all_gather([local])]

    def evaluator(self) -> VPSEvaluator:
        """A ``VPSEvaluator`` holding every buffered frame of every process (for per-video results or curves)."""
        data = self.get_buffer()
        names = self._video_names()
        if not isinstance(data, torch.Tensor) or data.numel() == 0:
            raise ValueError("VPSMetric has no buffered frame to aggregate.")
        ev = VPSEvaluator(self.mode, self.skip_first_last, self.metric_name)
        for row in data.detach().cpu().numpy():
            if not row[_WRITE]:
                continue
            values, offset = {}, _VALUES
            for k in self.frame_keys:
                size = 256 if k in CURVE_KEYS else 1
                values[k] = row[offset : offset + size] if size > 1 else float(row[offset])
                offset += size
            ev.add_frame_metrics(values, names[int(row[_RANK])][int(row[_CODE])], int(row[_INDEX]))
        return ev

    def aggregate(self) -> torch.Tensor | list[torch.Tensor]:  # type: ignore[override]
        """The protocol value(s) of ``metric_name`` over every buffered frame, as 0-dim float64 tensors."""
        results = self.evaluator().set_results()["default"]
        values = [torch.tensor(results[n], dtype=torch.float64) for n in self.metric_name]
        return values[0] if len(values) == 1 else values

    def reset(self) -> None:
        super().reset()
        self._video_codes = {}
