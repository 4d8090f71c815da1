"""monai_pns.evaluation.scoring: prediction folders scored with the protocol's averaging, masks read as in training."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from monai_pns.data.datalist import build_datalist
from monai_pns.evaluation import evaluate_models, evaluate_predictions, ground_truth_videos, select_frames
from monai_pns.evaluation import scoring
from monai_pns.metrics import VPSEvaluator
from tests.evaluation.cases import assert_results, blob, make_pnsnet_tree, noisy, write

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


def test_single_images_keep_their_first_and_last_with_skip_first_last(tmp_path):
    """A source of single images is one unit averaged over all its images, even with skip_first_last=True."""
    pred_root = tmp_path / "pred" / "Model"
    items, expected = [], VPSEvaluator("matlab", skip_first_last=False)
    for k in range(3):
        gt, pred = blob(k, shape=(20, 24)), noisy(blob(k, shape=(20, 24)), k)
        mask = write(tmp_path / "masks" / f"img{k}.png", gt)
        write(pred_root / "Kvasir-SEG" / f"img{k}" / f"img{k}.png", pred)
        items.append({"case": f"Kvasir-SEG/img{k}", "source": "Kvasir-SEG", "image": f"img{k}.jpg", "label": str(mask)})
        expected.add_frame(pred, gt, "Kvasir-SEG", k, "Kvasir-SEG")
    videos = ground_truth_videos({"pretraining": items}, "pretraining")
    result = evaluate_models(videos, [pred_root], skip_first_last=True, progress=False)
    evaluator = result["evaluators"]["Model"]
    assert evaluator.skip_first_last is False and evaluator.set_results()["Kvasir-SEG"]["frames"] == 3
    assert_results(evaluator.set_results(), expected.set_results())


def test_a_video_longer_than_a_chunk_of_masks_keeps_masks_and_predictions_paired(tmp_path):
    """The masks of a video are read scoring._CHUNK at a time: a video of one chunk and two frames more scores as
    every frame paired with its own mask (reference: VPSEvaluator fed the pairs)."""
    num_frames = scoring._CHUNK + 2
    pred_root = tmp_path / "pred" / "Model"
    images, labels, expected = [], [], VPSEvaluator("matlab")
    for n in range(num_frames):
        gt = blob(n, shape=(16, 40))
        gt[:, n : n + 1] = 255  # a column at the frame's own place: no two masks are alike
        pred = noisy(gt, n)
        labels.append(str(write(tmp_path / "gt" / "v" / f"{n}.png", gt)))
        images.append(f"{n}.jpg")
        write(pred_root / "v" / f"{n}.png", pred)
        expected.add_frame(pred, gt, "v", n, "S")
    videos = ground_truth_videos({"test": [{"case": "v", "source": "S", "image": images, "label": labels}]}, "test")
    result = evaluate_models(videos, [pred_root], progress=False)
    results = result["evaluators"]["Model"].set_results()
    assert results["S"]["frames"] == num_frames - 2
    assert_results(results, expected.set_results())
