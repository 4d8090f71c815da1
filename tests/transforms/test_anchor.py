from __future__ import annotations

import pytest
import torch

from monai_pns.transforms import DropAnchord, LoadFramesd, RandClipWindowd
from tests.data.trees import write_case


def test_drops_the_anchor_and_its_metadata(tmp_path):
    write_case(tmp_path / "Frame", tmp_path / "GT", num_frames=8)
    frames = [str(tmp_path / "Frame" / f"{i}.png") for i in range(1, 9)]
    masks = [str(tmp_path / "GT" / f"{i}.png") for i in range(1, 9)]
    case = {"case": "v", "image": frames, "label": masks}
    window = RandClipWindowd(keys=("image", "label"), clip_length=3, anchor=True)
    window.set_random_state(1)
    d = LoadFramesd(keys=("image", "label"))(window(case))
    indices = d["frame_index"]
    assert indices[0] == 0 and len(indices) == 4
    out = DropAnchord(keys="label")(d)
    assert out["image"].shape[1] == 4 and out["label"].shape[1] == 3
    torch.testing.assert_close(out["label"].as_tensor(), d["label"].as_tensor()[:, 1:], rtol=0, atol=0)
    assert out["label"].meta["frame_index"].tolist() == indices[1:]
    assert list(out["label"].meta["frame_path"]) == [frames[i] for i in indices[1:]]  # the frames the label belongs to
    assert out["image"].meta["frame_index"].tolist() == indices  # other keys untouched


def test_an_anchor_and_one_local_frame_keep_that_frame():
    clip = torch.arange(2.0).reshape(1, 2, 1, 1)  # T = 1, the shortest clip
    assert DropAnchord(keys="label")({"label": clip})["label"].tolist() == [[[[1.0]]]]


def test_a_clip_without_local_frames_is_refused():
    with pytest.raises(ValueError, match=r"key 'label': expected .* got \(1, 1, 4, 4\)"):
        DropAnchord(keys="label")({"label": torch.zeros(1, 1, 4, 4)})


def test_an_image_is_refused():
    with pytest.raises(ValueError, match=r"got \(1, 4, 4\)"):
        DropAnchord(keys="label")({"label": torch.zeros(1, 4, 4)})
