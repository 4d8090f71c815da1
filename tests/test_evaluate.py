from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from monai_pns.evaluate import main, scan_ground_truth
from monai_pns.metrics import VPSEvaluator


def blob(i: int, shape=(36, 44)) -> np.ndarray:
    gt = np.zeros(shape, np.uint8)
    gt[8 + i % 5 : 22 + i % 5, 10:30] = 255
    return gt


def noisy(gt: np.ndarray, seed: int, size=None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pred = np.clip(cv2.GaussianBlur(gt.astype(np.float64), (0, 0), 2) + rng.normal(0, 60, gt.shape), 0, 255)
    pred = pred.astype(np.uint8)
    return cv2.resize(pred, size, interpolation=cv2.INTER_AREA) if size else pred


def write(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)


@pytest.fixture
def pnsnet_tree(tmp_path):
    """VPS-TestSet/<set>/{Frame,GT}/<case>/<n>.png with 11 integer-named frames (1..11: 10 sorts after 9)."""
    gt_root, perfect, model = tmp_path / "VPS-TestSet", tmp_path / "res" / "Perfect", tmp_path / "res" / "Noisy"
    frames = {}
    for set_name, cases in (("CVC-300", ("1", "2")), ("CVC-612-T", ("7",))):
        for case in cases:
            for n in range(1, 12):
                gt = blob(n + int(case))
                write(gt_root / set_name / "GT" / case / f"{n}.png", gt)
                write(gt_root / set_name / "Frame" / case / f"{n}.png", gt)  # images are not read
                write(perfect / set_name / case / f"{n}.png", gt)
                pred = noisy(gt, n * 7 + int(case), size=(30, 25))  # another size: resized to the GT
                write(model / set_name / case / f"{n}.png", pred)
                frames[(set_name, case, n)] = (gt, pred)
    return gt_root, perfect, model, frames


def test_scan_orders_frames_numerically(pnsnet_tree):
    gt_root = pnsnet_tree[0]
    videos = scan_ground_truth(gt_root, "pnsnet")
    assert [(v.set_name, v.video) for v in videos] == [("CVC-300", "1"), ("CVC-300", "2"), ("CVC-612-T", "7")]
    assert [f.gt_path.stem for f in videos[0].frames] == [str(n) for n in range(1, 12)]
    assert videos[0].frames[3].pred_rel == Path("CVC-300/1/4.png")


def test_pnsnet_layout_two_models(pnsnet_tree, tmp_path):
    gt_root, perfect, model, frames = pnsnet_tree
    out = tmp_path / "eval"
    main(["--gt-root", str(gt_root), "--pred-root", str(perfect), "--pred-root", str(model),
          "--layout", "pnsnet", "--out", str(out), "--no-progress"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["models"] == ["Perfect", "Noisy"] and summary["sets"] == ["CVC-300", "CVC-612-T"]
    expected = VPSEvaluator()
    for (set_name, case, n), (gt, pred) in frames.items():
        expected.add_frame(pred, gt, case, n, set_name)
    for set_name, values in expected.set_results().items():
        for key, value in values.items():
            assert summary["results"]["Noisy"][set_name][key] == pytest.approx(value, abs=1e-12), key
    assert summary["results"]["Perfect"]["CVC-300"]["maxDice"] == 1.0
    assert summary["results"]["Perfect"]["CVC-300"]["frames"] == 18  # 2 videos x (11 - 2)
    with open(out / "per_video.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and rows[0]["model"] == "Perfect" and rows[0]["frames"] == "9"
    md = (out / "summary.md").read_text()
    assert "| Model | maxDice | maxSpe | maxIoU | S_alpha | meanEm | MAE |" in md and "| Noisy |" in md
    for name in ("curves_CVC-300.png", "curves_CVC-612-T.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*tmp"))


def test_missing_prediction(pnsnet_tree, tmp_path):
    gt_root, _, model, frames = pnsnet_tree
    (model / "CVC-300" / "2" / "5.png").unlink()
    args = ["--gt-root", str(gt_root), "--pred-root", str(model), "--layout", "pnsnet", "--out", str(tmp_path / "e")]
    with pytest.raises(FileNotFoundError, match=r"1 prediction\(s\) missing .*CVC-300/2/5.png"):
        main(args + ["--no-progress"])
    assert not (tmp_path / "e").exists()
    summary = main(args + ["--no-progress", "--allow-missing"])
    assert len(summary["missing"]["Noisy"]) == 1
    assert "Noisy: 1" in (tmp_path / "e" / "summary.md").read_text()
    expected = VPSEvaluator()
    for (set_name, case, n), (gt, pred) in frames.items():
        pred = np.zeros_like(gt) if (set_name, case, n) == ("CVC-300", "2", 5) else pred
        expected.add_frame(pred, gt, case, n, set_name)
    assert summary["results"]["Noisy"]["CVC-300"]["S_alpha"] == pytest.approx(
        expected.set_results()["CVC-300"]["S_alpha"], abs=1e-12
    )


def test_sunseg_and_folders_layouts(tmp_path):
    gt_root, pred_root = tmp_path / "SUN-SEG", tmp_path / "pred" / "PNSPlus"
    expected = VPSEvaluator(mode="sunseg", skip_first_last=False)
    for split in ("TestEasyDataset/Unseen", "TestHardDataset/Unseen"):
        for case in ("case1_1", "case2_3"):
            for k in (12, 3, 7):
                gt = blob(k)
                name = f"{case}_a2_ayy_image{k:04d}.png"
                write(gt_root / split / "GT" / case / name, gt)
                pred = noisy(gt, k)
                write(pred_root / split / case / name, pred)
                expected.add_frame(pred, gt, case, k, split)
    summary = main(["--gt-root", str(gt_root), "--pred-root", str(pred_root), "--layout", "sunseg",
                    "--out", str(tmp_path / "e"), "--no-progress", "--keep-first-last"])
    assert summary["mode"] == "sunseg"
    for split, values in expected.set_results().items():
        assert summary["results"]["PNSPlus"][split]["meanF"] == pytest.approx(values["meanF"], abs=1e-12)
    assert "| PNSPlus |" in (tmp_path / "e" / "summary.md").read_text()
    assert (tmp_path / "e" / "curves_TestEasyDataset_Unseen.png").is_file()
    videos = scan_ground_truth(gt_root, "sunseg")
    assert [f.gt_path.name[-8:-4] for f in videos[0].frames] == ["0003", "0007", "0012"]
    # folders layout: <root>/<case>/*.png
    summary = main(["--gt-root", str(gt_root / "TestEasyDataset/Unseen/GT"),
                    "--pred-root", str(pred_root / "TestEasyDataset/Unseen"), "--layout", "folders",
                    "--out", str(tmp_path / "f"), "--no-progress", "--mode", "sunseg", "--keep-first-last"])
    assert summary["results"]["Unseen"]["default"]["meanF"] == pytest.approx(
        expected.set_results()["TestEasyDataset/Unseen"]["meanF"], abs=1e-12
    )


def test_bad_roots(tmp_path):
    with pytest.raises(ValueError, match="not a directory"):
        main(["--gt-root", str(tmp_path / "nope"), "--pred-root", str(tmp_path), "--layout", "folders",
              "--out", str(tmp_path / "o"), "--no-progress"])
    (tmp_path / "gt").mkdir()
    with pytest.raises(ValueError, match="no ground-truth PNG"):
        main(["--gt-root", str(tmp_path / "gt"), "--pred-root", str(tmp_path), "--layout", "folders",
              "--out", str(tmp_path / "o"), "--no-progress"])


def test_unreadable_prediction_keeps_previous_reports(pnsnet_tree, tmp_path):
    gt_root, perfect, _, _ = pnsnet_tree
    out = tmp_path / "eval"
    args = ["--gt-root", str(gt_root), "--pred-root", str(perfect), "--layout", "pnsnet", "--out", str(out)]
    main(args + ["--no-progress"])
    before = (out / "summary.json").read_bytes()
    bad = perfect / "CVC-612-T" / "7" / "4.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"cannot read image .*CVC-612-T/7/4.png"):
        main(args + ["--no-progress"])
    assert (out / "summary.json").read_bytes() == before
