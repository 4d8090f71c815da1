from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from ignite.engine import Engine

from monai_pns.handlers import OverlaySaver



def test_overlays_tint_the_predicted_polyp_of_the_middle_frame(tmp_path):
    image = torch.zeros(3, 5, 8, 10)
    image[:, 2] = 0.5  # middle frame grey
    image[0, 2, 0, 0] = 1.0  # stretches the display range to [0, 1]: grey -> 0.5
    image[0, 2, 0, 1] = 0.0
    logits = torch.full((1, 5, 8, 10), -10.0)
    logits[0, 2, 2:5, 3:7] = 10.0  # polyp only in the middle frame
    batch = [{"image": image, "pred": logits}] * 4
    engine = Engine(lambda e, b: b)
    OverlaySaver(tmp_path, max_images=3).attach(engine)
    engine.run([batch], max_epochs=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["overlay_0.png", "overlay_1.png", "overlay_2.png"]
    rgb = cv2.cvtColor(cv2.imread(str(tmp_path / "overlay_0.png")), cv2.COLOR_BGR2RGB).astype(int)
    assert rgb.shape == (8, 10, 3)
    inside, outside = rgb[3, 4], rgb[6, 1]
    assert outside.tolist() == [128, 128, 128]  # 0.5 grey, untouched
    assert inside[0] > inside[2] + 60  # red-tinted
    assert not np.array_equal(inside, outside)


def test_a_constant_image_shows_black_under_its_overlay(tmp_path):
    engine = Engine(lambda e, b: b)
    OverlaySaver(tmp_path, sigmoid=False).attach(engine)
    pred = torch.zeros(1, 6, 6)
    pred[0, :3] = 1.0
    engine.run([[{"image": torch.full((3, 6, 6), 0.7), "pred": pred}]], max_epochs=1)  # nothing to stretch
    rgb = cv2.cvtColor(cv2.imread(str(tmp_path / "overlay_0.png")), cv2.COLOR_BGR2RGB)
    assert rgb[3:].tolist() == np.zeros((3, 6, 3), np.uint8).tolist()  # black where no polyp: no division by 0
    assert (rgb[:3, :, 0] > 0).all()  # the polyp tinted


def test_a_probability_at_the_threshold_is_not_drawn(tmp_path):
    engine = Engine(lambda e, b: b)
    OverlaySaver(tmp_path, threshold=0.5, sigmoid=False).attach(engine)
    pred = torch.full((1, 6, 6), 0.5)
    pred[0, :3] = 0.5 + 1e-6
    engine.run([[{"image": torch.full((3, 6, 6), 0.7), "pred": pred}]], max_epochs=1)
    rgb = cv2.cvtColor(cv2.imread(str(tmp_path / "overlay_0.png")), cv2.COLOR_BGR2RGB)
    assert (rgb[3:] == 0).all() and (rgb[:3, :, 0] > 0).all()  # only the probabilities above it are tinted


def test_display_codes_round_half_to_even(tmp_path):
    engine = Engine(lambda e, b: b)
    OverlaySaver(tmp_path).attach(engine)
    image = torch.tensor([0.0, 1.0, 127.5 / 255, 128.5 / 255]).expand(3, 1, 4)  # the display range is [0, 1] already
    engine.run([[{"image": image, "pred": torch.full((1, 1, 4), -10.0)}]], max_epochs=1)  # no polyp drawn
    grey = cv2.imread(str(tmp_path / "overlay_0.png"), cv2.IMREAD_GRAYSCALE)
    assert grey.tolist() == [[0, 255, 128, 128]]  # 127.5 and 128.5 both give 128


def test_2d_items_and_bad_count(tmp_path):
    engine = Engine(lambda e, b: b)
    OverlaySaver(tmp_path / "o", max_images=1).attach(engine)
    engine.run([[{"image": torch.rand(3, 6, 6), "pred": torch.zeros(1, 6, 6)}] * 2], max_epochs=1)
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["overlay_0.png"]
    with pytest.raises(ValueError, match="max_images=0"):
        OverlaySaver(tmp_path, max_images=0)


def test_every_run_saves_its_overlays_again(tmp_path):
    """The count of saved overlays starts again at every epoch: a reused handler saves the new epoch's images."""
    engine = Engine(lambda e, b: b)
    OverlaySaver(tmp_path, max_images=2).attach(engine)
    items = [{"image": torch.rand(3, 6, 6), "pred": torch.zeros(1, 6, 6)}] * 3
    engine.run([items], max_epochs=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["overlay_0.png", "overlay_1.png"]
    for path in tmp_path.iterdir():
        path.unlink()
    engine.run([items], max_epochs=1)  # the next validation round
    assert sorted(p.name for p in tmp_path.iterdir()) == ["overlay_0.png", "overlay_1.png"]
