"""monai_pns.data.layouts: the registry of dataset layouts, and a layout added from outside (one scanner function and
one register_layout call) working everywhere a built-in one does: datalists, both command lines, evaluation."""

from __future__ import annotations

import json

import cv2
import pytest

import monai_pns.data
from monai_pns.data import DatasetLayout, build_datalist, get_layout, layout_names, register_layout
from monai_pns.data.datalist import main as datalist_main
from monai_pns.evaluate import main as evaluate_main
from monai_pns.evaluation import default_data_list_key, default_metric_mode, evaluate_predictions
from monai_pns.metrics import VPSEvaluator
from monai_pns.utils import EXIT_OK, EXIT_USAGE, run_cli
from tests.data.trees import make_tiny, register_tiny, scan_tiny


@pytest.fixture
def tiny_layout(monkeypatch):
    return register_tiny(monkeypatch)


def test_built_in_layouts_declare_their_evaluation():
    assert layout_names() == monai_pns.data.LAYOUTS == ("pnsnet", "sunseg", "kvasir", "folders")
    declared = {n: (get_layout(n).eval_key, get_layout(n).metric_mode, get_layout(n).masks_in_root)
                for n in layout_names()}
    assert declared == {"pnsnet": ("test", "matlab", False), "sunseg": ("test", "sunseg", False),
                        "kvasir": ("pretraining", "matlab", False), "folders": ("test", "matlab", True)}
    assert [n for n in layout_names() if get_layout(n).separate_masks] == ["folders"]
    assert (default_data_list_key("kvasir"), default_metric_mode("sunseg")) == ("pretraining", "sunseg")
    assert (default_data_list_key("not-registered"), default_metric_mode(None)) == ("test", "matlab")
    with pytest.raises(ValueError, match="'kvasirr', did you mean 'kvasir'"):
        get_layout("kvasirr")


def test_bad_declarations_and_names(tiny_layout):
    with pytest.raises(ValueError, match=r"layout 'x': eval_key='test' is not one of its splits \('training',\)"):
        DatasetLayout("x", scan_tiny, splits=("training",))
    with pytest.raises(ValueError, match="layout 'x': scan must be a function"):
        DatasetLayout("x", "scan_tiny")
    with pytest.raises(ValueError, match="layout 'x': masks_in_root needs separate_masks=True"):
        DatasetLayout("x", scan_tiny, masks_in_root=True)
    with pytest.raises(ValueError, match="layout 'tiny' is registered already: pick another name, or pass replace"):
        register_layout(DatasetLayout("tiny", scan_tiny))
    assert register_layout(DatasetLayout("tiny", scan_tiny), replace=True).metric_mode == "matlab"


def test_a_layout_must_declare_the_keys_it_writes(tiny_layout, tmp_path):
    register_layout(DatasetLayout("tiny", scan_tiny, splits=("validation",), eval_key="validation"), replace=True)
    with pytest.raises(ValueError, match=r"layout 'tiny': its scanner wrote the keys \['test'\], not among its "
                                         r"splits \('validation',\)"):
        build_datalist("tiny", make_tiny(tmp_path / "Tiny"))
    with pytest.raises(ValueError, match="masks is only used by layout 'folders', got masks='m' for layout 'tiny'"):
        build_datalist("tiny", tmp_path / "Tiny", masks="m")


def test_a_registered_layout_is_scanned_and_evaluated(tiny_layout, tmp_path, capsys):
    assert monai_pns.data.LAYOUTS[-1] == layout_names()[-1] == "tiny"  # LAYOUTS is read when it is used
    root, pred_root = make_tiny(tmp_path / "Tiny"), tmp_path / "pred" / "Mine"
    datalist = build_datalist("tiny", root)
    assert datalist["layout"] == "tiny" and [c["case"] for c in datalist["test"]] == ["Tiny/a", "Tiny/b"]
    assert datalist["test"][0]["num_frames"] == 6
    expected = VPSEvaluator(mode="sunseg", skip_first_last=True)  # the layout's metric mode
    for item in datalist["test"]:
        for index, (frame, mask) in enumerate(zip(item["image"], item["label"])):
            gt = cv2.imread(mask, cv2.IMREAD_GRAYSCALE)
            pred = cv2.GaussianBlur(gt, (0, 0), 1.5) // 2 + 10 * index
            path = pred_root / item["case"] / f"{index + 1}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            assert cv2.imwrite(str(path), pred)
            expected.add_frame(pred, gt, item["case"], index, "Tiny")
    summary = evaluate_predictions(pred_root, tmp_path / "e", layout="tiny", gt_root=root)
    assert (summary["mode"], summary["layout"], summary["data_list_key"]) == ("sunseg", "tiny", "test")
    assert summary["results"]["Mine"]["Tiny"] == pytest.approx(expected.set_results()["Tiny"], abs=1e-12)
    # both command lines take it as --layout
    out = tmp_path / "tiny.json"
    assert run_cli(datalist_main, ["--layout", "tiny", "--root", str(root), "--out", str(out)]) == EXIT_OK
    assert json.loads(out.read_text())["test"] == datalist["test"]
    cli = evaluate_main(["--layout", "tiny", "--gt-root", str(root), "--pred-root", str(pred_root),
                         "--out", str(tmp_path / "f"), "--no-progress"])
    assert cli["results"] == summary["results"] and "S_alpha | meanEm | wF" in capsys.readouterr().out
    by_file = evaluate_predictions(pred_root, tmp_path / "g", datalist=out)  # the file's layout gives the mode
    assert by_file["mode"] == "sunseg" and by_file["results"] == summary["results"]


def test_an_unregistered_layout_is_refused_by_the_command_lines(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        run_cli(datalist_main, ["--layout", "tiny", "--root", str(tmp_path), "--out", str(tmp_path / "d.json")])
    assert exc.value.code == EXIT_USAGE and "invalid choice: 'tiny'" in capsys.readouterr().err
