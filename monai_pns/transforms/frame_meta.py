"""The per-frame metadata contract: what the clip transforms record in a ``MetaTensor``'s ``.meta`` for later stages.

:class:`~monai_pns.transforms.LoadFramesd` puts, into the ``.meta`` of every tensor it loads (image and label):

- ``video_id``: the datalist case name (the item's ``"case"``), e.g. ``"CVC-ClinicDB-612-Test/1"``;
- ``frame_index``: the case frame index of each output frame, a long tensor (T,) (0-dim for a single image);
- ``frame_write``: whether this item is the one whose prediction of each frame is written and scored, a bool
  tensor (T,) (0-dim for a single image); all True unless :class:`SequentialClipsd` said otherwise;
- ``frame_path``: the frame ref of each output frame, a list of T strings (one string for a single image);
- ``spatial_shape``: the original spatial shape, (T, H, W) or (H, W), as MONAI's ``LoadImage`` records it.

Tensors collate to (B, T) / (B,) with ``monai.data.list_data_collate``; ``frame_path`` collates, as MONAI does for
every per-item list, transposed (T tuples of B strings) and ``decollate_batch`` gives it back per item.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor
from monai.utils import MetaKeys

__all__ = [
    "FRAME_INDEX",
    "FRAME_META_KEYS",
    "FRAME_PATH",
    "FRAME_WRITE",
    "VIDEO_ID",
    "batch_frame_ids",
    "frame_meta",
    "select_frame_meta",
    "with_frame_meta",
]

VIDEO_ID, FRAME_INDEX, FRAME_WRITE, FRAME_PATH = "video_id", "frame_index", "frame_write", "frame_path"
FRAME_META_KEYS = (VIDEO_ID, FRAME_INDEX, FRAME_WRITE, FRAME_PATH)


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


def _frames_array(value: Any, batch: int, frames: int, name: str) -> np.ndarray:
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, torch.Tensor) for v in value):
        # MONAI's collation of a per-item list: one (B,) tensor per frame position
        array = torch.stack([v.detach().cpu().reshape(-1) for v in value], dim=1).numpy()
    elif isinstance(value, torch.Tensor):
        array = value.detach().cpu().numpy()
    else:
        array = np.asarray(value)
    if array.size != batch * frames:
        raise ValueError(f"'{name}' holds {array.size} values for a batch of {batch} items of {frames} frames.")
    return array.reshape(batch, frames)


def batch_frame_ids(
    meta: Mapping[str, Any],
    batch: int,
    frames: int,
    video_key: str = VIDEO_ID,
    index_key: str = FRAME_INDEX,
    write_key: str = FRAME_WRITE,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Read the video id, frame indices and write flags of a batch of ``batch`` items of ``frames`` frames.

    ``meta`` is a collated batch's metadata (ids: a list of B strings; indices and flags: (B, T) or (B,) tensors,
    or MONAI's transposed lists of (B,) tensors) or one item's (``batch`` = 1: a string, (T,) tensors). A missing
    ``write_key`` means every frame is written.

    Returns:
        B video ids, (B, T) int64 frame indices, (B, T) bool write flags.

    Raises:
        ValueError: a key is missing or holds the wrong number of values, naming it.
    """
    for key in (video_key, index_key):
        if meta.get(key) is None:
            raise ValueError(
                f"metadata key '{key}' is missing: load the items with monai_pns.transforms.LoadFramesd (video ids "
                "come from the datalist items' 'case' key) or pass the ids explicitly."
            )
    video_id = meta[video_key]
    videos = [video_id] if isinstance(video_id, (str, int)) else list(video_id)
    if len(videos) != batch:
        raise ValueError(f"'{video_key}' holds {len(videos)} video ids for a batch of {batch} items.")
    index = _frames_array(meta[index_key], batch, frames, index_key).astype(np.int64)
    write = meta.get(write_key)
    writes = np.ones((batch, frames), bool) if write is None else _frames_array(write, batch, frames, write_key)
    return [str(v) for v in videos], index, writes.astype(bool)
