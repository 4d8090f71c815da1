from __future__ import annotations

import numpy as np
import py_sod_metrics  # pysodmetrics 1.6.2, the test dependency
import pytest

from monai_pns.metrics import compute_weighted_fmeasure, frame_metrics
from monai_pns.metrics.preprocess import prepare_frame
from monai_pns.metrics.weighted_fmeasure import gaussian_kernel_1d
from tests.metrics._cases import blob_case


def pysod_wfm(pred: np.ndarray, gt: np.ndarray, normalize: bool = True) -> float:
    ref = py_sod_metrics.WeightedFmeasure()
    ref.step(pred, gt, normalize=normalize)
    return float(ref.get_results()["wfm"])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_matches_pysodmetrics(seed):
    pred, gt = blob_case(64, 96, seed=seed)
    assert abs(frame_metrics(pred, gt)["weighted_fmeasure"] - pysod_wfm(pred, gt)) <= 1e-10


@pytest.mark.parametrize("where", ["corner", "edge", "scattered", "full"])
def test_small_objects_near_the_border(where):
    rng = np.random.default_rng(3)
    pred = rng.uniform(size=(30, 41))
    gt = np.zeros((30, 41), bool)
    if where == "corner":
        gt[:2, -3:] = True
    elif where == "edge":
        gt[10:20, 0] = True
    elif where == "scattered":
        gt[rng.uniform(size=gt.shape) < 0.02] = True
    else:
        gt[:] = True
    assert abs(compute_weighted_fmeasure(pred, gt) - pysod_wfm(pred, gt, normalize=False)) <= 1e-10


def test_empty_gt_and_perfect_prediction():
    pred, _ = blob_case(20, 20, seed=0)
    assert frame_metrics(pred, np.zeros((20, 20), np.uint8))["weighted_fmeasure"] == 0.0
    gt = np.zeros((20, 20), bool)
    gt[5:12, 6:15] = True
    assert compute_weighted_fmeasure(gt.astype(np.float64), gt) == pytest.approx(1.0, abs=1e-12)


def test_kernel_is_matlab_fspecial():
    k = gaussian_kernel_1d(7, 5.0)
    x = np.arange(-3, 4)
    full = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / 50.0)
    np.testing.assert_allclose(np.outer(k, k), full / full.sum(), atol=1e-15)
    with pytest.raises(ValueError, match="sigma"):
        gaussian_kernel_1d(7, 0.0)
    assert gaussian_kernel_1d(1, 5.0).tolist() == [1.0]  # the smallest window: fspecial('gaussian', 1, 5) is 1
    with pytest.raises(ValueError, match="size=0"):
        gaussian_kernel_1d(0, 5.0)


def test_code_path_equals_float_path():
    pred, gt = blob_case(50, 70, seed=6)
    frame = prepare_frame(pred, gt)
    expected = compute_weighted_fmeasure(frame.pred, frame.gt)
    assert compute_weighted_fmeasure(frame.codes, frame.gt, lut=frame.lut) == pytest.approx(expected, abs=1e-12)
    assert compute_weighted_fmeasure(
        frame.codes, frame.gt, lut=frame.lut, code_hist=frame.code_hist
    ) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("as_codes", [False, True])
def test_sparse_prediction_distance_box(as_codes):
    """Zero predictions outside a few blobs: the distance transform is cropped, the value must not change."""
    gt = np.zeros((60, 90), np.uint8)
    gt[40:52, 70:85] = 255
    pred = np.zeros((60, 90), np.uint8)
    pred[5:15, 3:20] = 200  # a false positive far from the GT
    pred[42:50, 66:80] = 255
    pred[0, 89] = 17
    expected = pysod_wfm(pred, gt)
    if as_codes:
        assert frame_metrics(pred, gt)["weighted_fmeasure"] == pytest.approx(expected, abs=1e-10)
    else:
        assert compute_weighted_fmeasure(pred / 255.0, gt > 128) == pytest.approx(expected, abs=1e-10)
        pred[:] = 0
        pred[45, 75] = 255
        assert compute_weighted_fmeasure(pred / 255.0, gt > 128) == pytest.approx(pysod_wfm(pred, gt), abs=1e-10)


@pytest.mark.parametrize("as_codes", [False, True])
def test_far_pixels_beyond_decay_radius(as_codes):
    """Noise more than DECAY_RADIUS pixels from a small GT: the weights dropped there change nothing."""
    from monai_pns.metrics.weighted_fmeasure import DECAY_RADIUS

    rng = np.random.default_rng(7)
    height, width = 40, DECAY_RADIUS + 120
    pred = np.clip(rng.normal(0.1, 0.1, (height, width)), 0, 1)
    gt = np.zeros((height, width), np.uint8)
    gt[15:25, 5:15] = 255
    pred[14:26, 4:16] = 0.9
    pred[20, 10] = 1.0  # min 0, max 1: the min-max normalisation of the references changes nothing
    pred_u8 = np.round(pred * 255).astype(np.uint8)
    expected = pysod_wfm(pred_u8, gt)
    if as_codes:
        assert frame_metrics(pred_u8, gt)["weighted_fmeasure"] == pytest.approx(expected, abs=1e-12)
    else:
        assert compute_weighted_fmeasure(pred_u8 / 255.0, gt > 128) == pytest.approx(expected, abs=1e-12)


def test_an_even_window_is_centred_between_its_middle_pixels():
    """fspecial('gaussian', 4, 1.5) is centred at (size - 1) / 2: offsets -1.5, -0.5, 0.5, 1.5."""
    k = gaussian_kernel_1d(4, 1.5)
    x = np.array([-1.5, -0.5, 0.5, 1.5])
    full = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * 1.5**2))
    np.testing.assert_allclose(np.outer(k, k), full / full.sum(), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(k, k[::-1])


def test_codes_whose_code_0_is_not_0():
    """With a lut that maps code 0 to a positive value, the code-0 pixels far from the GT are false positives: the
    code path equals the float path on ``lut[codes]`` and pysodmetrics."""
    gt = np.zeros((40, 60), bool)
    gt[10:18, 40:50] = True
    codes = np.zeros(gt.shape, np.uint8)
    codes[8:20, 38:52] = 200
    codes[12:16, 42:48] = 255
    lut = np.linspace(0.2, 1.0, 256)
    expected = pysod_wfm(lut[codes], gt, normalize=False)
    assert compute_weighted_fmeasure(lut[codes], gt) == pytest.approx(expected, abs=1e-12)
    assert compute_weighted_fmeasure(codes, gt, lut=lut) == pytest.approx(expected, abs=1e-12)
    zero_lut = np.linspace(0.0, 1.0, 256)  # code 0 is 0 there: the same map scores higher, having no such pixels
    assert compute_weighted_fmeasure(codes, gt, lut=zero_lut) > expected + 0.05
