from __future__ import annotations

import cv2
import numpy as np
import py_sod_metrics  # pysodmetrics 1.6.2, the test dependency
import pytest

from monai_pns.metrics import FRAME_KEYS, THRESHOLDS, frame_metrics
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


@pytest.mark.parametrize("mode", ["matlab", "sunseg"])
@pytest.mark.parametrize("as_float", [False, True])
def test_each_key_alone_has_its_value_among_all(mode, as_float):
    """``keys`` limits the work, not the values: every metric asked alone (the adaptive E-measure too, which comes
    from the same call as the E-measure curve) is returned alone, with the value it has when all are computed."""
    pred, gt = blob_case(36, 44, seed=6)
    if as_float:
        pred = pred / 255.0 * 0.8 + 0.1
    everything = frame_metrics(pred, gt, mode=mode)
    for key in FRAME_KEYS:
        alone = frame_metrics(pred, gt, mode=mode, keys=(key,))
        assert list(alone) == [key]
        np.testing.assert_array_equal(alone[key], everything[key], err_msg=key)


@pytest.mark.parametrize("value", [np.uint8(128), 0.5])
def test_a_constant_prediction_is_left_as_is(value):
    """A constant map has no range to min-max normalise (MATLAB ``mapminmax`` and pysodmetrics leave it): code 128
    reads 128/255, a float 0.5 reads 0.5; every pixel is positive at the thresholds up to that value, none above."""
    _, gt = blob_case(30, 40, seed=8)
    pred = np.full(gt.shape, value)
    level = 128 / 255 if pred.dtype == np.uint8 else 0.5
    out = frame_metrics(pred, gt)
    polyp = gt > 128
    assert out["mae"] == pytest.approx(np.where(polyp, 1 - level, level).mean(), abs=1e-15)
    positive = THRESHOLDS <= level  # every pixel is positive there, no pixel elsewhere
    assert 0 < positive.sum() < 256
    dice = 2 * polyp.sum() / (polyp.sum() + polyp.size)
    np.testing.assert_allclose(out["dice"], np.where(positive, dice, 0.0), rtol=0, atol=1e-15)
    if pred.dtype == np.uint8:  # pysodmetrics leaves a constant map as it is too
        ref = py_sod_metrics.MAE()
        ref.step(pred, gt)
        assert out["mae"] == pytest.approx(ref.get_results()["mae"], abs=1e-12)


def test_other_input_forms_score_as_their_usual_form():
    """A (H, W, 1) map as (H, W), a bool GT as the uint8 GT it binarises to, a bool prediction as its 0 / 1 float
    map and a float32 prediction as the same values in float64."""
    pred, gt = blob_case(30, 38, seed=7)
    binary, as_float32 = pred > 100, (pred / 255.0).astype(np.float32)
    pairs = [
        (frame_metrics(pred[..., None], gt), frame_metrics(pred, gt)),
        (frame_metrics(pred, gt > 128), frame_metrics(pred, gt)),
        (frame_metrics(binary, gt), frame_metrics(binary.astype(np.float64), gt)),
        (frame_metrics(as_float32, gt), frame_metrics(as_float32.astype(np.float64), gt)),
    ]
    for got, expected in pairs:
        for key in FRAME_KEYS:
            np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def test_an_empty_prediction_is_named():
    gt = np.zeros((8, 8), np.uint8)
    for pred in (np.zeros((0, 8), np.uint8), np.zeros((8, 0))):
        shape = rf"\({pred.shape[0]}, {pred.shape[1]}\)"
        with pytest.raises(ValueError, match=rf"pred must not be empty, got shape {shape}"):
            frame_metrics(pred, gt)
