from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from monai_pns.transforms.crop import RandSymmetricCropResized


def test_matches_reference_and_is_shared_by_frames_and_keys():
    torch.manual_seed(0)
    frame = torch.rand(3, 1, 20, 30)
    clip = frame.repeat(1, 4, 1, 1)  # four identical frames
    label = (frame[:1] > 0.5).float().repeat(1, 4, 1, 1)
    crop = RandSymmetricCropResized(keys=("image", "label"), max_crop=5, mode=("bilinear", "nearest"))
    crop.set_random_state(3)
    seen = set()
    for _ in range(12):
        d = crop({"image": clip, "label": label})
        c = crop.crop
        seen.add(c)
        assert d["image"].shape == clip.shape and d["label"].shape == label.shape
        expected = frame[:, 0] if c == 0 else F.interpolate(frame[None, :, 0, c:20 - c, c:30 - c], size=(20, 30),
                                                             mode="bilinear", align_corners=False)[0]
        for t in range(4):
            torch.testing.assert_close(torch.as_tensor(d["image"][:, t]), expected, atol=1e-5, rtol=0)
            assert torch.equal(torch.as_tensor(d["label"][:, t]), torch.as_tensor(d["label"][:, 0]))
        nearest = label[:, 0] if c == 0 else F.interpolate(label[None, :, 0, c:20 - c, c:30 - c], size=(20, 30),
                                                            mode="nearest")[0]
        assert torch.equal(torch.as_tensor(d["label"][:, 0]), nearest)
    assert len(seen) > 2 and seen <= set(range(6))


def test_every_margin_from_0_to_max_crop_is_drawn():
    crop = RandSymmetricCropResized(keys="image", max_crop=4)  # 2 * 4 < 9: the largest margin leaves 1 px
    crop.set_random_state(0)
    seen = set()
    for _ in range(60):
        out = crop({"image": torch.rand(1, 9, 9)})["image"]
        assert out.shape == (1, 9, 9)
        seen.add(crop.crop)
    assert seen == {0, 1, 2, 3, 4}


def test_images_and_probability():
    img = torch.rand(3, 16, 16)
    crop = RandSymmetricCropResized(keys="image", max_crop=3, prob=0.0)
    assert torch.equal(crop({"image": img})["image"], img)
    crop = RandSymmetricCropResized(keys="image", max_crop=3)
    crop.set_random_state(1)
    assert crop({"image": img})["image"].shape == (3, 16, 16)


def test_no_margin_passes_the_data_through():
    """max_crop 0 (the smallest) never crops; a margin of 0 leaves the data as it is: the same object, no resize."""
    img = torch.rand(3, 16, 16)
    crop = RandSymmetricCropResized(keys="image", max_crop=0)
    assert crop({"image": img})["image"] is img and crop.crop == 0


def test_a_draw_equal_to_prob_does_not_crop():
    draw = np.random.RandomState(0).random_sample()  # the first draw of seed 0; the margin drawn next is 1
    for prob, margin in [(draw, 0), (np.nextafter(draw, 1.0), 1)]:
        crop = RandSymmetricCropResized(keys="image", max_crop=3, prob=prob)
        crop.set_random_state(0)
        crop({"image": torch.rand(3, 16, 16)})
        assert crop.crop == margin


def test_errors():
    with pytest.raises(ValueError, match="max_crop=-1"):
        RandSymmetricCropResized(keys="image", max_crop=-1)
    with pytest.raises(ValueError, match="prob=2"):
        RandSymmetricCropResized(keys="image", prob=2)
    with pytest.raises(ValueError, match="key 'image': max_crop=5 px per side is too large"):
        RandSymmetricCropResized(keys="image", max_crop=5, prob=0.0)({"image": torch.rand(3, 10, 10)})
    with pytest.raises(ValueError, match=r"shape \(10, 10\)"):
        RandSymmetricCropResized(keys="image", max_crop=2, prob=1.0)({"image": torch.rand(10, 10)})
