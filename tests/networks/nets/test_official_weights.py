"""monai_pns.networks.nets.official_weights: the released checkpoints' keys converted and loaded strictly."""

from __future__ import annotations

import pytest
import torch

from monai_pns.networks import PNSNet, PNSPlusNet, convert_official_state_dict
from tests.networks.reference import random_official_state_dict, reference_layout

NETS = {"pnsnet": PNSNet, "pnsplus": PNSPlusNet}
UNUSED = ("feature_extractor.layer4.", "feature_extractor.fc.", "squeeze.")


def _used(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if not k.startswith(UNUSED)}


@pytest.mark.parametrize("arch", ["pnsnet", "pnsplus"])
@pytest.mark.parametrize("variant", ["plain", "module_prefix", "no_num_batches_tracked", "module_prefix_no_nbt"])
def test_converted_state_dict_loads_strictly(arch, variant):
    official = random_official_state_dict(arch)
    state = dict(official)
    if "no" in variant:
        state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    if "module" in variant:
        state = {f"module.{k}": v for k, v in state.items()}
    net = NETS[arch].from_official(state)
    # every used official tensor lands, unchanged, under exactly one of our names, and nothing else is loaded
    converted = convert_official_state_dict(official, arch)
    assert len(converted) == len(_used(official))
    assert sorted(map(id, converted.values())) == sorted(map(id, _used(official).values()))
    loaded = net.state_dict()
    assert set(loaded) == set(converted)
    for key, value in converted.items():
        if "num_batches_tracked" in key and "no" in variant:
            assert loaded[key] == 0, key
        else:
            assert torch.equal(loaded[key], value), key


@pytest.mark.parametrize(
    "arch, official, ours",
    [
        ("pnsnet", "feature_extractor.layer3.5.bns.2.running_var", "backbone.layer3.5.bns.2.running_var"),
        ("pnsnet", "High_RFB.global_se.fc.2.weight", "high_rfb.excitation.2.weight"),
        ("pnsnet", "Low_RFB.reduce.2.weight", "low_rfb.reduce.adn.A.weight"),
        ("pnsnet", "Low_RFB.br3.2.bn.running_mean", "low_rfb.branches.3.2.adn.N.running_mean"),
        ("pnsnet", "High_RFB.br1.1.relu.weight", "high_rfb.branches.1.1.adn.A.weight"),
        ("pnsnet", "High_RFB.point_global.conv.weight", "high_rfb.fuse.conv.weight"),
        ("pnsnet", "decoder.up2_high.conv2.weight", "decoder.high_convs.1.weight"),
        ("pnsnet", "decoder.up2_bn2.bias", "decoder.low_norm.bias"),
        ("pnsnet", "decoder.refine.2.weight", "decoder.refine.adn.A.weight"),
        ("pnsnet", "SegNIN.1.weight", "decoder.head.weight"),
        ("pnsnet", "NSB_2.output_Linear.weight", "ns_blocks.1.out_proj.weight"),
        ("pnsnet", "NSB_1.bn.bias", "ns_blocks.0.norm.bias"),
        ("pnsplus", "NSB_global.query_conv.weight", "ns_global.query.weight"),
        ("pnsplus", "NSB_local.bn.weight", "ns_local.norm.weight"),
    ],
)
def test_key_mapping(arch, official, ours):
    state = random_official_state_dict(arch)
    assert convert_official_state_dict(state, arch)[ours] is state[official]


@pytest.mark.parametrize("arch", ["pnsnet", "pnsplus"])
def test_released_model_runs(arch):
    net = NETS[arch].from_official(random_official_state_dict(arch)).eval()
    frames = 1 + 1 if arch == "pnsplus" else 2
    with torch.no_grad():
        out = net(torch.rand(1, 3, frames, 256, 448))
        assert out.shape == (1, 1, frames - (arch == "pnsplus"), 256, 448)
        assert torch.isfinite(out).all()
        if arch == "pnsnet":  # the static path of the same weights
            assert net(torch.rand(1, 3, 256, 448)).shape == (1, 1, 256, 448)


@pytest.mark.parametrize("arch", ["pnsnet", "pnsplus"])
def test_parameters_reached_by_forward(arch):
    net = NETS[arch].from_official(random_official_state_dict(arch))
    expected = reference_layout(arch)["num_parameters_used_in_forward"]
    assert expected == 9_793_731
    assert sum(p.numel() for p in net.parameters()) == expected


def test_from_official_file(tmp_path):
    state = random_official_state_dict("pnsnet")
    path = tmp_path / "PNS-Net.pth"
    torch.save({f"module.{k}": v for k, v in state.items()}, path)
    net = PNSNet.from_official(path)
    assert torch.equal(net.ns_blocks[1].norm.weight, state["NSB_2.bn.weight"])


def test_missing_key_is_listed(tmp_path):
    state = random_official_state_dict("pnsnet")
    del state["NSB_2.key_conv.weight"], state["decoder.up2_low.weight"]
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(
        ValueError, match=r"broken\.pth.*missing keys \['decoder\.low_reduce\.weight', 'ns_blocks\.1\.key\.weight'\]"
    ):
        PNSNet.from_official(path)


def test_unexpected_keys_are_listed():
    state = random_official_state_dict("pnsplus")
    # a PNS+ checkpoint given to PNS-Net: PNS-Net's NS blocks are missing, PNS+'s are unexpected
    match = (r"released 'pnsnet' checkpoint.*missing keys "
             r"\['ns_blocks\.0\.query\.weight', .*'ns_blocks\.1\.norm\.bias'\]"
             r".*unexpected keys \['NSB_global\.query_conv\.weight', .*'NSB_local\.bn\.bias'\]")
    with pytest.raises(ValueError, match=match):
        PNSNet.from_official(state)
    state = random_official_state_dict("pnsnet")
    state["decoder.extra.weight"] = torch.zeros(3)
    with pytest.raises(ValueError, match=r"unexpected keys \['decoder\.extra\.weight'\]"):
        PNSNet.from_official(state)


def test_shape_mismatch_is_listed():
    state = random_official_state_dict("pnsnet")
    state["NSB_1.bn.weight"] = torch.zeros(8, 22, 40)  # a LayerNorm bound to 352 x 640 inputs
    with pytest.raises(ValueError, match=r"ns_blocks\.0\.norm\.weight: \(8, 22, 40\) vs \(8, 16, 28\)"):
        PNSNet.from_official(state)


def test_bad_arch():
    with pytest.raises(ValueError, match="pnsplus"):
        convert_official_state_dict({}, arch="pns+")


def test_key_without_module_is_unexpected():
    with pytest.raises(ValueError, match=r"\['decoder'\]"):
        convert_official_state_dict({"decoder": torch.zeros(1)})


def test_foreign_keys_are_named_as_in_the_file():
    """A key of no released module is named as the checkpoint spells it, ``module.`` prefix included, both by the
    conversion and by the loading (next to the missing keys)."""
    state = {f"module.{k}": v for k, v in random_official_state_dict("pnsnet").items()}
    state["module.NSB_3.bn.weight"] = torch.zeros(3)
    match = r"no module of the released 'pnsnet' network: \['module\.NSB_3\.bn\.weight'\]"
    with pytest.raises(ValueError, match=match):
        convert_official_state_dict(state, "pnsnet")
    with pytest.raises(ValueError, match=r"missing keys \[\], unexpected keys \['module\.NSB_3\.bn\.weight'\]"):
        PNSNet.from_official(state)
