from __future__ import annotations

import numpy as np
import py_sod_metrics  # pysodmetrics 1.6.2, the test dependency
import pytest

from monai_pns.metrics import compute_smeasure, frame_metrics
from monai_pns.metrics._histogram import quadrant_code_histogram, smeasure_from_quadrant_hist
from monai_pns.metrics.preprocess import prepare_frame
from monai_pns.metrics.smeasure import gt_centroid
from tests.metrics._cases import blob_case

EPS = np.spacing(1.0)


def two_pass_smeasure(pred: np.ndarray, gt: np.ndarray, cy: int, cx: int) -> float:
    """Reference S-measure (two-pass statistics) for a non-degenerate GT split at the 1-based centroid."""

    def obj(x):
        std = np.std(x, ddof=1) if x.size > 1 else 0.0
        return 2 * x.mean() / (x.mean() ** 2 + 1 + std + EPS)

    def ssim(p, g):
        if p.size == 0:
            return 0.0
        n = p.size
        x, y = p.mean(), g.mean()
        sx, sy = ((p - x) ** 2).sum() / (n - 1 + EPS), ((g - y) ** 2).sum() / (n - 1 + EPS)
        sxy = ((p - x) * (g - y)).sum() / (n - 1 + EPS)
        a, b = 4 * x * y * sxy, (x * x + y * y) * (sx + sy)
        return a / (b + EPS) if a != 0 else (1.0 if b == 0 else 0.0)

    g = gt.astype(np.float64)
    u = g.mean()
    object_score = u * obj(pred[gt]) + (1 - u) * obj(1 - pred[~gt])
    h, w = gt.shape
    region = sum(
        ssim(pred[r, c], g[r, c]) * (pred[r, c].size / gt.size)
        for r in (slice(0, cy), slice(cy, h))
        for c in (slice(0, cx), slice(cx, w))
    )
    return max(0.0, 0.5 * object_score + 0.5 * region)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("mode", ["matlab", "sunseg"])
def test_matches_pysodmetrics(seed, mode):
    pred, gt = blob_case(70, 90, seed=seed)
    ref = py_sod_metrics.Smeasure()
    ref.step(pred, gt)
    # blob centroids are not on a half pixel: both roundings agree with pysodmetrics here
    assert abs(frame_metrics(pred, gt, mode=mode)["smeasure"] - ref.get_results()["sm"]) <= 1e-10


def test_half_pixel_centroid_rounding():
    """MATLAB rounds the 1-based centroid half away from zero, pysodmetrics rounds half to even."""
    rng = np.random.default_rng(0)
    pred = rng.uniform(size=(9, 10))
    gt = np.zeros((9, 10), bool)
    gt[4, 2:4] = True  # 0-based column mean 2.5 -> MATLAB column 4, pysodmetrics column 3
    gt[3:6, 2:4] = True  # 0-based row mean 4 -> row 5 in both
    ref = py_sod_metrics.Smeasure()
    ref.step(pred, gt, normalize=False)
    sunseg = compute_smeasure(pred, gt, rounding="sunseg")
    matlab = compute_smeasure(pred, gt, rounding="matlab")
    assert sunseg == pytest.approx(ref.get_results()["sm"], abs=1e-12)
    assert sunseg == pytest.approx(two_pass_smeasure(pred, gt, 5, 3), abs=1e-12)
    assert matlab == pytest.approx(two_pass_smeasure(pred, gt, 5, 4), abs=1e-12)
    assert matlab != pytest.approx(sunseg, abs=1e-6)


@pytest.mark.parametrize(
    "rows, cols, mode, expected",
    [
        # 1-based means 2.5 (even below) and 3.5 (odd below): MATLAB rounds both up; pysodmetrics rounds the 0-based
        # means 1.5 and 2.5 half to even, then adds 1
        (slice(1, 3), slice(2, 4), "matlab", (3, 4)),
        (slice(1, 3), slice(2, 4), "sunseg", (3, 3)),
        # an empty GT: the centre of a 5 x 7 frame, 2.5 and 3.5
        (slice(0, 0), slice(0, 0), "matlab", (3, 4)),
        (slice(0, 0), slice(0, 0), "sunseg", (2, 4)),
    ],
)
def test_centroid_halves_below_even_and_odd_numbers(rows, cols, mode, expected):
    gt = np.zeros((5, 7), bool)
    gt[rows, cols] = True
    assert gt_centroid(gt, mode) == expected


def test_degenerate_gt():
    rng = np.random.default_rng(1)
    pred = rng.uniform(size=(12, 15))
    assert compute_smeasure(pred, np.zeros((12, 15), bool)) == pytest.approx(1 - pred.mean())
    assert compute_smeasure(pred, np.ones((12, 15), bool)) == pytest.approx(pred.mean())
    one = np.zeros((12, 15), bool)
    one[5, 7] = True
    assert compute_smeasure(pred, one) == pytest.approx(two_pass_smeasure(pred, one, 6, 8), abs=1e-12)
    corner = np.zeros((12, 15), bool)
    corner[-1, -1] = True  # centroid on the last row and column: three empty quadrants of weight 0
    value = compute_smeasure(pred, corner)
    assert np.isfinite(value)
    assert value == pytest.approx(two_pass_smeasure(pred, corner, 12, 15), abs=1e-12)
    top_left = np.zeros((12, 15), bool)
    top_left[0, 0] = True
    assert compute_smeasure(pred, top_left) == pytest.approx(two_pass_smeasure(pred, top_left, 1, 1), abs=1e-12)


