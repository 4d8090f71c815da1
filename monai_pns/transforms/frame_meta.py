"""Writing and cutting the per-frame metadata of :mod:`monai_pns.data.frame_keys` in a ``MetaTensor``'s ``.meta``:
what :class:`~monai_pns.transforms.LoadFramesd` records, and its cut to a window of frames."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import torch
from monai.data import MetaTensor
from monai.utils import MetaKeys

from monai_pns.data.frame_keys import FRAME_INDEX, FRAME_PATH, FRAME_WRITE, VIDEO_ID

__all__ = ["frame_meta", "select_frame_meta", "with_frame_meta"]


def frame_meta(
    frame_index: int | Sequence[int],
    frame_write: bool | Sequence[bool],
    frame_path: str | Sequence[str],
    spatial_shape: Sequence[int],
    video_id: Hashable | None = None,
) -> dict[str, Any]:
    """The metadata entries of one item: sequences for a clip (T frames), scalars for a single image.

    ``video_id`` None leaves the key out (an item without a case name).
    """
    meta: dict[str, Any] = {
        FRAME_INDEX: torch.as_tensor(frame_index, dtype=torch.long),
        FRAME_WRITE: torch.as_tensor(frame_write, dtype=torch.bool),
        FRAME_PATH: frame_path if isinstance(frame_path, str) else [str(p) for p in frame_path],
        MetaKeys.SPATIAL_SHAPE: torch.as_tensor(spatial_shape, dtype=torch.long),
    }
    if video_id is not None:
        meta[VIDEO_ID] = str(video_id)
    return meta


def select_frame_meta(meta: Mapping[str, Any], indices: Sequence[int], writes: Sequence[bool] | None = None) -> dict:
    """``meta`` of a clip cut to its frames at positions ``indices`` (along T), with ``writes`` as the new write
    flags when given. Keys of the contract that ``meta`` lacks stay absent; other keys are kept as they are."""
    out = dict(meta)
    positions = torch.as_tensor(list(indices), dtype=torch.long)
    if FRAME_INDEX in meta:
        out[FRAME_INDEX] = torch.as_tensor(meta[FRAME_INDEX])[positions]
    if writes is not None:
        out[FRAME_WRITE] = torch.as_tensor(list(writes), dtype=torch.bool)
    elif FRAME_WRITE in meta:
        out[FRAME_WRITE] = torch.as_tensor(meta[FRAME_WRITE])[positions]
    if FRAME_PATH in meta:
        out[FRAME_PATH] = [meta[FRAME_PATH][i] for i in indices]
    if MetaKeys.SPATIAL_SHAPE in meta:
        shape = torch.as_tensor(meta[MetaKeys.SPATIAL_SHAPE]).clone()
        shape[0] = len(positions)
        out[MetaKeys.SPATIAL_SHAPE] = shape
    return out


def with_frame_meta(value: object, indices: Sequence[int], writes: Sequence[bool] | None = None) -> object:
    """A clip ``value`` already cut to ``indices`` gets its ``.meta`` cut likewise (a ``MetaTensor`` only)."""
    if isinstance(value, MetaTensor) and FRAME_INDEX in value.meta:
        value.meta = select_frame_meta(value.meta, indices, writes)
    return value
