from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser
from monai.data import CacheDataset, DataLoader

from monai_pns.transforms.presets import PNS_MEAN, PNS_STD, eval_transforms, train_transforms


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
        "image": [str(tmp_path / f"{i}.png") for i in range(1, 9)],
        "label": [str(tmp_path / f"{i}_gt.png") for i in range(1, 9)],
    }


@pytest.mark.parametrize("load_whole_case", [False, True])
def test_augmentation_drawn_once_per_clip(still_case, load_whole_case):
    t = train_transforms(clip_length=4, spatial_size=(32, 48), intensity_prob=1.0, load_whole_case=load_whole_case)
    reference = eval_transforms(spatial_size=(32, 48))({k: v[:4] for k, v in still_case.items()})
    t.set_random_state(0)
    changed = 0
    for _ in range(6):
        d = t(still_case)
        assert d["image"].shape == (3, 4, 32, 48) and d["label"].shape == (1, 4, 32, 48)
        for frame in range(1, 4):  # identical inputs stay identical: one draw for every frame of the clip
            assert torch.equal(d["image"][:, frame], d["image"][:, 0])
            assert torch.equal(d["label"][:, frame], d["label"][:, 0])
        changed += not torch.allclose(d["image"], reference["image"], atol=1e-4)
        assert set(d["label"].unique().tolist()) == {0.0, 1.0}
    assert changed == 6  # intensity_prob=1: every clip is augmented


def test_flip_applies_to_image_and_label_together(still_case):
    t = train_transforms(clip_length=2, spatial_size=(40, 60), max_crop=0, flip_prob=1.0, intensity_prob=0.0,
                         normalize=False)
    d = t(still_case)
    plain = eval_transforms(spatial_size=(40, 60), normalize=False)({k: v[:2] for k, v in still_case.items()})
    assert torch.equal(d["image"], plain["image"].flip(-1)) and torch.equal(d["label"], plain["label"].flip(-1))


def test_normalisation(still_case):
    raw = eval_transforms(spatial_size=(32, 48), normalize=False)(still_case)
    norm = eval_transforms(spatial_size=(32, 48))(still_case)
    mean, std = torch.tensor(PNS_MEAN).view(3, 1, 1, 1), torch.tensor(PNS_STD).view(3, 1, 1, 1)
    torch.testing.assert_close(torch.as_tensor(norm["image"]), (torch.as_tensor(raw["image"]) - mean) / std)
    assert 0.0 <= raw["image"].min() and raw["image"].max() <= 1.0
    custom = eval_transforms(spatial_size=(32, 48), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))(still_case)
    torch.testing.assert_close(torch.as_tensor(custom["image"]), torch.as_tensor(raw["image"]) * 2 - 1)


def test_anchor_image_and_inference_variants(still_case):
    d = train_transforms(clip_length=5, anchor=True, spatial_size=(32, 48))(still_case)
    assert d["image"].shape == (3, 6, 32, 48) and d["frame_index"][0] == 0
    single = {"image": still_case["image"][0], "label": still_case["label"][0]}
    d = train_transforms(clip_length=None, spatial_size=(32, 48))(single)
    assert d["image"].shape == (3, 32, 48) and d["label"].shape == (1, 32, 48)
    d = eval_transforms(spatial_size=(32, 48), with_label=False)({"image": still_case["image"][:5]})
    assert d["image"].shape == (3, 5, 32, 48) and "label" not in d


def test_usable_from_a_bundle_config(still_case):
    config = {
        "train_transforms": [
            {"_target_": "monai_pns.transforms.RandClipWindowd", "keys": ["image", "label"], "clip_length": 5},
            {"_target_": "monai_pns.transforms.LoadFramesd", "keys": ["image", "label"]},
            {"_target_": "Resized", "keys": ["image", "label"], "spatial_size": [-1, 32, 48],
             "mode": ["bilinear", "nearest"]},
            {"_target_": "monai_pns.transforms.RandSymmetricCropResized", "keys": ["image", "label"], "max_crop": 3,
             "mode": ["bilinear", "nearest"]},
            {"_target_": "RandFlipd", "keys": ["image", "label"], "prob": 0.5, "spatial_axis": -1},
            {"_target_": "NormalizeIntensityd", "keys": "image", "subtrahend": list(PNS_MEAN), "divisor": list(PNS_STD),
             "channel_wise": True},
        ],
        "preprocessing": {"_target_": "Compose", "transforms": "@train_transforms"},
    }
    parser = ConfigParser(config)
    d = parser.get_parsed_content("preprocessing")(still_case)
    assert d["image"].shape == (3, 5, 32, 48) and d["label"].shape == (1, 5, 32, 48)
    assert 1 <= d["frame_index"][0] and d["frame_index"][-1] <= 6


def test_cached_whole_cases(still_case):
    t = train_transforms(clip_length=3, spatial_size=(32, 48), load_whole_case=True)
    dataset = CacheDataset([still_case, still_case], t, progress=False)
    assert dataset._cache[0]["image"].shape == (3, 8, 32, 48)  # cached up to the first random transform
    loader = DataLoader(dataset, batch_size=2)
    batch = next(iter(loader))
    assert batch["image"].shape == (2, 3, 3, 32, 48) and batch["label"].shape == (2, 1, 3, 32, 48)
