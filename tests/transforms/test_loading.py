from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from monai_pns.transforms.loading import LoadFramesd
from tests.data.trees import frame_value, write_case, write_video


def _refs(folder, n, ext):
    return [str(folder / f"{i}{ext}") for i in range(1, n + 1)]


def test_clip_shapes_and_values(tmp_path):
    write_case(tmp_path / "Frame", tmp_path / "GT", 4)
    d = LoadFramesd(keys=("image", "label"))({"image": _refs(tmp_path / "Frame", 4, ".png"),
                                             "label": _refs(tmp_path / "GT", 4, ".png"), "case": "c"})
    assert d["image"].shape == (3, 4, 12, 16) and d["image"].dtype == torch.float32
    assert d["label"].shape == (1, 4, 12, 16) and d["case"] == "c"
    for t in range(4):  # frame t is file t + 1: R = value, B = value / 2, in [0, 1]
        assert d["image"][0, t, 0, 0].item() == pytest.approx(frame_value(t + 1) / 255)
        assert d["image"][2, t, 0, 0].item() == pytest.approx((frame_value(t + 1) // 2) / 255)
        expected = np.zeros((12, 16), np.float32)
        if (t + 1) % 2 == 0:
            expected[2:6, 3:9] = 1
        np.testing.assert_array_equal(d["label"][0, t].numpy(), expected)


def test_single_image(tmp_path):
    write_case(tmp_path / "Frame", tmp_path / "GT", 2)
    d = LoadFramesd(keys=("image", "label"))({"image": str(tmp_path / "Frame" / "2.png"),
                                             "label": str(tmp_path / "GT" / "2.png")})
    assert d["image"].shape == (3, 12, 16) and d["label"].shape == (1, 12, 16) and d["label"].sum() == 24


@pytest.mark.parametrize(
    "threshold, expected",
    [(128, [0, 0, 0, 1, 1, 1]), (254, [0, 0, 0, 0, 0, 1]), (0, [0, 1, 1, 1, 1, 1])],
)
def test_mask_threshold(tmp_path, threshold, expected):
    # each threshold (0, 128 and 254: the whole admitted range) has a pixel exactly on it: background
    mask = np.array([[0, 100, 128, 129, 254, 255]], np.uint8)
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    cv2.imwrite(str(tmp_path / "f.png"), np.zeros((1, 6, 3), np.uint8))
    d = LoadFramesd(keys=("image", "label"), mask_threshold=threshold)({"image": str(tmp_path / "f.png"),
                                                                        "label": str(tmp_path / "m.png")})
    assert d["label"].flatten().tolist() == expected


def test_mask_at_other_size_is_resized_with_warning(tmp_path):
    cv2.imwrite(str(tmp_path / "f.png"), np.zeros((12, 16, 3), np.uint8))
    big = np.zeros((24, 32), np.uint8)
    big[:12] = 255
    cv2.imwrite(str(tmp_path / "m.png"), big)
    with pytest.warns(UserWarning, match="m.png"):
        d = LoadFramesd(keys=("label", "image"))({"image": [str(tmp_path / "f.png")],
                                                  "label": [str(tmp_path / "m.png")]})
    assert d["label"].shape == (1, 1, 12, 16) and d["label"][0, 0, :6].all() and not d["label"][0, 0, 6:].any()


def test_frames_of_different_sizes(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((12, 16, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "b.png"), np.zeros((10, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="b.png"):
        LoadFramesd(keys="image")({"image": [str(tmp_path / "a.png"), str(tmp_path / "b.png")]})


def test_masks_of_different_sizes_without_frames(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((12, 16), np.uint8))
    cv2.imwrite(str(tmp_path / "b.png"), np.zeros((10, 16), np.uint8))
    with pytest.raises(ValueError, match="key 'label': frame '.*b.png' is \\(10, 16\\)"):
        LoadFramesd(keys="label")({"label": [str(tmp_path / "a.png"), str(tmp_path / "b.png")]})


def test_bad_files(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"junk")
    with pytest.raises(ValueError, match="bad.jpg"):
        LoadFramesd(keys="image")({"image": [str(tmp_path / "bad.jpg")]})
    with pytest.raises(ValueError, match=r"mask_threshold must be in \[0, 254\], got mask_threshold=255\."):
        LoadFramesd(keys="image", mask_threshold=255)
    with pytest.raises(ValueError, match=r"mask_threshold must be in \[0, 254\], got mask_threshold=-1\."):
        LoadFramesd(keys="image", mask_threshold=-1)
    with pytest.raises(ValueError, match="1 masks for 2 frames"):
        cv2.imwrite(str(tmp_path / "a.png"), np.zeros((4, 4, 3), np.uint8))
        one = str(tmp_path / "a.png")
        LoadFramesd(keys=("image", "label"))({"image": [one, one], "label": [one]})


def test_video_frames(tmp_path):
    video = write_video(tmp_path / "v.avi", [0, 50, 100, 150])
    masks = write_video(tmp_path / "m.avi", [0, 255, 255, 0], grey_mask=True)
    refs = {"image": [f"{video}#3", f"{video}#1"], "label": [f"{masks}#3", f"{masks}#1"]}
    d = LoadFramesd(keys=("image", "label"))(refs)
    assert d["image"][:, :, 0, 0].mul(255).round().tolist() == [[150, 50]] * 3
    assert d["label"][0, 0].sum() == 0 and d["label"][0, 1, :24].all() and not d["label"][0, 1, 24:].any()


def test_missing_label_allowed_for_inference(tmp_path):
    write_case(tmp_path / "Frame", None, 2)
    d = LoadFramesd(keys=("image", "label"), allow_missing_keys=True)({"image": _refs(tmp_path / "Frame", 2, ".png")})
    assert d["image"].shape == (3, 2, 12, 16) and "label" not in d


def test_path_objects(tmp_path):
    """pathlib.Path refs, single and in a clip, load like strings; the recorded frame_path is a string."""
    write_case(tmp_path / "Frame", tmp_path / "GT", 2)
    single = LoadFramesd(keys=("image", "label"))({"image": tmp_path / "Frame" / "2.png",
                                                  "label": tmp_path / "GT" / "2.png"})
    assert single["image"].shape == (3, 12, 16) and single["label"].shape == (1, 12, 16)
    assert single["image"][0, 0, 0].item() == pytest.approx(frame_value(2) / 255) and single["label"].sum() == 24
    assert single["image"].meta["frame_path"] == str(tmp_path / "Frame" / "2.png")
    clip = LoadFramesd(keys="image")({"image": [tmp_path / "Frame" / "2.png", tmp_path / "Frame" / "1.png"]})
    assert clip["image"][0, :, 0, 0].mul(255).round().tolist() == [frame_value(2), frame_value(1)]
    assert clip["image"].meta["frame_path"] == [str(tmp_path / "Frame" / "2.png"), str(tmp_path / "Frame" / "1.png")]


def test_an_empty_list_of_frames_is_named():
    with pytest.raises(ValueError, match=r"key 'image': empty list of frames\."):
        LoadFramesd(keys="image")({"image": []})


def test_bookkeeping_as_tensors_and_numpy_scalars(tmp_path):
    """Collated items carry frame_index / frame_write as tensors (0-d for a single image) or numpy scalars."""
    write_case(tmp_path / "Frame", None, 2)
    one = str(tmp_path / "Frame" / "1.png")
    d = LoadFramesd(keys="image")({"image": one, "frame_index": torch.tensor(7), "frame_write": np.bool_(False)})
    assert d["image"].meta["frame_index"].item() == 7 and d["image"].meta["frame_write"].item() is False
    clip = LoadFramesd(keys="image")({"image": [one, one], "frame_index": torch.tensor([4, 5]),
                                      "frame_write": torch.tensor([False, True])})
    assert clip["image"].meta["frame_index"].tolist() == [4, 5]
    assert clip["image"].meta["frame_write"].tolist() == [False, True]


def test_bookkeeping_as_numpy_arrays(tmp_path):
    """A numpy array holds one value per frame of a clip, as a list or a tensor does; for a single image it is
    refused with the key named, as a list is."""
    write_case(tmp_path / "Frame", None, 2)
    one = str(tmp_path / "Frame" / "1.png")
    clip = LoadFramesd(keys="image")({"image": [one, one], "frame_index": np.array([4, 5])})
    assert list(clip["image"].meta["frame_index"]) == [4, 5]
    with pytest.raises(ValueError, match=r"item key 'frame_index' must hold one value, got frame_index=array\(\[4\]\)"):
        LoadFramesd(keys="image")({"image": one, "frame_index": np.array([4])})
    with pytest.raises(ValueError, match=r"must hold 2 values, one per frame, got frame_index=array\(\[4, 5, 6\]\)"):
        LoadFramesd(keys="image")({"image": [one, one], "frame_index": np.array([4, 5, 6])})


def test_mask_resized_nearest_under_the_released_rule(tmp_path):
    """A mask at a third of the frame size is enlarged by repeating each pixel 3 x 3 (nearest); with
    mask_threshold=254 (only 255 is polyp) a smoother interpolation would lose the pixels between 0 and 255."""
    mask = np.array([[0, 255, 0], [255, 0, 255]], np.uint8)
    cv2.imwrite(str(tmp_path / "m.png"), mask)
    cv2.imwrite(str(tmp_path / "f.png"), np.zeros((6, 9, 3), np.uint8))
    with pytest.warns(UserWarning, match=r"mask '.*m.png' is \(2, 3\), its frame is \(6, 9\)"):
        d = LoadFramesd(keys=("image", "label"), mask_threshold=254)({"image": str(tmp_path / "f.png"),
                                                                      "label": str(tmp_path / "m.png")})
    expected = np.kron(mask == 255, np.ones((3, 3), bool)).astype(np.float32)
    np.testing.assert_array_equal(d["label"][0].numpy(), expected)


def test_keys_of_other_names(tmp_path):
    """mask_keys, case_key, index_key, write_key and path_key given other names are the ones read; the default
    names in the same item are ignored."""
    write_case(tmp_path / "Frame", tmp_path / "GT", 2)
    item = {
        "frames": _refs(tmp_path / "Frame", 2, ".png"), "seg": _refs(tmp_path / "GT", 2, ".png"),
        "video": "v7", "idx": [8, 9], "w": [False, True], "p": ["a.jpg", "b.jpg"],
        "case": "wrong", "frame_index": [0, 0], "frame_write": [True, True], "frame_path": ["x", "y"],
    }
    load = LoadFramesd(keys=("frames", "seg"), mask_keys="seg", case_key="video", index_key="idx", write_key="w",
                       path_key="p")
    d = load(item)
    assert d["frames"].shape == (3, 2, 12, 16) and d["seg"].shape == (1, 2, 12, 16)
    assert d["seg"][0, 0].sum() == 0 and d["seg"][0, 1].sum() == 24  # binarised masks: file 2 has a 4 x 6 polyp
    for key in ("frames", "seg"):
        meta = d[key].meta
        assert meta["video_id"] == "v7" and meta["frame_index"].tolist() == [8, 9]
        assert meta["frame_write"].tolist() == [False, True] and meta["frame_path"] == ["a.jpg", "b.jpg"]
