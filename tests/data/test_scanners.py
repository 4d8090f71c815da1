"""monai_pns.data.scanners: frame orders and the pieces a scanner is made of (the built-in scanners are tested
through build_datalist in test_datalist.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monai_pns.data.scanners import image_cases, natural_key, pair_frames, sunseg_frame_key, video_case
from tests.data.trees import write_case, write_frame, write_mask


def test_natural_key():
    names = ["10.jpg", "2.jpg", "1.jpg", "case10_1", "case2_10", "case2_2"]
    assert sorted(names[:3], key=natural_key) == ["1.jpg", "2.jpg", "10.jpg"]
    assert sorted(names[3:], key=natural_key) == ["case2_2", "case2_10", "case10_1"]


def test_sunseg_frame_key():
    names = ["z_a1_image9.jpg", "a_a1_image10.jpg", "m_a1_image1.jpg"]
    assert sorted(names, key=sunseg_frame_key) == ["m_a1_image1.jpg", "z_a1_image9.jpg", "a_a1_image10.jpg"]


def test_pair_frames_matches_masks_by_stem_in_key_order(tmp_path):
    write_case(tmp_path / "f", tmp_path / "m", 11, ext=".jpg")
    image, label = pair_frames("c", tmp_path / "f", tmp_path / "m", integer_names=True)
    assert [Path(p).name for p in image] == [f"{i}.jpg" for i in range(1, 12)]  # 10 and 11 after 9
    assert [Path(p).name for p in label] == [f"{i}.png" for i in range(1, 12)]
    assert pair_frames("c", tmp_path / "f", None)[1] is None
    write_frame(tmp_path / "f" / "x.jpg", 5)
    with pytest.raises(ValueError, match=r"case 'c': frame '.*x.jpg' is not named by an integer"):
        pair_frames("c", tmp_path / "f", tmp_path / "m", integer_names=True)
    with pytest.raises(ValueError, match=r"case 'c': no mask for frame 'x.jpg'"):
        pair_frames("c", tmp_path / "f", tmp_path / "m")


def test_video_and_image_items(tmp_path):
    assert video_case("S/1", "S", "test", ["a", "b"], None) == {"case": "S/1", "source": "S", "split": "test",
                                                                "image": ["a", "b"], "num_frames": 2}
    assert video_case("S/1", "S", "test", ["a"], ["m"])["label"] == ["m"]
    write_frame(tmp_path / "img" / "k2.jpg", 5)
    write_mask(tmp_path / "msk" / "k2.png", True)
    [item] = image_cases("Kvasir-SEG", tmp_path / "img", tmp_path / "msk", "pretraining")
    assert (item["case"], item["source"], item["split"]) == ("Kvasir-SEG/k2", "Kvasir-SEG", "pretraining")
    assert item["image"].endswith("img/k2.jpg") and item["label"].endswith("msk/k2.png")
