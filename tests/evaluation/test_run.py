"""monai_pns.evaluation.run: evaluate_predictions with a layout's defaults (mask folder, key scored, metric mode)."""

from __future__ import annotations

import cv2
import numpy as np

from monai_pns.evaluation import evaluate_predictions
from monai_pns.metrics import VPSEvaluator
from tests.evaluation.cases import assert_results, blob, noisy, write

def test_folders_layout_masks_only(tmp_path):
    gt_root, pred_root = tmp_path / "gt", tmp_path / "pred" / "Mine"
    expected = VPSEvaluator(mode="sunseg")
    frames = {}
    for case in ("a", "b"):
        for k in range(1, 6):
            gt, pred = blob(k), noisy(blob(k), k)
            write(gt_root / case / f"{k:03d}.png", gt)
            write(pred_root / case / f"{k:03d}.png", pred)
            expected.add_frame(pred, gt, case, k, "gt")
            frames[(case, k)] = gt
    summary = evaluate_predictions([pred_root], tmp_path / "e", layout="folders", gt_root=gt_root, mode="sunseg")
    assert_results(summary["results"]["Mine"], expected.set_results())


def test_kvasir_single_images_with_jpeg_masks(tmp_path):
    root, pred_root = tmp_path / "Kvasir-SEG", tmp_path / "pred" / "PraNet"
    expected = VPSEvaluator(skip_first_last=False)  # single images: none skipped
    for k, name in enumerate(("cju0a", "cju1b", "cju2c")):
        gt = blob(k, shape=(48, 64))
        write(root / "images" / f"{name}.jpg", np.dstack([gt] * 3))
        mask_path = write(root / "masks" / f"{name}.jpg", gt)  # JPEG masks: noisy edges, thresholded > 128
        mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        assert 0 < np.count_nonzero((mask > 0) & (mask < 255))  # JPEG artefacts: the threshold matters
        pred = noisy(gt, k)
        write(pred_root / "Kvasir-SEG" / name / f"{name}.png", pred)  # <pred>/<case>/<stem>.png, case Kvasir-SEG/<id>
        expected.add_frame(pred, mask, "Kvasir-SEG", k, "Kvasir-SEG")
    summary = evaluate_predictions(pred_root, tmp_path / "e", layout="kvasir", gt_root=root)
    assert summary["data_list_key"] == "pretraining" and summary["skip_first_last"] is False
    assert_results(summary["results"]["PraNet"], expected.set_results())
    assert summary["results"]["PraNet"]["Kvasir-SEG"]["frames"] == 3
