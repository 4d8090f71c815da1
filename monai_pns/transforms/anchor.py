"""Drop the PNS+ anchor frame from a clip's label, so that it matches the network's T output frames."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform

from monai_pns.transforms.window import select_frames

__all__ = ["DropAnchord"]


class DropAnchord(MapTransform):
    """Remove frame 0 (the anchor) of (C, 1 + T, H, W) clips under ``keys``, with its per-frame metadata.

    ``PNSPlusNet`` takes the anchor (the video's first frame) followed by T local frames and predicts the T local
    frames only; applied to the label, this makes the label (and its ``frame_index`` / ``frame_write`` / ``frame_path``
    metadata, which ``VPSMetric`` and ``VPSPredictionWriter`` read) match the prediction frame for frame.

    Args:
        keys: keys of loaded clips (C, 1 + T, H, W), T >= 1.
        allow_missing_keys: don't raise when a key is missing.

    Examples::

        >>> drop = DropAnchord(keys="label")
        >>> drop({"label": torch.zeros(1, 6, 32, 64)})["label"].shape  # (1, 5, 32, 64)
    """

    def __init__(self, keys: KeysCollection, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            clip = d[key]
            if clip.ndim != 4 or clip.shape[1] < 2:
                raise ValueError(f"key '{key}': expected a (C, 1 + T, H, W) clip with T >= 1, got {tuple(clip.shape)}.")
            d[key] = select_frames(clip, range(1, clip.shape[1]))
        return d
