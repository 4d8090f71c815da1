"""configs/datasets/*.json: each names a registered layout and merges with the bundle; a layout added from outside
(tests.data.trees.scan_tiny) with its own override JSON gives the bundle its datalist, test cases and metric mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from monai.bundle import ConfigParser

from monai_pns.data import layout_names
from monai_pns.evaluation import evaluate_predictions
from tests.data.trees import make_tiny, register_tiny

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "bundles" / "pns_net" / "configs"
DATASETS = ROOT / "configs" / "datasets"


def parse(*files: Path) -> ConfigParser:
    return ConfigParser(ConfigParser.load_config_files([str(f) for f in files]))


@pytest.mark.parametrize("name", ["kvasir", "pnsnet_release", "sunseg"])
def test_dataset_config_names_a_registered_layout(name):
    assert sorted(p.stem for p in DATASETS.glob("*.json")) == ["kvasir", "pnsnet_release", "sunseg"]
    parser = parse(CONFIGS / "train.json", CONFIGS / "evaluate.json", DATASETS / f"{name}.json")
    assert parser.get_parsed_content("layout") in layout_names()


def test_a_registered_layout_with_its_override_runs_the_bundle_datalist(monkeypatch, tmp_path):
    register_tiny(monkeypatch)
    root = make_tiny(tmp_path / "Tiny")
    override = tmp_path / "tiny.json"  # what configs/datasets/tiny.json would hold
    override.write_text(json.dumps({"layout": "tiny", "dataset_dir": str(root), "spatial_size": [32, 64],
                                    "train_cases": "$@datalist['test'][:1]", "val_cases": "$@datalist['test'][1:]"}))
    parser = parse(CONFIGS / "train.json", CONFIGS / "evaluate.json", override)
    datalist = parser.get_parsed_content("datalist")
    assert datalist["layout"] == "tiny" and datalist["root"] == str(root.resolve())
    assert [c["case"] for c in parser.get_parsed_content("test_cases")] == ["Tiny/a", "Tiny/b"]
    assert [c["case"] for c in parser.get_parsed_content("val_cases")] == ["Tiny/b"]
    pred = tmp_path / "pred" / "Mine"
    for case in datalist["test"]:
        for n, label in enumerate(case["label"], 1):
            (pred / case["case"]).mkdir(parents=True, exist_ok=True)
            (pred / case["case"] / f"{n}.png").write_bytes(Path(label).read_bytes())
    summary = evaluate_predictions(pred, tmp_path / "e", datalist=datalist, data_list_key="test")
    assert summary["mode"] == "sunseg"  # as the bundle's EvaluationReport scores it: the layout's metric mode
