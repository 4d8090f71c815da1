"""Clip transforms: sampling training windows and test clips, loading frames, per-clip augmentation."""

from __future__ import annotations

from monai_pns.transforms.anchor import DropAnchord
from monai_pns.transforms.crop import RandSymmetricCropResized
from monai_pns.transforms.framewise import RandFramewised
from monai_pns.transforms.loading import LoadFramesd
from monai_pns.transforms.normalization import PNS_MEAN, PNS_STD
from monai_pns.transforms.sequential import (
    SequentialClipsd,
    expand_frames,
    expand_sequential_clips,
    sequential_windows,
)
from monai_pns.transforms.window import RandClipWindowd, clip_window, count_frames, select_frames, window_starts

__all__ = [
    "DropAnchord",
    "LoadFramesd",
    "PNS_MEAN",
    "PNS_STD",
    "RandClipWindowd",
    "RandFramewised",
    "RandSymmetricCropResized",
    "SequentialClipsd",
    "clip_window",
    "count_frames",
    "expand_frames",
    "expand_sequential_clips",
    "select_frames",
    "sequential_windows",
    "window_starts",
]
