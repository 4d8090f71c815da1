"""The VPS protocol metrics as a MONAI ``CumulativeIterationMetric`` for engines and Ignite handlers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from monai.metrics import CumulativeIterationMetric
from monai.utils import look_up_option

from monai_pns.metrics.aggregation import SUMMARY_KEYS, VPSEvaluator
from monai_pns.metrics.frame import CURVE_KEYS, metrics_from_prepared
from monai_pns.metrics.preprocess import EVAL_MODES, prepare_frame

__all__ = ["VPSMetric"]


class VPSMetric(CumulativeIterationMetric):
    """Video polyp segmentation metrics (maxDice, S_alpha, meanEm, ...) under the evaluation protocol.

    Every call scores each frame of a batch of clips with ``frame_metrics`` and buffers one row per frame
    (video, frame index, the needed curves/scalars); ``aggregate()`` then applies the protocol of
    ``VPSEvaluator``: first/last frame of each video skipped, averaged frame -> video -> all videos (one set,
    video-weighted), then max/mean over the thresholds. Wrapped by ``monai.handlers.IgniteMetricHandler`` it
    can be a ``SupervisedEvaluator``'s key metric (e.g. maxDice for best-checkpoint selection).

    Videos and frames are identified by the label's metadata (a ``MetaTensor`` as MONAI loaders and
    ``list_data_collate`` produce): ``y.meta[video_key]`` (a string per batch item) and ``y.meta[frame_key]``
    (frame indices, (B, T) or (B,) for 2D frames), or by the ``video_id`` / ``frame_index`` arguments of a
    direct call. The buffer maps video ids to integer codes in this object, so aggregation is per process.

    Args:
        metric_name: a name of ``SUMMARY_KEYS`` or a sequence of them (``aggregate`` then returns a list).
        sigmoid: apply a sigmoid to ``y_pred`` (logits); otherwise ``y_pred`` holds probabilities in [0, 1].
        mode: "matlab" or "sunseg" (see ``frame_metrics``).
        skip_first_last: drop the first and last frame of each video.
        label_threshold: label values above it are polyp.
        video_key: metadata key of the video ids.
        frame_key: metadata key of the frame indices.

    Examples::

        >>> metric = VPSMetric("maxDice", sigmoid=True)
        >>> logits = torch.randn(2, 1, 3, 32, 32)  # (B, 1, T, H, W)
        >>> label = (torch.rand(2, 1, 3, 32, 32) > 0.5).float()
        >>> metric(logits, label, video_id=["a", "b"], frame_index=torch.arange(3).repeat(2, 1)).shape
        torch.Size([6, 258])
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
        video_key: str = "video_id",
        frame_key: str = "frame_index",
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
        self.frame_keys = VPSEvaluator(self.mode, skip_first_last, self.metric_name).frame_keys
        self._video_codes: dict[str, int] = {}

    def _row_size(self) -> int:
        return 2 + sum(256 if k in CURVE_KEYS else 1 for k in self.frame_keys)

    def _identifiers(self, y: torch.Tensor, video_id: Any, frame_index: Any, batch: int, frames: int):
        meta = getattr(y, "meta", {}) or {}
        video_id = meta.get(self.video_key) if video_id is None else video_id
        frame_index = meta.get(self.frame_key) if frame_index is None else frame_index
        if video_id is None or frame_index is None:
            missing = self.video_key if video_id is None else self.frame_key
            raise ValueError(
                f"VPSMetric needs the video id and frame index of every frame: label metadata key '{missing}' "
                "is missing (pass a MetaTensor label carrying it, or video_id= and frame_index=)."
            )
        videos = [video_id] if isinstance(video_id, (str, int)) else list(video_id)
        index = torch.as_tensor(frame_index).detach().cpu().numpy() if not isinstance(frame_index, int) else None
        index = np.full((batch, frames), frame_index) if index is None else index.reshape(-1)
        if len(videos) != batch or index.size != batch * frames:
            raise ValueError(
                f"got {len(videos)} video ids and {index.size} frame indices for a batch of {batch} clips of "
                f"{frames} frames."
            )
        return [str(v) for v in videos], index.reshape(batch, frames)

    def _compute_tensor(  # type: ignore[override]
        self, y_pred: torch.Tensor, y: torch.Tensor | None = None, video_id: Any = None, frame_index: Any = None
    ) -> torch.Tensor:
        """
        Args:
            y_pred: (B, 1, T, H, W) or (B, 1, H, W) logits (``sigmoid=True``) or probabilities.
            y: label of the same shape, polyp where > ``label_threshold``.
            video_id: B video ids (default: from ``y.meta``).
            frame_index: (B, T) or (B,) frame indices (default: from ``y.meta``).

        Returns:
            (B * T, 2 + n) float64 rows: video code, frame index, the needed per-frame values.
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
        videos, index = self._identifiers(y, video_id, frame_index, batch, frames)
        pred_np = pred[:, 0].detach().cpu().double().numpy()
        gt_np = (label[:, 0] > self.label_threshold).detach().cpu().numpy()
        rows = []
        for b in range(batch):
            code = self._video_codes.setdefault(videos[b], len(self._video_codes))
            for t in range(frames):
                frame = prepare_frame(np.clip(pred_np[b, t], 0.0, 1.0), gt_np[b, t], self.mode)
                values = metrics_from_prepared(frame, self.frame_keys)
                flat = [np.atleast_1d(np.asarray(values[k], dtype=np.float64)) for k in self.frame_keys]
                rows.append(np.concatenate([[code, index[b, t]], *flat]))
        return torch.as_tensor(np.stack(rows), dtype=torch.float64, device=y_pred.device)

    def evaluator(self) -> VPSEvaluator:
        """A ``VPSEvaluator`` holding every buffered frame (for per-video results or curves)."""
        data = self.get_buffer()
        if not isinstance(data, torch.Tensor) or data.numel() == 0:
            raise ValueError("VPSMetric has no buffered frame to aggregate.")
        names = {code: name for name, code in self._video_codes.items()}
        ev = VPSEvaluator(self.mode, self.skip_first_last, self.metric_name)
        for row in data.detach().cpu().numpy():
            values, offset = {}, 2
            for k in self.frame_keys:
                size = 256 if k in CURVE_KEYS else 1
                values[k] = row[offset : offset + size] if size > 1 else float(row[offset])
                offset += size
            ev.add_frame_metrics(values, names[int(row[0])], int(row[1]))
        return ev

    def aggregate(self) -> torch.Tensor | list[torch.Tensor]:  # type: ignore[override]
        """The protocol value(s) of ``metric_name`` over every buffered frame, as 0-dim float64 tensors."""
        results = self.evaluator().set_results()["default"]
        values = [torch.tensor(results[n], dtype=torch.float64) for n in self.metric_name]
        return values[0] if len(values) == 1 else values

    def reset(self) -> None:
        super().reset()
        self._video_codes = {}
