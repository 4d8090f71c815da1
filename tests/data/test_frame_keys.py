"""monai_pns.data.frame_keys: the names of the per-frame metadata and their reading from collated batches."""

from __future__ import annotations

import pytest
import torch
from monai.data import MetaTensor, list_data_collate

from monai_pns.data import FRAME_INDEX, FRAME_META_KEYS, FRAME_PATH, FRAME_WRITE, VIDEO_ID, batch_frame_ids


def test_the_keys_are_the_documented_names():
    assert FRAME_META_KEYS == (VIDEO_ID, FRAME_INDEX, FRAME_WRITE, FRAME_PATH)
    assert FRAME_META_KEYS == ("video_id", "frame_index", "frame_write", "frame_path")  # docs/data.md's table


def test_batch_frame_ids_forms():
    # MONAI's collation of a per-item *list* in meta: one (B,) tensor per frame position
    items = [MetaTensor(torch.zeros(1, 3), meta={"video_id": v, "frame_index": idx})
             for v, idx in (("a", [4, 5, 6]), ("b", [7, 8, 9]))]
    meta = list_data_collate(items).meta
    assert isinstance(meta["frame_index"], list) and len(meta["frame_index"]) == 3
    videos, index, writes = batch_frame_ids(meta, 2, 3)
    assert videos == ["a", "b"] and index.tolist() == [[4, 5, 6], [7, 8, 9]] and writes.all()
    # one item, and a direct nested list
    videos, index, _ = batch_frame_ids({"video_id": "v", "frame_index": torch.tensor([1, 2])}, 1, 2)
    assert videos == ["v"] and index.tolist() == [[1, 2]]
    _, _, writes = batch_frame_ids({"video_id": ["v"], "frame_index": [[1, 2]], "frame_write": [[False, True]]}, 1, 2)
    assert writes.tolist() == [[False, True]]
    with pytest.raises(ValueError, match="'video_id' is missing"):
        batch_frame_ids({"frame_index": [0]}, 1, 1)
    with pytest.raises(ValueError, match="'frame_write' holds 3 values for a batch of 1 items of 2 frames"):
        batch_frame_ids({"video_id": "v", "frame_index": [0, 1], "frame_write": [True] * 3}, 1, 2)
    with pytest.raises(ValueError, match="2 video ids for a batch of 1"):
        batch_frame_ids({"video_id": ["v", "w"], "frame_index": [0, 1]}, 1, 2)
