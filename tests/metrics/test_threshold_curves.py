from __future__ import annotations

import numpy as np
import pytest

from monai_pns.metrics import THRESHOLDS, frame_metrics
from monai_pns.metrics import _histogram
from monai_pns.metrics.preprocess import prepare_frame, threshold_levels
from monai_pns.metrics.threshold_curves import compute_count_curves, counts_from_level_hist
from tests.metrics._cases import blob_case


def reference_curves(pred: np.ndarray, gt: np.ndarray, sunseg: bool = False) -> dict[str, np.ndarray]:
    """Independent count-based reference: one binarisation per threshold, the MATLAB Fmeasure_calu rules; F-beta
    with beta^2 = 0.3 in "sunseg" mode, 1 otherwise."""
    out = {k: np.zeros(256) for k in ("dice", "iou", "sensitivity", "specificity", "precision", "f1", "fmeasure")}
    beta2 = 0.3 if sunseg else 1.0
    codes = (pred * 255).astype(np.uint8)
    for i, t in enumerate(THRESHOLDS):
        binary = codes >= 255 - i if sunseg else pred >= t
        tp = int(np.sum(binary & gt))
        fp = int(np.sum(binary & ~gt))
        fn = int(np.sum(~binary & gt))
        tn = int(np.sum(~binary & ~gt))
        if tp == 0:
            continue
        pre, rec = tp / (tp + fp), tp / (tp + fn)
        out["dice"][i] = 2 * tp / (int(gt.sum()) + int(binary.sum()))
        out["iou"][i] = tp / (tp + fp + fn)
        out["sensitivity"][i] = rec
        out["specificity"][i] = tn / (tn + fp) if tn + fp else 0.0
        out["precision"][i] = pre
        out["f1"][i] = 2 * pre * rec / (pre + rec)
        out["fmeasure"][i] = (1 + beta2) * pre * rec / (beta2 * pre + rec)
    return out


def normalised(pred: np.ndarray) -> np.ndarray:
    pred = pred / 255 if pred.dtype == np.uint8 else pred.astype(np.float64)
    return (pred - pred.min()) / (pred.max() - pred.min()) if pred.max() > pred.min() else pred


@pytest.mark.parametrize("mode", ["matlab", "sunseg"])
@pytest.mark.parametrize("as_float", [False, True])
def test_curves_match_count_reference(mode, as_float):
    pred, gt = blob_case(48, 64, seed=3)
    if as_float:
        pred = np.random.default_rng(0).uniform(0.1, 0.7, pred.shape) * (pred / 255) + 0.05
    out = frame_metrics(pred, gt, mode=mode)
    ref = reference_curves(normalised(pred), gt > 128, sunseg=mode == "sunseg")
    for key, curve in ref.items():
        np.testing.assert_allclose(out[key], curve, rtol=0, atol=1e-12, err_msg=key)
    if mode == "matlab":
        np.testing.assert_allclose(out["fmeasure"], ref["f1"], atol=1e-12)


def test_threshold_levels_exact_on_grid_values():
    """Values exactly on (or one ulp around) the thresholds are compared as ``pred >= t`` would."""
    values = np.concatenate([THRESHOLDS, np.nextafter(THRESHOLDS, 2), np.nextafter(THRESHOLDS, -1)[:-1]])
    values = np.clip(values, 0, 1)
    expected = (values[:, None] >= THRESHOLDS[None, :]).sum(1)
    np.testing.assert_array_equal(threshold_levels(values, "matlab"), expected)


def test_threshold_levels_of_a_map_equal_direct_comparison():
    rng = np.random.default_rng(11)
    values = rng.uniform(size=(23, 31))
    values[0, :3] = 0.0, 1.0, np.nextafter(1.0, 0)
    values.ravel()[31 : 31 + 256] = THRESHOLDS[rng.permutation(256)]
    expected = (values[..., None] >= THRESHOLDS).sum(-1)
    np.testing.assert_array_equal(threshold_levels(values, "matlab"), expected)


