"""configs/ablation/*.json: one override file per row of the paper's Table 2, merged by MONAI's bundle tooling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser

from monai_pns.networks import PNSNet

ROOT = Path(__file__).resolve().parents[2]
ABLATION_DIR = ROOT / "configs" / "ablation"
TRAIN_JSON = ROOT / "bundles" / "pns_net" / "configs" / "train.json"
EVALUATE_JSON = TRAIN_JSON.with_name("evaluate.json")
# Table 2: (N, soft attention, norm, R); row #1 is the base network alone (no NS block).
TABLE_2 = {
    "row1_base": (None, None, None, 0),
    "row2_n1": (1, False, False, 1),
    "row3_n2": (2, False, False, 1),
    "row4_n4": (4, False, False, 1),
    "row5_n8": (8, False, False, 1),
    "row6_n4_soft": (4, True, False, 1),
    "row7_n4_soft_norm_r1": (4, True, True, 1),
    "row8_n4_soft_norm_r2": (4, True, True, 2),
    "row9_n4_soft_norm_r3": (4, True, True, 3),
}


def test_one_file_per_row():
    assert sorted(p.stem for p in ABLATION_DIR.glob("*.json")) == sorted(TABLE_2)


@pytest.mark.parametrize("row", sorted(TABLE_2))
def test_row_builds_the_ablated_network(row):
    overrides = json.loads((ABLATION_DIR / f"{row}.json").read_text())
    assert all(key.startswith("network_kwargs#") for key in overrides)  # network arguments only
    parser = ConfigParser(ConfigParser.load_config_files([TRAIN_JSON, ABLATION_DIR / f"{row}.json"]))
    net = parser.get_parsed_content("network_def")
    assert isinstance(net, PNSNet)
    num_groups, soft, norm, num_blocks = TABLE_2[row]
    assert len(net.ns_blocks) == num_blocks
    for block in net.ns_blocks:
        assert (block.num_groups, block.soft_attention, block.norm is not None) == (num_groups, soft, norm)
    with torch.no_grad():
        assert net.eval()(torch.randn(1, 3, 2, 32, 64)).shape == (1, 1, 2, 32, 64)


@pytest.mark.parametrize("row", ["row1_base", "row8_n4_soft_norm_r2"])
def test_row_merges_after_evaluate_json(row, tmp_path):
    """An ablation model is evaluated with its row merged after evaluate.json, which adopts the model's other
    settings but keeps network_kwargs a dictionary for the rows to set key by key."""
    files = [TRAIN_JSON, EVALUATE_JSON, ABLATION_DIR / f"{row}.json"]
    parser = ConfigParser(ConfigParser.load_config_files(files))
    parser["ckpt_path"] = str(tmp_path / "model.pt")  # no file: the training defaults
    overrides = json.loads((ABLATION_DIR / f"{row}.json").read_text())
    expected = {"zero_init": True, **{key.split("#")[1]: value for key, value in overrides.items()}}
    assert parser.get_parsed_content("network_kwargs") == expected
    assert len(parser.get_parsed_content("network_def").ns_blocks) == TABLE_2[row][3]
