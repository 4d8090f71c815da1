"""monai_pns.evaluation.run: evaluate_predictions with a layout's defaults (mask folder, key scored, metric mode)."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from monai_pns.data.datalist import build_datalist
from monai_pns.evaluation import evaluate_predictions
from monai_pns.metrics import VPSEvaluator
from tests.evaluation.cases import assert_results, blob, expected_results, make_pnsnet_tree, noisy, write

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


def _kvasir(root, pred_root, names=("cju0a", "cju1b", "cju2c")):
    """A Kvasir-SEG folder with PNG masks and its predictions; returns the expected set results."""
    expected = VPSEvaluator(skip_first_last=False)
    for k, name in enumerate(names):
        gt = blob(k, shape=(48, 64))
        write(root / "images" / f"{name}.jpg", np.dstack([gt] * 3))
        write(root / "masks" / f"{name}.png", gt)
        pred = noisy(gt, k)
        write(pred_root / "Kvasir-SEG" / name / f"{name}.png", pred)
        expected.add_frame(pred, gt, "Kvasir-SEG", k, "Kvasir-SEG")
    return expected.set_results()


def test_a_datalist_is_scored_with_the_defaults_of_its_layout(tmp_path):
    """A datalist (dict or file) names its layout: that layout's key and metric mode are the defaults, as for
    ``layout=`` with ``gt_root=``."""
    root, pred_root = tmp_path / "Kvasir-SEG", tmp_path / "pred" / "PraNet"
    expected = _kvasir(root, pred_root)
    datalist = build_datalist("kvasir", root)
    assert list(datalist["pretraining"]) and "test" not in datalist
    summary = evaluate_predictions(pred_root, tmp_path / "e", datalist=datalist)
    assert (summary["layout"], summary["data_list_key"], summary["mode"]) == ("kvasir", "pretraining", "matlab")
    assert_results(summary["results"]["PraNet"], expected)
    # a layout scored in "sunseg" mode by default: the mode follows the datalist's layout
    tree, _, model, frames = make_pnsnet_tree(tmp_path / "tree")
    relabelled = {**build_datalist("pnsnet", tree), "layout": "sunseg"}
    with pytest.warns(UserWarning, match="resized"):
        summary = evaluate_predictions(model, tmp_path / "f", datalist=relabelled)
    assert (summary["layout"], summary["data_list_key"], summary["mode"]) == ("sunseg", "test", "sunseg")
    assert_results(summary["results"]["Noisy"], expected_results(frames, mode="sunseg"))


def test_ground_truth_arguments_that_do_not_go_together(tmp_path):
    """Each mistake is named before any work, and nothing is written."""
    root, pred_root = tmp_path / "Kvasir-SEG", tmp_path / "pred" / "PraNet"
    _kvasir(root, pred_root, names=("cju0a",))
    datalist, out = build_datalist("kvasir", root), tmp_path / "e"
    not_both = r"give the ground truth as datalist=\.\.\., or as layout=\.\.\. with gt_root=\.\.\. \(not both\)\."
    cases = [
        ({"datalist": datalist, "layout": "kvasir", "gt_root": root}, not_both),
        ({}, not_both),
        ({"datalist": datalist, "masks": root / "masks"},
         rf"layout and masks describe gt_root, not a datalist: layout=None, masks=.*'{re.escape(str(root))}/masks'"),
        ({"datalist": datalist, "layout": "kvasir"},
         r"layout and masks describe gt_root, not a datalist: layout='kvasir', masks=None\."),
        ({"gt_root": root}, r"gt_root needs its layout: one of \('pnsnet', 'sunseg', 'kvasir', 'folders'.*\), got "
                            r"layout=None\."),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            evaluate_predictions(pred_root, out, **kwargs)
        assert not out.exists(), kwargs