def test_uint8_fast_path_equals_float_path():
    pred, gt = blob_case(40, 52, seed=5)
    fast = prepare_frame(pred, gt)
    slow = prepare_frame(normalised(pred), gt)
    np.testing.assert_array_equal(fast.level_hist, slow.level_hist)
    np.testing.assert_array_equal(fast.pred, slow.pred)


@pytest.mark.parametrize("gt_value", [0, 255])
@pytest.mark.parametrize("mode", ["matlab", "sunseg"])
def test_degenerate_gt_never_nan(gt_value, mode):
    pred, _ = blob_case(32, 40, seed=1)
    gt = np.full(pred.shape, gt_value, np.uint8)
    out = frame_metrics(pred, gt, mode=mode)
    for key, value in out.items():
        assert np.all(np.isfinite(value)), key
    if gt_value == 0:  # TP == 0 at every threshold
        for key in ("dice", "iou", "sensitivity", "specificity", "precision", "f1", "fmeasure"):
            np.testing.assert_array_equal(out[key], 0.0)
    else:  # no GT background: specificity 0, sensitivity 1 at threshold 0
        np.testing.assert_array_equal(out["specificity"], 0.0)
        assert out["sensitivity"][-1] == 1.0


@pytest.mark.parametrize("beta2", [0.0, -0.3])
def test_beta2_must_be_positive(beta2):
    counts = counts_from_level_hist(np.ones((2, 257), np.int64))
    with pytest.raises(ValueError, match=f"beta2 must be positive, got {beta2}"):
        compute_count_curves(counts, beta2)
    assert compute_count_curves(counts, 1e-9)["fmeasure"].shape == (256,)


def test_f_beta_weights_the_precision_by_beta2():
    """One polyp and three background pixels, all positive at every threshold: precision 1/4, recall 1, so F-beta
    = 1.3 * (1/4) / (0.3 * (1/4) + 1) = 13/43 with beta^2 = 0.3 (SUN-SEG) and F1 = 2/5."""
    hist = np.zeros((2, 257), np.int64)
    hist[1, 256], hist[0, 256] = 1, 3
    counts = counts_from_level_hist(hist)
    np.testing.assert_allclose(compute_count_curves(counts, beta2=0.3)["fmeasure"], 13 / 43, rtol=0, atol=1e-15)
    np.testing.assert_allclose(compute_count_curves(counts, beta2=1.0)["fmeasure"], 0.4, rtol=0, atol=1e-15)


def test_tp_zero_rule_and_constant_prediction():
    _, gt = blob_case(32, 40, seed=2)
    out = frame_metrics(np.zeros(gt.shape, np.uint8), gt)  # constant 0: left as is, positive only at t = 0
    assert out["dice"][-1] > 0 and np.all(out["dice"][:-1] == 0)
    assert np.all(out["specificity"][:-1] == 0)  # TP == 0 there: 0 although TN / (TN + FP) = 1


@pytest.mark.parametrize("limit", [None, 0])
def test_code_histogram_both_paths(limit, monkeypatch):
    if limit is not None:  # force the np.bincount path used for maps of 2^24 pixels or more
        monkeypatch.setattr(_histogram, "CALCHIST_EXACT_LIMIT", limit)
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, (37, 53), dtype=np.uint8)
    labels = rng.integers(0, 5, (37, 53), dtype=np.uint8)
    expected = np.zeros((5, 256))
    np.add.at(expected, (labels.ravel(), codes.ravel()), 1)
    np.testing.assert_array_equal(_histogram.code_histogram(codes, labels, 5), expected)
    np.testing.assert_array_equal(_histogram.code_histogram(codes)[0], expected.sum(0))
    pred, gt = blob_case(40, 52, seed=8)
    np.testing.assert_array_equal(prepare_frame(pred, gt).level_hist, prepare_frame(pred / 255.0, gt).level_hist)
