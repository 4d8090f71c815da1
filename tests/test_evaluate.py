"""python -m monai_pns.evaluate: the command line (options, messages, exit codes) over monai_pns.evaluation."""

from __future__ import annotations

import csv
import json
import os
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from monai_pns.data.datalist import build_datalist, write_datalist
from monai_pns.evaluate import main
from monai_pns.evaluation import evaluate_predictions, ground_truth_videos
from monai_pns.metrics import VPSEvaluator
from monai_pns.utils import EXIT_DATA_ERROR, EXIT_OK, EXIT_USAGE, run_cli
from tests.evaluation.cases import assert_results, blob, expected_results, make_pnsnet_tree, noisy, write


@pytest.fixture
def pnsnet_tree(tmp_path):
    return make_pnsnet_tree(tmp_path)


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
    assert_results(summary["results"]["Noisy"], expected_results(frames))
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
    assert_results(summary["results"]["Noisy"], expected_results(frames, replace=zero))


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


def test_sunseg_scores_the_test_splits_each_as_a_set(tmp_path):
    root, pred_root = tmp_path / "SUN-SEG", tmp_path / "pred" / "PNSPlus"
    expected = VPSEvaluator(mode="sunseg", skip_first_last=False)
    _sunseg(root, pred_root, expected)
    summary = main(["--gt-root", str(root), "--layout", "sunseg", "--pred-root", str(pred_root),
                    "--out", str(tmp_path / "e"), "--no-progress", "--keep-first-last"])
    assert summary["mode"] == "sunseg" and summary["models"] == ["PNSPlus"]
    assert summary["sets"] == ["TestEasyDataset/Unseen", "TestHardDataset/Seen", "TestHardDataset/Unseen"]
    assert_results(summary["results"]["PNSPlus"], {s: expected.set_results()[s] for s in summary["sets"]})
    assert "| PNSPlus |" in (tmp_path / "e" / "summary.md").read_text()
    assert (tmp_path / "e" / "curves_TestEasyDataset_Unseen.png").is_file()
    videos = ground_truth_videos(build_datalist("sunseg", root), "test")
    assert [Path(f.gt_ref).name[-8:-4] for f in videos[0].frames] == ["0003", "0007", "0012"]
    assert videos[0].frames[0].pred_rel == Path("TestEasyDataset/Unseen/case1_1/case1_1_a2_ayy_image0003.png")


def test_datalist_file_as_ground_truth(pnsnet_tree, tmp_path):
    root, _, model, frames = pnsnet_tree
    datalist = build_datalist("pnsnet", root)
    path = write_datalist(datalist, tmp_path / "datalist.json")
    summary = main(["--datalist", str(path), "--pred-root", str(model), "--out", str(tmp_path / "e"),
                    "--no-progress"])
    assert_results(summary["results"]["Noisy"], expected_results(frames))
    # relative refs are relative to the file's folder; another key; a dict in-process
    for item in datalist["test"]:
        item["label"] = [os.path.relpath(p, root) for p in item["label"]]
    datalist["validation"] = datalist.pop("test")
    path = write_datalist(datalist, root / "relative.json")
    summary = main(["--datalist", str(path), "--data-list-key", "validation", "--pred-root", str(model),
                    "--out", str(tmp_path / "f"), "--no-progress"])
    assert_results(summary["results"]["Noisy"], expected_results(frames))
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


def test_unwritable_output_folder(pnsnet_tree, tmp_path, capsys, monkeypatch):
    """Checked before any work, whoever runs the test (root may write anywhere, so access() is made to say no)."""
    root, perfect, _, _ = pnsnet_tree
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode))
    scanned = []
    monkeypatch.setattr("monai_pns.evaluation.run.build_datalist", lambda *a, **k: scanned.append(a))
    args = ["--gt-root", str(root), "--layout", "pnsnet", "--pred-root", str(perfect), "--out", str(locked / "e")]
    assert run_cli(main, args) == EXIT_DATA_ERROR
    assert capsys.readouterr().err == f"error: evaluation output folder '{locked / 'e'}': '{locked}' is not " \
        "writable.\n"
    assert scanned == [] and list(locked.iterdir()) == []


