"""configs/baselines/*.json: MONAI's 2-D UNet and BasicUNet, and PNS-Net's static twin, merged after the bundle's
configs: the networks built, every frame run alone (FrameWiseInferer), the names predictions are written under."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser
from monai.networks.nets import BasicUNet, UNet

from monai_pns.inferers import AutocastInferer, FrameWiseInferer
from monai_pns.networks import PNSNet

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "bundles" / "pns_net" / "configs"
BASELINES = ROOT / "configs" / "baselines"


def parse(*files: Path) -> ConfigParser:
    return ConfigParser(ConfigParser.load_config_files([str(f) for f in files]))


def test_one_file_per_baseline():
    assert sorted(p.name for p in BASELINES.glob("*.json")) == ["basic_unet.json", "static.json", "unet.json"]


@pytest.mark.parametrize("name, cls", [("unet", UNet), ("basic_unet", BasicUNet)])
def test_baseline_runs_a_2d_monai_network_on_every_frame(name, cls):
    parser = parse(CONFIGS / "train.json", BASELINES / f"{name}.json")
    net = parser.get_parsed_content("network_def")
    convs = {type(m) for m in net.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)}
    assert type(net) is cls and torch.nn.Conv2d in convs and torch.nn.Conv3d not in convs
    inferer = parser.get_parsed_content("inferer")
    assert type(inferer) is FrameWiseInferer and inferer.enabled == parser.get_parsed_content("amp")
    assert parser.get_parsed_content("pretrain_phase") is True  # both phases, as PNS-Net
    net.eval()
    clip = torch.randn(1, 3, 3, 32, 64)
    with torch.no_grad():
        out = inferer(clip, net)
        assert out.shape == (1, 1, 3, 32, 64)
        torch.testing.assert_close(out[:, :, 1], net(clip[:, :, 1]), rtol=1e-4, atol=1e-5)  # batch-size rounding
    evaluation = parse(CONFIGS / "train.json", CONFIGS / "evaluate.json", BASELINES / f"{name}.json")
    assert evaluation.get_parsed_content("model_name") == cls.__name__  # predictions/<UNet|BasicUNet>/...
    assert type(evaluation.get_parsed_content("network_def")) is cls


def test_static_twin_is_pnsnet_run_frame_by_frame():
    parser = parse(CONFIGS / "train.json", CONFIGS / "evaluate.json", BASELINES / "static.json")
    assert type(parser.get_parsed_content("network_def")) is PNSNet  # loads the video model's checkpoints as they are
    assert type(parser.get_parsed_content("inferer")) is FrameWiseInferer
    assert parser.get_parsed_content("model_name") == "PNSNet_static"
    assert parser.get_parsed_content("settings#inferer") == "FrameWiseInferer"  # recorded with the run
    default = parse(CONFIGS / "train.json")
    assert type(default.get_parsed_content("inferer")) is AutocastInferer
    assert default.get_parsed_content("settings#inferer") == "AutocastInferer"


def test_unknown_network_names_the_choices():
    parser = parse(CONFIGS / "train.json")
    parser["network"] = "Unet"
    with pytest.raises(Exception) as error:
        parser.get_parsed_content("network_def")
    text = str(error.value) + str(error.value.__cause__)
    assert "'Unet', did you mean 'UNet'" in text
