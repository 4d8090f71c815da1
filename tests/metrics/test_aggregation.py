from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_pns.metrics import FRAME_KEYS, SCALAR_KEYS, SUMMARY_KEYS, VPSEvaluator, frame_metrics
from tests.metrics._cases import blob_case


def fake_frame(peak_at: int, peak: float, smeasure: float) -> dict:
    """Frame metrics that are zero everywhere except one Dice peak and the S-measure."""
    out = {k: (0.0 if k in SCALAR_KEYS else np.zeros(256)) for k in FRAME_KEYS}
    out["dice"] = np.zeros(256)
    out["dice"][peak_at] = peak
    out["smeasure"] = smeasure
    return out


def two_video_evaluator(skip_first_last: bool) -> VPSEvaluator:
    ev = VPSEvaluator(skip_first_last=skip_first_last)
    # video A: 4 frames, video B: 3 frames; the first/last frames carry values that must not count
    ev.add_frame_metrics(fake_frame(0, 1.0, 0.0), "A", 0, "set1")
    ev.add_frame_metrics(fake_frame(10, 1.0, 0.9), "A", 1, "set1")
    ev.add_frame_metrics(fake_frame(20, 1.0, 0.7), "A", 2, "set1")
    ev.add_frame_metrics(fake_frame(0, 1.0, 0.0), "A", 3, "set1")
    ev.add_frame_metrics(fake_frame(30, 0.6, 0.2), "B", 1, "set1")  # added out of order on purpose
    ev.add_frame_metrics(fake_frame(0, 1.0, 1.0), "B", 0, "set1")
    ev.add_frame_metrics(fake_frame(0, 1.0, 1.0), "B", 2, "set1")
    return ev


def test_hand_computed_two_videos():
    ev = two_video_evaluator(skip_first_last=True)
    # video A curve: 0.5 at 10 and 20; video B: 0.6 at 30; set curve: 0.25, 0.25, 0.3
    result = ev.set_results()["set1"]
    assert result["maxDice"] == pytest.approx(0.3)  # max of the averaged curve, not mean of maxima (0.55)
    assert result["meanDice"] == pytest.approx(0.8 / 256)
    assert result["S_alpha"] == pytest.approx((0.8 + 0.2) / 2)  # video-weighted; frame-weighted would be 0.6
    assert (result["videos"], result["frames"]) == (2, 3)
    videos = {row["video"]: row for row in ev.video_results()}
    assert videos["A"]["maxDice"] == pytest.approx(0.5) and videos["A"]["frames"] == 2
    assert videos["B"]["maxDice"] == pytest.approx(0.6) and videos["B"]["S_alpha"] == pytest.approx(0.2)
    np.testing.assert_allclose(ev.set_curves()["set1"]["dice"][[0, 10, 20, 30]], [0, 0.25, 0.25, 0.3])


def test_keep_first_last():
    result = two_video_evaluator(skip_first_last=False).set_results()["set1"]
    # A: index 0 -> 0.5, 10 -> 0.25, 20 -> 0.25; B: index 0 -> 2/3, 30 -> 0.2
    assert result["maxDice"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert result["S_alpha"] == pytest.approx((1.6 / 4 + 2.2 / 3) / 2)


def test_sets_are_separate_and_frames_scored():
    pred, gt = blob_case(32, 32, seed=0)
    ev = VPSEvaluator(summary_keys=("maxDice", "MAE"))
    for i in range(3):
        ev.add_frame(pred, gt, "v", i, "s1")
        ev.add_frame(gt, gt, "v", i, "s2")
    results = ev.set_results()
    assert results["s1"]["maxDice"] == pytest.approx(frame_metrics(pred, gt)["dice"].max())
    assert results["s2"]["maxDice"] == 1.0 and results["s2"]["MAE"] == 0.0
    assert set(results["s1"]) == {"maxDice", "MAE", "videos", "frames"}


@pytest.mark.parametrize("index", [np.int64, torch.tensor], ids=["numpy", "torch"])
def test_frame_indices_from_arrays_are_frame_numbers(index):
    """Indices as collated metadata gives them (0-d tensors, numpy ints) are the same frames as plain ints."""
    ev = VPSEvaluator(skip_first_last=True)
    for t, peak in ((2, 30), (0, 10), (1, 20)):
        ev.add_frame_metrics(fake_frame(peak, 1.0, 0.5), "A", index(t))
    with pytest.raises(ValueError, match="frame 1 of video 'A'"):
        ev.add_frame_metrics(fake_frame(0, 1.0, 0.5), "A", 1)
    assert np.flatnonzero(ev.set_curves()["default"]["dice"]).tolist() == [20]  # frames 0 and 2 skipped, by number


def test_errors_and_short_videos():
    ev = VPSEvaluator()
    frame = fake_frame(0, 1.0, 0.5)
    ev.add_frame_metrics(frame, "short", 0)
    ev.add_frame_metrics(frame, "short", 1)
    with pytest.raises(ValueError, match="frame 1 of video 'short'"):
        ev.add_frame_metrics(frame, "short", 1)
    with pytest.raises(ValueError, match="miss keys"):
        ev.add_frame_metrics({"dice": np.zeros(256)}, "x", 0)
    with pytest.warns(UserWarning, match="'short'"):
        assert ev.set_results() == {}
    with pytest.raises(ValueError, match="maxdise"):
        VPSEvaluator(summary_keys=("maxdise",))
    assert len(SUMMARY_KEYS) == 14
