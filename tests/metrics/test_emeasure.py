from __future__ import annotations

import numpy as np
import py_sod_metrics  # pysodmetrics 1.6.2, the test dependency
import pytest

from monai_pns.metrics import THRESHOLDS, frame_metrics
from monai_pns.metrics.emeasure import adaptive_threshold_counts, compute_adaptive_emeasure
from tests.metrics._cases import blob_case


def reference_emeasure(binary: np.ndarray, gt: np.ndarray) -> float:
    """Per-pixel enhanced alignment matrix, as the MATLAB Enhancedmeasure writes it."""
    eps = np.spacing(1.0)
    fm, dgt = binary.astype(np.float64), gt.astype(np.float64)
    if dgt.sum() == 0:
        enhanced = 1.0 - fm
    elif (1 - dgt).sum() == 0:
        enhanced = fm
    else:
        a, b = fm - fm.mean(), dgt - dgt.mean()
        enhanced = ((2 * a * b / (a * a + b * b + eps)) + 1) ** 2 / 4
    return enhanced.sum() / (gt.size - 1 + eps)


@pytest.mark.parametrize("seed", [0, 1])
def test_sunseg_curve_and_adaptive_match_pysodmetrics(seed):
    pred, gt = blob_case(60, 80, seed=seed)
    ref = py_sod_metrics.Emeasure()
    ref.step(pred, gt)
    out = frame_metrics(pred, gt, mode="sunseg")
    np.testing.assert_allclose(out["emeasure"], ref.get_results()["em"]["curve"], atol=1e-10)
    np.testing.assert_allclose(out["adaptive_emeasure"], ref.get_results()["em"]["adp"], atol=1e-10)


def test_sunseg_fmeasure_matches_pysodmetrics():
    pred, gt = blob_case(60, 80, seed=4)
    ref = py_sod_metrics.FmeasureV2({"fm": py_sod_metrics.FmeasureHandler(True, False, beta=0.3)})
    ref.step(pred, gt)
    out = frame_metrics(pred, gt, mode="sunseg")
    np.testing.assert_allclose(out["fmeasure"], ref.get_results()["fm"]["dynamic"], atol=1e-10)


@pytest.mark.parametrize("gt_kind", ["blob", "empty", "full"])
def test_matlab_curve_matches_per_pixel_reference(gt_kind):
    pred, gt = blob_case(24, 30, seed=7)
    gt = {"blob": gt, "empty": np.zeros_like(gt), "full": np.full_like(gt, 255)}[gt_kind]
    out = frame_metrics(pred, gt)
    p = pred / 255
    p = (p - p.min()) / (p.max() - p.min())
    ref = [reference_emeasure(p >= t, gt > 128) for t in THRESHOLDS]
    np.testing.assert_allclose(out["emeasure"], ref, atol=1e-10)
    assert np.all(np.isfinite(out["emeasure"]))


def test_a_value_at_the_adaptive_threshold_is_positive():
    """mean 0.25 -> threshold 0.5 exactly: the 0.5 pixels are foreground (pred >= threshold), as in the toolboxes."""
    pred = np.array([[0.25, 0.25, 0.25, 0.25], [0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.5, 0.5], [0.25, 0.25, 0.25, 0.25]])
    assert min(2 * pred.mean(), 1.0) == 0.5
    gt = np.zeros((4, 4), bool)
    gt[1:3, 2:] = True
    assert [int(c) for c in adaptive_threshold_counts(pred, gt)] == [4, 0, 0, 12]  # TP, FP, FN, TN
    assert compute_adaptive_emeasure(pred, gt) == pytest.approx(reference_emeasure(pred >= 0.5, gt), abs=1e-15)
    assert compute_adaptive_emeasure(pred, gt) != pytest.approx(reference_emeasure(pred > 0.5, gt), abs=1e-3)


def test_a_code_at_the_adaptive_threshold_is_positive():
    """The 8-bit path: codes 0, 102 and 255 read as 0, 0.4 and 1; mean 0.2 -> threshold 0.4 exactly."""
    codes = np.array([0] * 11 + [102] * 3 + [255] * 2, np.uint8).reshape(4, 4)
    gt = codes > 0
    adaptive = frame_metrics(codes, gt)["adaptive_emeasure"]
    assert adaptive == pytest.approx(reference_emeasure(codes >= 102, gt), abs=1e-15)  # a perfect mask
    assert adaptive != pytest.approx(reference_emeasure(codes > 102, gt), abs=1e-3)


def test_the_adaptive_threshold_is_capped_at_1():
    """mean 0.75: the threshold is min(1.5, 1) = 1, so the six pixels at 1 are positive (uncapped, none would be);
    the float path, and the 8-bit path (codes 0, 191, 255: mean 0.7495) like pysodmetrics."""
    pred = np.array([[1.0] * 4, [1.0, 1.0, 0.75, 0.75], [0.75] * 4, [0.75, 0.75, 0.0, 0.0]])
    assert pred.mean() == 0.75
    gt = np.zeros((4, 4), bool)
    gt[0] = gt[1] = True  # the six pixels at 1 and two at 0.75
    assert [int(c) for c in adaptive_threshold_counts(pred, gt)] == [6, 0, 2, 8]  # TP, FP, FN, TN
    expected = reference_emeasure(pred >= 1.0, gt)
    assert compute_adaptive_emeasure(pred, gt) == pytest.approx(expected, abs=1e-15)
    assert frame_metrics(pred, gt)["adaptive_emeasure"] == pytest.approx(expected, abs=1e-15)
    codes = np.round(pred * 255).astype(np.uint8)
    assert min(2 * (codes / 255).mean(), 1.0) == 1.0
    ref = py_sod_metrics.Emeasure()
    ref.step(codes, gt.astype(np.uint8) * 255)
    for mode in ("matlab", "sunseg"):
        adaptive = frame_metrics(codes, gt, mode=mode)["adaptive_emeasure"]
        assert adaptive == pytest.approx(expected, abs=1e-15)
        assert adaptive == pytest.approx(ref.get_results()["em"]["adp"], abs=1e-12)