def test_constant_quadrants():
    """A GT-constant quadrant scores 1 when the prediction is constant there too, else 0."""
    pred = np.zeros((8, 8))
    gt = np.zeros((8, 8), bool)
    gt[:4, :4] = True
    pred[:4, :4] = 1.0
    assert compute_smeasure(pred, gt) == pytest.approx(two_pass_smeasure(pred, gt, 2, 2), abs=1e-12)
    assert compute_smeasure(pred, gt) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_alpha_at_its_bounds_matches_pysodmetrics(alpha):
    """alpha 0: the region score alone, 1: the object score alone; both paths."""
    pred, gt = blob_case(45, 67, seed=0)
    ref = py_sod_metrics.Smeasure(alpha=alpha)
    ref.step(pred, gt)
    frame = prepare_frame(pred, gt)
    assert compute_smeasure(frame.pred, frame.gt, alpha=alpha) == pytest.approx(ref.get_results()["sm"], abs=1e-10)
    from_codes = smeasure_from_quadrant_hist(frame.quadrant_hist, frame.lut, alpha=alpha)
    assert from_codes == pytest.approx(ref.get_results()["sm"], abs=1e-10)


def test_ill_arg():
    with pytest.raises(ValueError, match="alpha"):
        compute_smeasure(np.zeros((4, 4)), np.ones((4, 4), bool), alpha=1.5)
    with pytest.raises(ValueError, match="python"):
        compute_smeasure(np.zeros((4, 4)), np.ones((4, 4), bool), rounding="python")


@pytest.mark.parametrize("seed", [0, 5])
@pytest.mark.parametrize("mode", ["matlab", "sunseg"])
def test_code_histogram_path_equals_float_path(seed, mode):
    pred, gt = blob_case(45, 67, seed=seed)
    frame = prepare_frame(pred, gt, mode)
    from_values = compute_smeasure(frame.pred, frame.gt, rounding=mode)
    quadrant_hist = quadrant_code_histogram(frame.codes, frame.gt, *gt_centroid(frame.gt, mode))
    np.testing.assert_array_equal(quadrant_hist, frame.quadrant_hist)
    from_codes = smeasure_from_quadrant_hist(quadrant_hist, frame.lut)
    assert from_codes == pytest.approx(from_values, abs=1e-12)


@pytest.mark.parametrize("as_codes", [False, True])
def test_frame_metrics_split_at_the_centroid_of_its_mode(as_codes):
    """A GT whose 0-based column mean is 2.5: ``frame_metrics`` splits an 8-bit map (quadrant histograms) and a
    float map (pixel sums) at MATLAB's column 4 in "matlab" mode and at pysodmetrics' column 3 in "sunseg" mode."""
    rng = np.random.default_rng(4)
    gt = np.zeros((9, 10), np.uint8)
    gt[3:6, 2:4] = 255  # rows 3..5: mean 4, row 5 in both; columns 2, 3: mean 2.5
    if as_codes:
        pred = rng.integers(0, 256, gt.shape).astype(np.uint8)
        pred[0, :2] = 0, 255  # min 0, max 255: normalising changes nothing
        values = pred / 255
    else:
        pred = values = rng.uniform(size=gt.shape)
        pred[0, :2] = 0.0, 1.0
    matlab = frame_metrics(pred, gt, mode="matlab")["smeasure"]
    sunseg = frame_metrics(pred, gt, mode="sunseg")["smeasure"]
    assert matlab == pytest.approx(two_pass_smeasure(values, gt > 128, 5, 4), abs=1e-12)
    assert sunseg == pytest.approx(two_pass_smeasure(values, gt > 128, 5, 3), abs=1e-12)
    assert matlab != pytest.approx(sunseg, abs=1e-6)
    if as_codes:
        ref = py_sod_metrics.Smeasure()
        ref.step(pred, gt)
        assert sunseg == pytest.approx(ref.get_results()["sm"], abs=1e-12)


@pytest.mark.parametrize("gt_value", [0, 255])
@pytest.mark.parametrize("mode", ["matlab", "sunseg"])
def test_degenerate_gt_from_codes(gt_value, mode):
    """The 8-bit path: an empty GT scores 1 - mean(pred), a full GT mean(pred), on the normalised map."""
    pred, _ = blob_case(20, 26, seed=2)
    gt = np.full(pred.shape, gt_value, np.uint8)
    values = (pred - pred.min()) / (pred.max() - pred.min())
    expected = values.mean() if gt_value else 1 - values.mean()
    assert frame_metrics(pred, gt, mode=mode)["smeasure"] == pytest.approx(expected, abs=1e-12)
    ref = py_sod_metrics.Smeasure()
    ref.step(pred, gt)
    assert frame_metrics(pred, gt, mode=mode)["smeasure"] == pytest.approx(ref.get_results()["sm"], abs=1e-12)
