"""monai_pns.evaluation.scoring: prediction folders scored with the protocol's averaging, masks read as in training."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from monai_pns.data.datalist import build_datalist
from monai_pns.evaluation import evaluate_models, evaluate_predictions, ground_truth_videos, select_frames
from monai_pns.metrics import VPSEvaluator
from tests.evaluation.cases import assert_results, make_pnsnet_tree, write

@pytest.fixture
def pnsnet_tree(tmp_path):
    return make_pnsnet_tree(tmp_path)


def test_a_subset_is_scored_as_its_frames_alone(pnsnet_tree):
    """Scoring selected frames equals the protocol run on those frames only (reference: VPSEvaluator fed them)."""
    root, perfect, model, frames = pnsnet_tree
    videos = ground_truth_videos(build_datalist("pnsnet", root), "test")
    picks = {"CVC-300/1": [0, 2, 3, 7], "CVC-300/2": [5], "CVC-612-T/7": [1, 9, 10]}
    with pytest.warns(UserWarning, match="resized"):
        result = evaluate_models(select_frames(videos, picks), [model], skip_first_last=False, progress=False)
    expected = VPSEvaluator("matlab", skip_first_last=False)
    for (set_name, case, n), (gt, pred) in frames.items():
        if n - 1 in picks[f"{set_name}/{case}"] and n - 1 not in (0, 10):
            expected.add_frame(pred, gt, f"{set_name}/{case}", n - 1, set_name)
    assert_results(result["evaluators"]["Noisy"].set_results(), expected.set_results())
    assert result["evaluators"]["Noisy"].set_results()["CVC-300"]["frames"] == 4  # 2, 3, 7 of case 1; 5 of case 2


def test_coloured_mask_read_as_in_training(pnsnet_tree, tmp_path):
    """A red mask: polyp by its brightest channel (as LoadFramesd reads labels), not by its luminance (76)."""
    from monai_pns.transforms import LoadFramesd

    root, _, model, frames = pnsnet_tree
    grey = evaluate_predictions(model, tmp_path / "grey", layout="pnsnet", gt_root=root)
    for n in range(1, 12):
        path = root / "VPS-TestSet" / "CVC-300" / "GT" / "2" / f"{n}.png"
        mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        red = np.zeros((*mask.shape, 3), np.uint8)
        red[..., 2] = mask  # BGR: red where the polyp is
        write(path, red)
    assert cv2.imread(str(path), cv2.IMREAD_GRAYSCALE).max() == 76  # luminance would see no polyp at all
    label = LoadFramesd(keys="label")({"label": [str(path)]})["label"]
    assert float(label.sum()) == float((frames[("CVC-300", "2", 11)][0] > 128).sum())
    red = evaluate_predictions(model, tmp_path / "red", layout="pnsnet", gt_root=root)
    assert red["results"] == grey["results"]
