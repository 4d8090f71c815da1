from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from monai_pns.data.datalist import build_datalist, write_datalist
from monai_pns.evaluate import evaluate_models, evaluate_predictions, ground_truth_videos, main, select_frames
from monai_pns.metrics import VPSEvaluator
from monai_pns.utils import EXIT_DATA_ERROR, EXIT_USAGE, run_cli


def blob(i: int, shape=(36, 44)) -> np.ndarray:
    gt = np.zeros(shape, np.uint8)
    gt[8 + i % 5 : 22 + i % 5, 10:30] = 255
    return gt


def noisy(gt: np.ndarray, seed: int, size=None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pred = np.clip(cv2.GaussianBlur(gt.astype(np.float64), (0, 0), 2) + rng.normal(0, 60, gt.shape), 0, 255)
    pred = pred.astype(np.uint8)
    return cv2.resize(pred, size, interpolation=cv2.INTER_AREA) if size else pred


def write(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


@pytest.fixture
def pnsnet_tree(tmp_path):
    """<root>/VPS-TestSet/<set>/{Frame,GT}/<case>/<n>.png with 11 integer-named frames (1..11: 10 sorts after 9)."""
    root, perfect, model = tmp_path / "PNS-Net", tmp_path / "res" / "Perfect", tmp_path / "res" / "Noisy"
    frames = {}
    for set_name, cases in (("CVC-300", ("1", "2")), ("CVC-612-T", ("7",))):
        for case in cases:
            for n in range(1, 12):
                gt = blob(n + int(case))
                write(root / "VPS-TestSet" / set_name / "GT" / case / f"{n}.png", gt)
                write(root / "VPS-TestSet" / set_name / "Frame" / case / f"{n}.jpg", gt)  # images are not read
                write(perfect / set_name / case / f"{n}.png", gt)
                pred = noisy(gt, n * 7 + int(case), size=(30, 25))  # another size: resized to the GT
                write(model / set_name / case / f"{n}.png", pred)
                frames[(set_name, case, n)] = (gt, pred)
    return root, perfect, model, frames


def _expected(frames: dict, mode: str = "matlab", skip_first_last: bool = True, replace=None) -> dict:
    expected = VPSEvaluator(mode, skip_first_last)
    for (set_name, case, n), (gt, pred) in frames.items():
        pred = replace(set_name, case, n, gt, pred) if replace else pred
        expected.add_frame(pred, gt, case, n, set_name)
    return expected.set_results()


def _assert_results(actual: dict, expected: dict) -> None:
    assert list(actual) == list(expected)
    for set_name, values in expected.items():
        for key, value in values.items():
            assert actual[set_name][key] == pytest.approx(value, abs=1e-12), (set_name, key)


def test_ground_truth_from_the_datalist_in_order(pnsnet_tree):
    root = pnsnet_tree[0]
    videos = ground_truth_videos(build_datalist("pnsnet", root), "test")
    assert [(v.set_name, v.video) for v in videos] == [("CVC-300", "CVC-300/1"), ("CVC-300", "CVC-300/2"),
                                                       ("CVC-612-T", "CVC-612-T/7")]
    assert [Path(f.gt_ref).stem for f in videos[0].frames] == [str(n) for n in range(1, 12)]
    assert [f.index for f in videos[0].frames] == list(range(11))
    assert videos[0].frames[3].pred_rel == Path("CVC-300/1/4.png")


def test_select_frames_keeps_the_listed_frames_minus_first_and_last(pnsnet_tree):
    videos = ground_truth_videos(build_datalist("pnsnet", pnsnet_tree[0]), "test")
    chosen = select_frames(videos, {"CVC-300/1": [0, 3, 4, 10], "CVC-300/2": [0, 10], "CVC-612-T/7": range(11)})
    assert [(v.set_name, v.video, v.is_video) for v in chosen] == [("CVC-300", "CVC-300/1", True),
                                                                   ("CVC-612-T", "CVC-612-T/7", True)]
    assert [f.index for f in chosen[0].frames] == [3, 4] and [f.index for f in chosen[1].frames] == list(range(1, 10))
    assert chosen[0].frames[0] is videos[0].frames[3]
    kept = select_frames(videos, {"CVC-300/2": [10, 0]}, skip_first_last=False)
    assert [(v.video, [f.index for f in v.frames]) for v in kept] == [("CVC-300/2", [0, 10])]
    assert select_frames(videos, {}) == [] and len(videos[0].frames) == 11  # the input is left as it was


def test_select_frames_refuses_unknown_cases_and_frames(pnsnet_tree):
    videos = ground_truth_videos(build_datalist("pnsnet", pnsnet_tree[0]), "test")
    with pytest.raises(ValueError, match=r"frames name units that are not scored: \['CVC-300/9'\]"):
        select_frames(videos, {"CVC-300/9": [1], "CVC-300/1": [1]})
    with pytest.raises(ValueError, match=r"case 'CVC-300/1' has no frame \[11, 12\] \(frames 0..10\)"):
        select_frames(videos, {"CVC-300/1": [12, 11, 2]})


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
    _assert_results(result["evaluators"]["Noisy"].set_results(), expected.set_results())
    assert result["evaluators"]["Noisy"].set_results()["CVC-300"]["frames"] == 4  # 2, 3, 7 of case 1; 5 of case 2


def test_pnsnet_layout_two_models(pnsnet_tree, tmp_path, capsys):
    root, perfect, model, frames = pnsnet_tree
    out = tmp_path / "eval"
    with pytest.warns(UserWarning, match=r"model 'Noisy': 33 prediction\(s\) of another size .* resized"):
        summary = main(["--gt-root", str(root), "--layout", "pnsnet", "--pred-root", str(perfect),
                        "--pred-root", str(model), "--out", str(out), "--no-progress"])
    assert f"reports written to {out}: per_video.csv, summary.csv, summary.json, summary.md, curves_CVC-300.png, " \
        "curves_CVC-612-T.png" in capsys.readouterr().out
    assert json.loads((out / "summary.json").read_text()) == summary
    assert summary["models"] == ["Perfect", "Noisy"] and summary["sets"] == ["CVC-300", "CVC-612-T"]
    assert summary["layout"] == "pnsnet" and summary["data_list_key"] == "test" and summary["mode"] == "matlab"
    _assert_results(summary["results"]["Noisy"], _expected(frames))
    assert summary["results"]["Perfect"]["CVC-300"]["maxDice"] == 1.0
    assert summary["results"]["Perfect"]["CVC-300"]["frames"] == 18  # 2 videos x (11 - 2)
    assert summary["resized"]["Perfect"] == [] and len(summary["resized"]["Noisy"]) == 33
    with open(out / "per_video.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and rows[0]["model"] == "Perfect" and rows[0]["frames"] == "9"
    with open(out / "summary.csv") as f:
        rows = {(r["model"], r["set"]): r for r in csv.DictReader(f)}
    assert rows[("Noisy", "CVC-300")]["resized"] == "22" and rows[("Noisy", "CVC-612-T")]["resized"] == "11"
    assert rows[("Perfect", "CVC-300")]["resized"] == "0" and rows[("Noisy", "CVC-300")]["missing"] == "0"
    md = (out / "summary.md").read_text()
    assert "| Model | maxDice | maxSpe | maxIoU | S_alpha | meanEm | MAE |" in md and "| Noisy |" in md
    assert "Predictions of another size than their ground truth, resized to it: Noisy: 33" in md
    for name in ("curves_CVC-300.png", "curves_CVC-612-T.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*tmp"))


def test_stale_curves_removed_and_umask_honoured(pnsnet_tree, tmp_path):
    root, perfect, _, _ = pnsnet_tree
    out = tmp_path / "eval"
    out.mkdir()
    (out / "curves_OldSet.png").write_bytes(b"from a previous run")
    (out / "notes.txt").write_text("not ours: kept")
    old = os.umask(0o002)
    try:
        summary = evaluate_predictions(perfect, out, layout="pnsnet", gt_root=root)
    finally:
        os.umask(old)
    assert sorted(p.name for p in out.iterdir()) == sorted([*summary["reports"], "notes.txt"])
    assert all((out / name).stat().st_mode & 0o777 == 0o664 for name in summary["reports"])


def test_missing_prediction(pnsnet_tree, tmp_path):
    root, _, model, frames = pnsnet_tree
    (model / "CVC-300" / "2" / "5.png").unlink()
    args = ["--gt-root", str(root), "--layout", "pnsnet", "--pred-root", str(model), "--out", str(tmp_path / "e"),
            "--no-progress"]
    with pytest.raises(FileNotFoundError, match=r"1 prediction\(s\) missing .*CVC-300/2/5.png"):
        main(args)
    assert not (tmp_path / "e").exists()
    with pytest.warns(UserWarning, match="32 prediction"):  # the missing one is scored as a zero map at GT size
        summary = main(args + ["--allow-missing"])
    assert len(summary["missing"]["Noisy"]) == 1
    assert "Missing predictions scored as all-zero maps: Noisy: 1" in (tmp_path / "e" / "summary.md").read_text()
    with open(tmp_path / "e" / "summary.csv") as f:
        assert [r["missing"] for r in csv.DictReader(f)] == ["1", "0"]  # per set
    zero = lambda s, c, n, gt, pred: np.zeros_like(gt) if (s, c, n) == ("CVC-300", "2", 5) else pred  # noqa: E731
    _assert_results(summary["results"]["Noisy"], _expected(frames, replace=zero))


def test_cli_prints_a_warning_as_one_clean_line(pnsnet_tree, tmp_path, capsys):
    root, _, model, _ = pnsnet_tree
    (model / "CVC-300" / "2" / "5.png").unlink()
    args = ["--gt-root", root, "--layout", "pnsnet", "--pred-root", model, "--out", tmp_path / "e", "--no-progress",
            "--allow-missing"]
    assert run_cli(main, list(map(str, args))) == 0
    assert capsys.readouterr().err.splitlines() == [  # no "UserWarning", no source line
        f"warning: model 'Noisy': 32 prediction(s) of another size than their ground truth were resized to it, "
        f"e.g. '{model / 'CVC-300' / '1' / '1.png'}' (counted as 'resized' in the reports)."
    ]


def _sunseg(root: Path, pred_root: Path, expected: VPSEvaluator | None = None) -> None:
    for split in ("TestEasyDataset/Unseen", "TestHardDataset/Unseen", "TestHardDataset/Seen"):
        for case in ("case1_1", "case2_3"):
            for k in (12, 3, 7):
                gt = blob(k + len(split))
                name = f"{case}_a2_ayy_image{k:04d}"
                write(root / split / "GT" / case / f"{name}.png", gt)
                write(root / split / "Frame" / case / f"{name}.jpg", gt)
                pred = noisy(gt, k)
                write(pred_root / split / case / f"{name}.png", pred)
                if expected is not None:
                    expected.add_frame(pred, gt, case, k, split)
    for k in (1, 2, 3):  # training videos have no predictions: they are not scored
        write(root / "TrainDataset" / "GT" / "case9_1" / f"case9_1_image{k:04d}.png", blob(k))
        write(root / "TrainDataset" / "Frame" / "case9_1" / f"case9_1_image{k:04d}.jpg", blob(k))


def test_sunseg_scores_the_test_splits_each_as_a_set(tmp_path):
    root, pred_root = tmp_path / "SUN-SEG", tmp_path / "pred" / "PNSPlus"
    expected = VPSEvaluator(mode="sunseg", skip_first_last=False)
    _sunseg(root, pred_root, expected)
    summary = main(["--gt-root", str(root), "--layout", "sunseg", "--pred-root", str(pred_root),
                    "--out", str(tmp_path / "e"), "--no-progress", "--keep-first-last"])
    assert summary["mode"] == "sunseg" and summary["models"] == ["PNSPlus"]
    assert summary["sets"] == ["TestEasyDataset/Unseen", "TestHardDataset/Seen", "TestHardDataset/Unseen"]
    _assert_results(summary["results"]["PNSPlus"], {s: expected.set_results()[s] for s in summary["sets"]})
    assert "| PNSPlus |" in (tmp_path / "e" / "summary.md").read_text()
    assert (tmp_path / "e" / "curves_TestEasyDataset_Unseen.png").is_file()
    videos = ground_truth_videos(build_datalist("sunseg", root), "test")
    assert [Path(f.gt_ref).name[-8:-4] for f in videos[0].frames] == ["0003", "0007", "0012"]
    assert videos[0].frames[0].pred_rel == Path("TestEasyDataset/Unseen/case1_1/case1_1_a2_ayy_image0003.png")


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
    _assert_results(summary["results"]["Mine"], expected.set_results())


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
    _assert_results(summary["results"]["PraNet"], expected.set_results())
    assert summary["results"]["PraNet"]["Kvasir-SEG"]["frames"] == 3


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


def test_datalist_file_as_ground_truth(pnsnet_tree, tmp_path):
    root, _, model, frames = pnsnet_tree
    datalist = build_datalist("pnsnet", root)
    path = write_datalist(datalist, tmp_path / "datalist.json")
    summary = main(["--datalist", str(path), "--pred-root", str(model), "--out", str(tmp_path / "e"),
                    "--no-progress"])
    _assert_results(summary["results"]["Noisy"], _expected(frames))
    # relative refs are relative to the file's folder; another key; a dict in-process
    for item in datalist["test"]:
        item["label"] = [os.path.relpath(p, root) for p in item["label"]]
    datalist["validation"] = datalist.pop("test")
    path = write_datalist(datalist, root / "relative.json")
    summary = main(["--datalist", str(path), "--data-list-key", "validation", "--pred-root", str(model),
                    "--out", str(tmp_path / "f"), "--no-progress"])
    _assert_results(summary["results"]["Noisy"], _expected(frames))
    with pytest.raises(ValueError, match=r"no items under data_list_key='test' \(lists: .*'validation'"):
        evaluate_predictions(model, tmp_path / "g", datalist=datalist)
    assert not (tmp_path / "g").exists()


def test_non_integer_frame_name_is_an_error(pnsnet_tree, tmp_path, capsys):
    root, perfect, _, _ = pnsnet_tree
    stray = write(root / "VPS-TestSet" / "CVC-300" / "Frame" / "1" / "a.jpg", blob(0))
    write(root / "VPS-TestSet" / "CVC-300" / "GT" / "1" / "a.png", blob(0))
    args = ["--gt-root", str(root), "--layout", "pnsnet", "--pred-root", str(perfect), "--out", str(tmp_path / "e")]
    assert run_cli(main, args) == EXIT_DATA_ERROR
    assert capsys.readouterr().err == f"error: case 'CVC-300/1': frame '{stray}' is not named by an integer " \
        "(layout 'pnsnet' orders a video's frames by their integer names: 1.jpg, 2.jpg, ...).\n"
    assert not (tmp_path / "e").exists()


def test_bad_inputs_one_line_and_exit_codes(pnsnet_tree, tmp_path, capsys):
    root, perfect, _, _ = pnsnet_tree
    pred = ["--pred-root", str(perfect)]
    (tmp_path / "file").write_text("x")
    cases = [
        (["--gt-root", str(tmp_path / "nope"), "--layout", "folders", *pred, "--out", str(tmp_path / "o")],
         f"error: dataset root '{tmp_path / 'nope'}' is not a folder.\n"),
        (["--gt-root", str(root / "VPS-TestSet"), "--layout", "pnsnet", *pred, "--out", str(tmp_path / "o")],
         "error: layout 'pnsnet': expected one of ['IVPS-TrainSet', 'VPS-TestSet', 'VPS-TrainSet'] in "
         f"'{root / 'VPS-TestSet'}'.\n"),
        (["--gt-root", str(root), "--layout", "pnsnet", "--pred-root", str(tmp_path / "nope"), "--out",
          str(tmp_path / "o")], f"error: prediction root '{tmp_path / 'nope'}' is not a folder.\n"),
        (["--gt-root", str(root), "--layout", "pnsnet", *pred, "--out", str(tmp_path / "file")],
         f"error: evaluation output folder '{tmp_path / 'file'}' exists and is not a folder.\n"),
        (["--gt-root", str(root), "--layout", "pnsnet", *pred, "--out", str(tmp_path / "file" / "o")],
         f"error: evaluation output folder '{tmp_path / 'file' / 'o'}': '{tmp_path / 'file'}' is not a folder.\n"),
        (["--datalist", str(tmp_path / "file"), *pred, "--out", str(tmp_path / "o")],
         f"error: datalist file '{tmp_path / 'file'}' is not valid JSON: Expecting value: line 1 column 1 (char 0).\n"),
    ]
    for args, message in cases:
        assert run_cli(main, args + ["--no-progress"]) == EXIT_DATA_ERROR, args
        assert capsys.readouterr().err == message
    assert not (tmp_path / "o").exists()
    for args in (["--gt-root", str(root), *pred, "--out", str(tmp_path / "o")],  # no --layout
                 ["--gt-root", str(root), "--datalist", "d.json", "--layout", "pnsnet", *pred, "--out", "o"],
                 ["--gt-root", str(root), "--layout", "pnsnett", *pred, "--out", "o"]):
        with pytest.raises(SystemExit) as exc:
            run_cli(main, args)
        assert exc.value.code == EXIT_USAGE


@pytest.mark.parametrize("damaged", ["prediction", "mask"])
def test_unreadable_or_truncated_files_keep_previous_reports(pnsnet_tree, tmp_path, damaged):
    root, perfect, _, _ = pnsnet_tree
    out = tmp_path / "eval"
    args = ["--gt-root", str(root), "--layout", "pnsnet", "--pred-root", str(perfect), "--out", str(out),
            "--no-progress"]
    main(args)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = (perfect / "CVC-612-T" / "7" if damaged == "prediction" else root / "VPS-TestSet/CVC-612-T/GT/7") / "4.png"
    data = bad.read_bytes()
    bad.write_bytes(data[: int(len(data) * 0.7)])
    with pytest.raises(ValueError, match=rf"image file '{bad}' is truncated: no PNG IEND chunk"):
        main(args)
    bad.write_bytes(b"not a png")
    with pytest.raises(ValueError, match=rf"cannot read image file '{bad}'"):
        main(args)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_datalist_items_without_labels(pnsnet_tree, tmp_path):
    root, perfect, _, _ = pnsnet_tree
    datalist = build_datalist("pnsnet", root)
    del datalist["test"][1]["label"]
    with pytest.raises(ValueError, match=r"^datalist key 'test' item 1 \(case 'CVC-300/2'\): no 'label': nothing to "
                                         r"score against\.$"):
        evaluate_predictions(perfect, tmp_path / "e", datalist=datalist)
    datalist["test"][1] = {"image": ["a.png"], "label": ["a.png"]}
    with pytest.raises(ValueError, match=r"item 1: no 'case'"):
        evaluate_predictions(perfect, tmp_path / "e", datalist=datalist)
    datalist["test"][1] = {"case": "x", "image": ["a.png", "b.png"], "label": ["a.png"]}
    with pytest.raises(ValueError, match=r"case 'x'\): 'image' and 'label' must be paths or lists of one length"):
        evaluate_predictions(perfect, tmp_path / "e", datalist=datalist)
    datalist["test"][1] = {"case": "x", "image": ["a.png"], "label": [3]}
    with pytest.raises(ValueError, match=r"case 'x'\): 'image' and 'label' must hold paths \(strings\)"):
        evaluate_predictions(perfect, tmp_path / "e", datalist=datalist)
    datalist["test"][1] = {"case": "x", "image": "a.png", "label": "a.png"}
    with pytest.raises(ValueError, match=r"datalist key 'test' mixes videos and single images"):
        evaluate_predictions(perfect, tmp_path / "e", datalist=datalist)
    assert not (tmp_path / "e").exists()


def test_unwritable_output_folder(pnsnet_tree, tmp_path, capsys, monkeypatch):
    """Checked before any work, whoever runs the test (root may write anywhere, so access() is made to say no)."""
    root, perfect, _, _ = pnsnet_tree
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode))
    scanned = []
    monkeypatch.setattr("monai_pns.evaluate.build_datalist", lambda *a, **k: scanned.append(a))
    args = ["--gt-root", str(root), "--layout", "pnsnet", "--pred-root", str(perfect), "--out", str(locked / "e")]
    assert run_cli(main, args) == EXIT_DATA_ERROR
    assert capsys.readouterr().err == f"error: evaluation output folder '{locked / 'e'}': '{locked}' is not " \
        "writable.\n"
    assert scanned == [] and list(locked.iterdir()) == []
