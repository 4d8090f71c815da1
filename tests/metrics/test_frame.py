from __future__ import annotations

import cv2
import numpy as np
import py_sod_metrics  # pysodmetrics 1.6.2, the test dependency
import pytest

from monai_pns.metrics import FRAME_KEYS, frame_metrics
from tests.metrics._cases import blob_case


def test_keys_shapes_and_mae():
    pred, gt = blob_case(50, 70, seed=0)
    out = frame_metrics(pred, gt)
    assert tuple(out) == FRAME_KEYS
    for key in FRAME_KEYS[:8]:
        assert out[key].shape == (256,), key
    ref = py_sod_metrics.MAE()
    ref.step(pred, gt)
    assert abs(out["mae"] - ref.get_results()["mae"]) <= 1e-12
    assert set(frame_metrics(pred, gt, keys=("dice", "mae"))) == {"dice", "mae"}


@pytest.mark.parametrize("mode, interpolation", [("matlab", cv2.INTER_CUBIC), ("sunseg", cv2.INTER_LINEAR)])
def test_prediction_resized_to_gt(mode, interpolation):
    pred, gt = blob_case(60, 80, seed=1)
    small = cv2.resize(pred, (53, 37), interpolation=cv2.INTER_AREA)
    out = frame_metrics(small, gt, mode=mode)
    expected = frame_metrics(cv2.resize(small, (80, 60), interpolation=interpolation), gt, mode=mode)
    for key in FRAME_KEYS:
        np.testing.assert_array_equal(out[key], expected[key], err_msg=key)


@pytest.mark.parametrize("mode, interpolation", [("matlab", cv2.INTER_CUBIC), ("sunseg", cv2.INTER_LINEAR)])
def test_float_prediction_normalised_after_resizing(mode, interpolation):
    """The min-max normalisation uses the range of the resized map (bicubic can overshoot the input's range)."""
    pred, gt = blob_case(60, 80, seed=4)
    small = cv2.resize(pred, (53, 37), interpolation=cv2.INTER_AREA) / 255.0 * 0.7 + 0.1
    resized = cv2.resize(small, (80, 60), interpolation=interpolation)
    normalised = (resized - resized.min()) / (resized.max() - resized.min())
    out, expected = frame_metrics(small, gt, mode=mode), frame_metrics(normalised, gt, mode=mode)
    for key in FRAME_KEYS:
        np.testing.assert_array_equal(out[key], expected[key], err_msg=key)


def test_float_prediction_is_min_max_normalised():
    pred, gt = blob_case(40, 40, seed=2)
    scaled = 0.2 + 0.5 * pred / 255
    by_hand = (scaled - scaled.min()) / (scaled.max() - scaled.min())
    out, ref = frame_metrics(scaled, gt), frame_metrics(by_hand, gt)
    for key in FRAME_KEYS:
        np.testing.assert_array_equal(out[key], ref[key], err_msg=key)
    assert abs(out["smeasure"] - frame_metrics(pred, gt)["smeasure"]) < 1e-12


def test_perfect_prediction():
    _, gt = blob_case(40, 40, seed=3)
    out = frame_metrics(gt.copy(), gt)
    assert out["dice"].max() == 1.0 and out["iou"].max() == 1.0 and out["mae"] == 0.0
    assert out["smeasure"] == pytest.approx(1.0) and out["weighted_fmeasure"] == pytest.approx(1.0)


def test_ill_arg():
    gt = np.zeros((8, 8), np.uint8)
    with pytest.raises(ValueError, match="float pred must lie in"):
        frame_metrics(np.full((8, 8), 1.5), gt)
    with pytest.raises(ValueError, match="NaN"):
        frame_metrics(np.full((8, 8), np.nan), gt)
    with pytest.raises(ValueError, match="dtype int64"):
        frame_metrics(np.zeros((8, 8), np.int64), gt)
    with pytest.raises(ValueError, match="gt must be a 2D"):
        frame_metrics(np.zeros((8, 8), np.uint8), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="python"):
        frame_metrics(np.zeros((8, 8), np.uint8), gt, mode="python")
    with pytest.raises(ValueError, match="dicee"):
        frame_metrics(np.zeros((8, 8), np.uint8), gt, keys=("dicee",))


def test_colour_prediction_uses_channel_0():
    pred, gt = blob_case(40, 48, seed=4)
    rgb = np.stack([pred, 255 - pred, np.zeros_like(pred)], axis=-1)
    out, ref = frame_metrics(rgb, gt), frame_metrics(pred, gt)
    for key in FRAME_KEYS:
        np.testing.assert_array_equal(out[key], ref[key], err_msg=key)
    small_rgb = cv2.resize(rgb, (30, 20), interpolation=cv2.INTER_AREA)
    resized = frame_metrics(small_rgb, gt)
    np.testing.assert_array_equal(resized["dice"], frame_metrics(np.ascontiguousarray(small_rgb[..., 0]), gt)["dice"])


@pytest.mark.parametrize("mode", ["matlab", "sunseg"])
def test_uint8_prediction_not_reaching_0_or_255(mode):
    """An 8-bit map whose codes span only part of 0..255 (a network's sigmoid output never reaching 0) is min-max
    normalised like the same map given as floats, and scored like pysodmetrics scores it."""
    pred, gt = blob_case(48, 64, seed=5)
    narrow = (10 + pred.astype(np.float64) * 200 / 255).round().astype(np.uint8)  # codes 10..210
    out = frame_metrics(narrow, gt, mode=mode)
    as_float = frame_metrics(narrow / 255.0, gt, mode=mode)
    for key in ("smeasure", "weighted_fmeasure", "mae", "adaptive_emeasure"):
        assert abs(out[key] - as_float[key]) <= 1e-12, key
    for key in ("dice", "iou", "specificity"):
        np.testing.assert_allclose(out[key], as_float[key], atol=1e-12, err_msg=key)
    ref = py_sod_metrics.Smeasure()
    ref.step(narrow, gt)
    assert abs(out["smeasure"] - ref.get_results()["sm"]) <= 1e-10


@pytest.mark.parametrize("mode", ["matlab", "sunseg"])
def test_a_gt_pixel_of_128_is_background_and_129_polyp(mode):
    """The toolboxes binarise a GT PNG as ``gt > 128``: a band exactly at 128 is background, at 129 polyp."""
    pred, gt = blob_case(32, 32, seed=3)
    edge = gt.copy()
    edge[:4] = 128
    edge[-4:] = 129
    expected = frame_metrics(pred, edge > 128, mode=mode)
    got = frame_metrics(pred, edge, mode=mode)
    for key in FRAME_KEYS:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    assert not np.array_equal(frame_metrics(pred, edge >= 128, mode=mode)["dice"], expected["dice"])