def test_mode_option_overrides_the_layout_default(pnsnet_tree, tmp_path):
    root, _, model, frames = pnsnet_tree
    with pytest.warns(UserWarning, match="resized"):
        summary = main(["--gt-root", str(root), "--layout", "pnsnet", "--pred-root", str(model), "--out",
                        str(tmp_path / "e"), "--mode", "sunseg", "--no-progress"])
    assert summary["mode"] == "sunseg" and summary["layout"] == "pnsnet"
    assert_results(summary["results"]["Noisy"], expected_results(frames, mode="sunseg"))


def test_masks_option_names_the_mask_folders_of_the_folders_layout(tmp_path):
    """--layout folders: frames in --gt-root, masks in --masks (without it the frames would be read as masks)."""
    frames, masks, pred_root = tmp_path / "Frames", tmp_path / "Masks", tmp_path / "pred" / "Mine"
    expected = VPSEvaluator(skip_first_last=True)
    for case in ("a", "b"):
        for k in range(1, 6):
            gt, pred = blob(k + len(case)), noisy(blob(k), k)
            write(frames / case / f"{k}.png", np.full_like(gt, 200))  # an image no mask threshold makes a blob of
            write(masks / case / f"{k}.png", gt)
            write(pred_root / case / f"{k}.png", pred)
            expected.add_frame(pred, gt, case, k, "Frames")
    summary = main(["--gt-root", str(frames), "--layout", "folders", "--masks", str(masks), "--pred-root",
                    str(pred_root), "--out", str(tmp_path / "e"), "--no-progress"])
    assert summary["sets"] == ["Frames"]
    assert_results(summary["results"]["Mine"], expected.set_results())


@pytest.mark.parametrize("extra", [["--layout", "pnsnet"], ["--masks", "masks/"]])
def test_datalist_with_layout_or_masks_is_a_usage_error(tmp_path, capsys, extra):
    """Both describe --gt-root: given with --datalist, argparse's usage error (exit 2), before any work."""
    (tmp_path / "d.json").write_text(json.dumps({"test": []}))
    args = ["--datalist", str(tmp_path / "d.json"), *extra, "--pred-root", str(tmp_path), "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as exc:
        run_cli(main, args)
    assert exc.value.code == EXIT_USAGE
    assert "--layout and --masks describe --gt-root; a --datalist file needs neither" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_progress_bar_unless_no_progress(pnsnet_tree, tmp_path, capsys):
    root, perfect, _, _ = pnsnet_tree
    args = ["--gt-root", str(root), "--layout", "pnsnet", "--pred-root", str(perfect)]
    assert run_cli(main, [*args, "--out", str(tmp_path / "e")]) == 0
    assert "scoring frames" in capsys.readouterr().err
    assert run_cli(main, [*args, "--out", str(tmp_path / "f"), "--no-progress"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.filterwarnings("ignore:'monai_pns.evaluate' found in sys.modules:RuntimeWarning")
def test_python_m_exits_with_the_documented_codes(pnsnet_tree, tmp_path, capsys, monkeypatch):
    """``python -m monai_pns.evaluate`` (run as __main__): 0 done, 1 and one ``error:`` line for an --out in the way."""
    root, perfect, _, _ = pnsnet_tree
    (tmp_path / "file").write_text("x")
    args = ["--gt-root", str(root), "--layout", "pnsnet", "--pred-root", str(perfect), "--no-progress"]
    for out, code in ((tmp_path / "e", EXIT_OK), (tmp_path / "file", EXIT_DATA_ERROR)):
        monkeypatch.setattr(sys, "argv", ["monai_pns.evaluate", *args, "--out", str(out)])
        with pytest.raises(SystemExit) as exc:
            runpy.run_module("monai_pns.evaluate", run_name="__main__", alter_sys=True)
        assert exc.value.code == code
    assert (tmp_path / "e" / "summary.json").is_file()
    assert capsys.readouterr().err == f"error: evaluation output folder '{tmp_path / 'file'}' exists and is not a " \
        "folder.\n"
