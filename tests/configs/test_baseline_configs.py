"""configs/baselines/*.json: MONAI's 2-D UNet and BasicUNet, and PNS-Net's static twin, merged after the bundle's
configs: the networks built, every frame run alone (FrameWiseInferer), the names predictions are written under."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser
from monai.networks.nets import BasicUNet, UNet

from monai_pns.inferers import AutocastInferer, FrameWiseInferer, amp_supported
from monai_pns.networks import PNSNet

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "bundles" / "pns_net" / "configs"
BASELINES = ROOT / "configs" / "baselines"


def parse(*files: Path, amp: bool | None = False) -> ConfigParser:
    """The merged configs; ``amp`` pinned (False: float32 on every CPU) unless None (the bundle's own choice)."""
    parser = ConfigParser(ConfigParser.load_config_files([str(f) for f in files]))
    if amp is not None:
        parser["amp"] = amp
    return parser


def test_one_file_per_baseline():
    assert sorted(p.name for p in BASELINES.glob("*.json")) == ["basic_unet.json", "static.json", "unet.json"]


@pytest.mark.parametrize("name, cls", [("unet", UNet), ("basic_unet", BasicUNet)])
def test_baseline_runs_a_2d_monai_network_on_every_frame(name, cls):
    parser = parse(CONFIGS / "train.json", BASELINES / f"{name}.json")
    net = parser.get_parsed_content("network_def")
    convs = {type(m) for m in net.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)}
    assert type(net) is cls and torch.nn.Conv2d in convs and torch.nn.Conv3d not in convs
    inferer = parser.get_parsed_content("inferer")
    assert type(inferer) is FrameWiseInferer and inferer.enabled is False  # float32: compared with the net at 1e-5
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


@pytest.mark.parametrize("name", ["unet", "basic_unet", "static"])
def test_baseline_inferer_follows_the_bundle_amp_choice(name):
    """Unpinned, the frame-wise inferer autocasts exactly where the bundle turns mixed precision on (bf16 on CPUs
    with native bf16, off on the others)."""
    parser = parse(CONFIGS / "train.json", BASELINES / f"{name}.json", amp=None)
    device = parser.get_parsed_content("device")
    assert parser.get_parsed_content("amp") == amp_supported(device)
    assert parser.get_parsed_content("inferer").enabled == (amp_supported(device) and device.type == "cpu")
