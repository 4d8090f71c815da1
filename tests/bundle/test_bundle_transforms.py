"""The bundle's transform chains (train.json's named pieces), parsed from the config and run on a small case."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from monai.data import CacheDataset, DataLoader
from monai.transforms import Compose

from monai_pns.transforms import PNS_MEAN, PNS_STD
from tests.bundle_chains import ALWAYS, bundle_chain, bundle_parser, cached_train_chain

SIZE = {"spatial_size": [32, 48]}


@pytest.fixture
def still_case(tmp_path):
    """A case of 8 identical frames (a textured image with a polyp mask), under different file names."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    mask = np.zeros((40, 60), np.uint8)
    mask[10:25, 5:30] = 255
    for i in range(1, 9):
        cv2.imwrite(str(tmp_path / f"{i}.png"), img)
        cv2.imwrite(str(tmp_path / f"{i}_gt.png"), mask)
    return {
        "case": "still",
        "image": [str(tmp_path / f"{i}.png") for i in range(1, 9)],
        "label": [str(tmp_path / f"{i}_gt.png") for i in range(1, 9)],
    }


def test_the_bundle_normalises_with_the_protocol_mean_and_std():
    parser = bundle_parser()
    assert tuple(parser["pixel_mean"]) == PNS_MEAN and tuple(parser["pixel_std"]) == PNS_STD


def _frames(case: dict, window) -> dict:
    return {k: [v[i] for i in window] if isinstance(v, list) else v for k, v in case.items()}


def test_augmentation_drawn_once_per_clip(still_case):
    t = bundle_chain("train", clip_length=4, **SIZE, **ALWAYS)
    reference = bundle_chain("validate", **SIZE)(_frames(still_case, range(4)))
    t.set_random_state(0)
    for _ in range(6):
        d = t(still_case)
        assert d["image"].shape == (3, 4, 32, 48) and d["label"].shape == (1, 4, 32, 48)
        for frame in range(1, 4):  # identical inputs stay identical: one draw for every frame of the clip
            assert torch.equal(d["image"][:, frame], d["image"][:, 0])
            assert torch.equal(d["label"][:, frame], d["label"][:, 0])
        assert not torch.allclose(d["image"], reference["image"], atol=1e-4)  # every clip augmented
        assert set(d["label"].unique().tolist()) == {0.0, 1.0}


def test_flip_applies_to_image_and_label_together(still_case):
    flip_only = {"transforms#crop_clip#max_crop": 0, "transforms#augmentation#0#prob": 1.0,
                 "transforms#augmentation#1#prob": 0.0, "transforms#augmentation#2#prob": 0.0}
    d = bundle_chain("train", clip_length=2, spatial_size=[40, 60], **flip_only)(still_case)
    plain = bundle_chain("validate", spatial_size=[40, 60])(_frames(still_case, d["frame_index"]))
    assert torch.equal(d["image"], plain["image"].flip(-1)) and torch.equal(d["label"], plain["label"].flip(-1))


def test_normalisation_of_the_evaluation_chain(still_case):
    parser = bundle_parser(**SIZE)
    raw = Compose([parser.get_parsed_content("transforms#load"), parser.get_parsed_content("transforms#resize_clip")])
    norm = parser.get_parsed_content("validate#preprocessing")(still_case)
    mean, std = torch.tensor(PNS_MEAN).view(3, 1, 1, 1), torch.tensor(PNS_STD).view(3, 1, 1, 1)
    plain = torch.as_tensor(raw(still_case)["image"])
    assert 0.0 <= plain.min() and plain.max() <= 1.0
    torch.testing.assert_close(torch.as_tensor(norm["image"]), (plain - mean) / std)


def test_anchor_clips_and_single_images(still_case):
    d = bundle_chain("train", network="PNSPlusNet", clip_length=5, **SIZE)(still_case)
    assert d["image"].shape == (3, 6, 32, 48) and d["label"].shape == (1, 5, 32, 48)  # the anchor has no label
    assert d["frame_index"][0] == 0
    single = {"image": still_case["image"][0], "label": still_case["label"][0]}
    d = bundle_chain("pretrain", **SIZE)(single)
    assert d["image"].shape == (3, 32, 48) and d["label"].shape == (1, 32, 48)


def test_whole_cases_cached_from_the_same_pieces(still_case):
    """benchmarks/data.py's cached variant: the window drawn after loading and resizing the whole case."""
    dataset = CacheDataset([still_case, still_case], cached_train_chain(clip_length=3, **SIZE), progress=False)
    assert dataset._cache[0]["image"].shape == (3, 8, 32, 48)  # cached up to the first random transform
    batch = next(iter(DataLoader(dataset, batch_size=2)))
    assert batch["image"].shape == (2, 3, 3, 32, 48) and batch["label"].shape == (2, 1, 3, 32, 48)


def test_the_overrides_that_reproduce_the_release(tmp_path):
    """docs/data.md: masks counted at 255 only, no normalisation, no intensity changes."""
    image, mask = np.full((16, 16, 3), 100, np.uint8), np.zeros((16, 16), np.uint8)
    mask[:8], mask[8:, :8] = 255, 200  # 200 is polyp for the toolboxes (> 128), not for the released training
    cv2.imwrite(str(tmp_path / "1.png"), image)
    cv2.imwrite(str(tmp_path / "1_gt.png"), mask)
    item = {"image": [str(tmp_path / "1.png")], "label": [str(tmp_path / "1_gt.png")]}
    release = {"transforms#load#mask_threshold": 254, "pixel_mean": [0, 0, 0], "pixel_std": [1, 1, 1],
               "transforms#augmentation#1#prob": 0.0, "transforms#augmentation#2#prob": 0.0, "spatial_size": [16, 16]}
    d = bundle_chain("validate", **release)(item)
    assert d["label"].sum() == 8 * 16  # the 255 rows only
    assert bundle_chain("validate", spatial_size=[16, 16])(item)["label"].sum() == 12 * 16  # the default: > 128
    torch.testing.assert_close(d["image"].as_tensor(), torch.full((3, 1, 16, 16), 100 / 255))
    augmentation = bundle_parser(**release).get_parsed_content("transforms#augmentation")
    assert [t.prob for t in augmentation] == [0.5, 0.0, 0.0]  # the flip stays, as in the release
