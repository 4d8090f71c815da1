"""The per-frame metadata contract: the keys under which a loaded frame tensor says which frames it holds.

:class:`~monai_pns.transforms.LoadFramesd` puts, into the ``.meta`` of every tensor it loads (image and label):

- ``video_id`` (:data:`VIDEO_ID`): the datalist case name (the item's ``"case"``), e.g. ``"CVC-ClinicDB-612-Test/1"``;
- ``frame_index`` (:data:`FRAME_INDEX`): the case frame index of each output frame, a long tensor (T,) (0-dim for a
  single image);
- ``frame_write`` (:data:`FRAME_WRITE`): whether this item is the one whose prediction of each frame is written and
  scored, a bool tensor (T,) (0-dim for a single image); all True unless
  :class:`~monai_pns.transforms.SequentialClipsd` said otherwise;
- ``frame_path`` (:data:`FRAME_PATH`): the frame ref of each output frame, a list of T strings (one string for a
  single image);
- ``spatial_shape``: the original spatial shape, (T, H, W) or (H, W), as MONAI's ``LoadImage`` records it.

The same names are the item keys of the clip transforms' per-frame bookkeeping. Tensors collate to (B, T) / (B,)
with ``monai.data.list_data_collate``; ``frame_path`` collates, as MONAI does for every per-item list, transposed
(T tuples of B strings) and ``decollate_batch`` gives it back per item. :func:`batch_frame_ids` reads the ids,
indices and flags back from any of these forms; the transforms, the metric, the prediction writer and the inference
code all spell the keys with these constants.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

__all__ = ["FRAME_INDEX", "FRAME_META_KEYS", "FRAME_PATH", "FRAME_WRITE", "VIDEO_ID", "batch_frame_ids"]

VIDEO_ID, FRAME_INDEX, FRAME_WRITE, FRAME_PATH = "video_id", "frame_index", "frame_write", "frame_path"
FRAME_META_KEYS = (VIDEO_ID, FRAME_INDEX, FRAME_WRITE, FRAME_PATH)


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

    Examples::

        >>> videos, index, writes = batch_frame_ids({"video_id": "v", "frame_index": torch.tensor([3, 4])}, 1, 2)
        >>> videos, index.tolist(), writes.tolist()
        (['v'], [[3, 4]], [[True, True]])
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
