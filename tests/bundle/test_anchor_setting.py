"""The bundle's ``anchor`` setting is the network class's ``takes_anchor``: train.json (and evaluate.json merged on
top of it) and inference.json, which stands alone, read it from ``@networks[@network]``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser

from monai_pns.networks import PNSNet

CONFIGS = Path(__file__).resolve().parents[2] / "bundles" / "pns_net" / "configs"
FILES = {"train": ["train.json"], "evaluate": ["train.json", "evaluate.json"], "inference": ["inference.json"]}


class AnchoredNet(torch.nn.Module):
    """A network class that is no PNS network but declares an anchor frame."""

    takes_anchor = True


def _parser(files: list[str], network: str, extra: dict | None = None) -> ConfigParser:
    parser = ConfigParser(ConfigParser.load_config_files([str(CONFIGS / f) for f in files]))
    parser["network"] = network
    if extra is not None:
        parser["networks"] = {**parser.get_parsed_content("networks"), **extra}
    return parser


@pytest.mark.parametrize("configs", list(FILES))
@pytest.mark.parametrize("network, expected", [("PNSNet", False), ("PNSPlusNet", True), ("UNet", False)])
def test_anchor_follows_the_network_class(configs, network, expected):
    assert _parser(FILES[configs], network).get_parsed_content("anchor") is expected


@pytest.mark.parametrize("configs", list(FILES))
@pytest.mark.parametrize("takes_anchor", [True, False])
def test_a_registered_class_declares_its_own_anchor(configs, takes_anchor):
    """No network name is tested: a class added to ``networks`` with ``takes_anchor`` gets anchored clips."""
    cls = AnchoredNet if takes_anchor else PNSNet
    parser = _parser(FILES[configs], "Custom", {"Custom": cls})
    assert parser.get_parsed_content("anchor") is takes_anchor


@pytest.mark.parametrize("takes_anchor", [True, False])
def test_evaluation_clips_and_written_frames_follow_the_anchor(takes_anchor):
    """evaluate.json reuses train.json's ``anchor``: its test clips start with frame 0 and the prediction writer
    reads the frame metadata of the label (the image keeps the anchor frame, the label loses it: DropAnchord)."""
    parser = _parser(FILES["evaluate"], "Custom", {"Custom": AnchoredNet if takes_anchor else PNSNet})
    parser["test_cases"] = [{"case": "v", "image": [f"{i}.png" for i in range(6)]}]
    parser["clip_length"] = 3
    parser["validate#dataset#transform"] = None
    clips = parser.get_parsed_content("validate#dataset").data
    expected = [[0, 0, 1, 2], [0, 3, 4, 5]] if takes_anchor else [[0, 1, 2], [3, 4, 5]]
    assert [c["frame_index"] for c in clips] == expected
    handlers = parser["validate#handlers"]
    (writer,) = [i for i, h in enumerate(handlers) if h["_target_"] == "monai_pns.handlers.VPSPredictionWriter"]
    batch_transform = parser.get_parsed_content(f"validate#handlers#{writer}#batch_transform")
    read = batch_transform({"image": "the image", "label": "the label"})
    assert read == (("the label",) if takes_anchor else ("the image",))
