"""Offline video inference: a clip model run over a stream of frames, T frames in memory at a time.

The clips are those of :func:`monai_pns.transforms.sequential_windows` (the released PNS-Net testing): consecutive
non-overlapping T-frame clips, the last one shifted to end at the last frame, a video shorter than T padded by
repeating its edge frames; every frame is predicted exactly once, the first and last included. They are formed as the
frames arrive, so the number of frames need not be known and at most T frames (+ the anchor, for PNS+) are held.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from monai.transforms import Compose, NormalizeIntensity, Resize

from monai_pns.transforms import PNS_MEAN, PNS_STD
from monai_pns.transforms.window import clip_window

__all__ = [
    "FramePrediction",
    "FramePredictor",
    "VideoPredictor",
    "calibration_frames",
    "frame_preprocessing",
    "probabilities_at",
]

ClipModel = Callable[[torch.Tensor], torch.Tensor]


def frame_preprocessing(
    spatial_size: Sequence[int] = (256, 448),
    normalize: bool = True,
    mean: Sequence[float] = PNS_MEAN,
    std: Sequence[float] = PNS_STD,
) -> Compose:
    """RGB ``uint8`` (H, W, 3) frame -> float (3, H', W') network input: the per-frame form of the bundle's
    evaluation chain (``LoadFramesd``: scale to [0, 1]; bilinear ``Resized``; per-channel ``NormalizeIntensityd``)."""
    steps: list = [
        lambda frame: torch.from_numpy(np.ascontiguousarray(frame.transpose(2, 0, 1))).float().div_(255.0),
        Resize(spatial_size=tuple(spatial_size), mode="bilinear"),
    ]
    if normalize:
        steps.append(NormalizeIntensity(subtrahend=mean, divisor=std, channel_wise=True))
    return Compose(steps)


def calibration_frames(sources: Iterable[Iterable[tuple[str, np.ndarray]]], preprocessing: Callable,
                       count: int = 32, stride: int = 5) -> torch.Tensor:
    """(N <= count, C, H, W) network inputs for int8 calibration: every ``stride``-th frame of each source in turn
    (:class:`~monai_pns.inference.FrameSource`: ``(name, RGB uint8 frame)`` pairs),
    through ``preprocessing`` (e.g. :func:`frame_preprocessing`), until ``count`` are taken.

    Raises:
        ValueError: when the sources hold no frame.
    """
    frames = (frame for source in sources for _, frame in itertools.islice(source, None, None, stride))
    taken = [preprocessing(frame) for frame in itertools.islice(frames, count)]
    if not taken:
        raise ValueError("no frame to calibrate the int8 encoder on: the calibration input is empty.")
    return torch.stack(taken)


def probabilities_at(logits: torch.Tensor, size: Sequence[int]) -> np.ndarray:
    """Logits (N, 1, H', W') -> foreground probabilities ``float32`` (N, H, W) resized (bilinear) to ``size``."""
    with torch.inference_mode():
        probs = F.interpolate(torch.sigmoid(logits.float().cpu()), size=tuple(size), mode="bilinear")
    return probs[:, 0].numpy()


@dataclass
class FramePrediction:
    """One frame's result: its index in the video, its name, the RGB ``uint8`` (H, W, 3) frame and the foreground
    probability ``float32`` (H, W) at the frame's own resolution."""

    index: int
    name: str
    frame: np.ndarray
    probability: np.ndarray


@dataclass
class _Frame:
    index: int
    name: str
    frame: np.ndarray
    tensor: torch.Tensor


class FramePredictor:
    """What the offline and the live predictor share: the network, the clip length T and the per-frame
    preprocessing of :func:`frame_preprocessing` (``self.preprocess``).

    Args:
        network: the clip model.
        spatial_size: (H', W'), the network's input size.
        clip_length: T, frames per clip (the PNS+ anchor not counted).
        normalize, mean, std: see :func:`frame_preprocessing`; the released checkpoints were trained without
            normalisation.

    Raises:
        ValueError: naming ``clip_length`` when it is below 1.
    """

    def __init__(
        self,
        network: ClipModel,
        spatial_size: Sequence[int] = (256, 448),
        clip_length: int = 5,
        normalize: bool = True,
        mean: Sequence[float] = PNS_MEAN,
        std: Sequence[float] = PNS_STD,
    ) -> None:
        if clip_length < 1:
            raise ValueError(f"clip_length must be >= 1, got {clip_length=}.")
        self.network = network
        self.clip_length = clip_length
        self.preprocess = frame_preprocessing(spatial_size, normalize, mean, std)


class VideoPredictor(FramePredictor):
    """Segment every frame of a video with a clip model, streaming: frames in, :class:`FramePrediction` out, in order.

    Args:
        network: a clip model, (1, 3, T, H', W') -> logits (1, 1, T, H', W') (or (1, 3, 1 + T, H', W') -> the same
            with ``anchor``): a PNSNet, its :func:`~monai_pns.inference.optimize_network` form, or an ONNX session
            wrapper.
        spatial_size, clip_length: see :class:`FramePredictor`.
        anchor: prepend the video's first frame to every clip (the network's ``takes_anchor``: PNS+).
        device: where the clips are sent (the network's device).
        kwargs: ``normalize``, ``mean``, ``std`` of :class:`FramePredictor`, by keyword.

    Examples::

        >>> predictor = VideoPredictor(PNSNet().eval(), spatial_size=(64, 112), clip_length=5)
        >>> frames = [(f"{i}", np.zeros((48, 80, 3), np.uint8)) for i in range(7)]
        >>> [p.probability.shape for p in predictor(frames)][-1]
        (48, 80)
    """

    def __init__(
        self, network: ClipModel, spatial_size: Sequence[int] = (256, 448), clip_length: int = 5, anchor: bool = False,
        *, device: str | torch.device = "cpu", **kwargs: Any,
    ) -> None:
        super().__init__(network, spatial_size, clip_length, **kwargs)
        self.anchor = anchor
        self.device = torch.device(device)

    def _run(self, clip: Sequence[_Frame], anchor: _Frame | None) -> list[np.ndarray]:
        """Probabilities (H, W) of each frame of one clip, each at its frame's own resolution."""
        tensors = [f.tensor for f in clip] if anchor is None else [anchor.tensor, *(f.tensor for f in clip)]
        with torch.inference_mode():
            logits = self.network(torch.stack(tensors, dim=1)[None].to(self.device))[0]  # (1, T, H', W')
        logits = logits.transpose(0, 1)  # (T, 1, H', W')
        return [probabilities_at(logits[i : i + 1], f.frame.shape[:2])[0] for i, f in enumerate(clip)]

    def __call__(self, frames: Iterable[tuple[str, np.ndarray]]) -> Iterator[FramePrediction]:
        """Frames ``(name, RGB uint8 (H, W, 3))`` in temporal order -> one :class:`FramePrediction` per frame."""
        t = self.clip_length
        recent: list[_Frame] = []  # the last T frames
        first: _Frame | None = None
        pending = 0  # frames at the end of ``recent`` not predicted yet
        count = 0
        for name, frame in frames:
            item = _Frame(count, name, frame, self.preprocess(frame))
            first = item if first is None else first
            recent = [*recent[-(t - 1):], item] if t > 1 else [item]
            count, pending = count + 1, pending + 1
            if pending == t:
                yield from self._emit(recent, recent, first)
                pending = 0
        if pending and count >= t:  # the last clip, shifted to end at the last frame
            yield from self._emit(recent, recent[-pending:], first)
        elif pending:  # a video shorter than T: edge frames repeated, as sequential_windows does
            clip = [recent[i] for i in clip_window(-((t - count) // 2), count, t)]
            yield from self._emit(clip, recent, first)

    def _emit(self, clip: Sequence[_Frame], new: Sequence[_Frame], first: _Frame | None) -> Iterator[FramePrediction]:
        probs = self._run(clip, first if self.anchor else None)
        position: dict[int, int] = {}
        for i, f in enumerate(clip):
            position.setdefault(id(f), i)  # a repeated edge frame: its first place, as sequential_windows writes it
        for f in new:
            yield FramePrediction(f.index, f.name, f.frame, probs[position[id(f)]])
