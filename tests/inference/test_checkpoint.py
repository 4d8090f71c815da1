from __future__ import annotations

from pathlib import Path

import pytest
import torch

from monai_pns.inference import NetworkSpec, load_network
from monai_pns.inference.checkpoint import (
    DEFAULT_NETWORK_CONFIG,
    check_network_config,
    checkpoint_network_config,
    network_config,
    network_spec_from_state_dict,
    read_network_config,
)
from monai_pns.networks import PNSNet, PNSPlusNet
from tests.bundle_chains import bundle_parser
from tests.networks.reference import random_official_state_dict


@pytest.mark.parametrize(
    "net, name, kwargs",
    [
        (PNSNet(), "PNSNet", {"in_channels": 3, "out_channels": 1, "num_blocks": 2}),
        (PNSNet(num_blocks=1, norm_shape=(16, 28)), "PNSNet",
         {"in_channels": 3, "out_channels": 1, "num_blocks": 1, "norm_shape": (16, 28)}),
        (PNSNet(in_channels=1, out_channels=2, num_blocks=3, use_norm=False), "PNSNet",
         {"in_channels": 1, "out_channels": 2, "num_blocks": 3, "use_norm": False}),
        (PNSNet(num_blocks=0), "PNSNet", {"in_channels": 3, "out_channels": 1, "num_blocks": 0}),
        (PNSPlusNet(norm_shape=(8, 14)), "PNSPlusNet", {"in_channels": 3, "out_channels": 1, "norm_shape": (8, 14)}),
    ],
)
def test_spec_read_from_the_weights(net, name, kwargs):
    spec = network_spec_from_state_dict(net.state_dict())
    assert (spec.name, spec.kwargs, spec.clip_length) == (name, kwargs, None)
    assert spec.uses_anchor == (name == "PNSPlusNet")
    rebuilt = spec.build()
    rebuilt.load_state_dict(net.state_dict())  # strict: the spec rebuilds the same architecture


@pytest.mark.parametrize("layout", ["plain", "network", "model"])
def test_state_dict_layouts(tmp_path, layout):
    torch.manual_seed(0)
    net = PNSNet(num_blocks=1)
    state = net.state_dict()
    torch.save(state if layout == "plain" else {layout: state, "optimizer": {"state": {}}, "epoch": 3},
               tmp_path / "c.pt")
    loaded, spec = load_network(tmp_path / "c.pt")
    assert isinstance(loaded, PNSNet) and not loaded.training and spec.kwargs["num_blocks"] == 1
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in state.items())


@pytest.mark.parametrize("arch, cls", [("pnsnet", PNSNet), ("pnsplus", PNSPlusNet)])
def test_official_checkpoints(tmp_path, arch, cls):
    official = random_official_state_dict(arch)
    torch.save({f"module.{k}": v for k, v in official.items()}, tmp_path / "released.pth")
    loaded, spec = load_network(tmp_path / "released.pth", official=True)
    assert type(loaded) is cls and spec == NetworkSpec(cls.__name__, {"norm_shape": (16, 28)})
    expected = cls.from_official(official).state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in loaded.state_dict().items())


def test_network_config_wins_and_is_checked(tmp_path):
    net = PNSNet(num_blocks=1, radius=2, softmax_aggregation=True)  # not visible in the weights
    config = {"name": "PNSNet", "kwargs": {"num_blocks": 1, "radius": 2, "softmax_aggregation": True}, "clip_length": 4}
    torch.save({"network": net.state_dict(), "network_config": config}, tmp_path / "c.pt")
    loaded, spec = load_network(tmp_path / "c.pt")
    assert loaded.ns_blocks[0].radius == 2 and loaded.ns_blocks[0].softmax_aggregation and spec.clip_length == 4
    torch.save({"network": net.state_dict(), "network_config": {**config, "clip_length": 1}}, tmp_path / "c.pt")
    assert load_network(tmp_path / "c.pt")[1].clip_length == 1  # the shortest clip
    for bad, match in [
        ({"name": "UNet"}, "UNet"),
        ({"kwargs": [1]}, "'kwargs' must be a dict"),
        ({"clip_length": 0}, "'clip_length' must be a positive int"),
        ({"intensity": {"mean": [0.5] * 3}}, r"'intensity' must be \{'mean': \[...\], 'std': \[...\]\}"),
        ({"intensity": {"mean": [0.5] * 3, "std": [0.2] * 3, "max": 1}}, "'intensity' must be"),
        ({"kwargs": {"num_blokcs": 1}}, r"cannot build PNSNet\(\*\*\{'num_blokcs': 1\}\)"),
    ]:
        torch.save({"network": net.state_dict(), "network_config": bad}, tmp_path / "bad.pt")
        with pytest.raises(ValueError, match=match):
            load_network(tmp_path / "bad.pt")


def test_released_file_without_official_is_an_error(tmp_path):
    torch.save(random_official_state_dict("pnsnet"), tmp_path / "released.pth")
    with pytest.raises(ValueError, match=r"missing keys \['backbone\.conv1\.0\.weight'.*unexpected keys \['feature_"):
        load_network(tmp_path / "released.pth")


def test_network_config_is_plain_and_names_what_is_not(tmp_path):
    config = network_config("PNSNet", {"norm_shape": (8, 14)}, 5, (128, 224), (0.5, 0.5, 0.5), [0.25] * 3)
    assert config == {"name": "PNSNet", "kwargs": {"norm_shape": [8, 14]}, "clip_length": 5, "spatial_size": [128, 224],
                      "intensity": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}}
    with pytest.raises(ValueError, match=r"network_config\.kwargs\.backbone_weights=PosixPath\('w\.pth'\) cannot be"):
        network_config("PNSNet", {"backbone_weights": Path("w.pth")}, 5, (128, 224), [0.5] * 3, [0.25] * 3)


def test_a_model_with_its_definition_loads_as_trained(tmp_path):
    net = PNSNet(num_blocks=1, radius=2)
    config = network_config("PNSNet", {"num_blocks": 1, "radius": 2}, 3, (32, 64), [0.5] * 3, [0.25] * 3)
    torch.save({"model": net.state_dict(), "network_config": config}, tmp_path / "model.pt")
    loaded, spec = load_network(tmp_path / "model.pt")
    assert loaded.ns_blocks[0].radius == 2
    assert (spec.clip_length, spec.spatial_size, spec.intensity) == (3, (32, 64), {"mean": [0.5] * 3, "std": [0.25] * 3})
    assert read_network_config(tmp_path / "model.pt") == config
    check_network_config(tmp_path / "model.pt", config)  # the settings it was trained with
    with pytest.raises(ValueError) as error:
        check_network_config(tmp_path / "model.pt", dict(config, spatial_size=[128, 224]))
    assert str(error.value) == (
        f"checkpoint '{tmp_path / 'model.pt'}' was trained with spatial_size=[32, 64] (its network_config), but the "
        "settings give spatial_size=[128, 224]: drop that override, or merge the configs the model was trained with."
    )
    with pytest.raises(ValueError, match=r"trained with kwargs=\{'num_blocks': 1, 'radius': 2\} .* give "
                                         r"network_kwargs=\{\}"):
        check_network_config(tmp_path / "model.pt", dict(config, kwargs={}))


def test_a_plain_state_dict_or_no_file_has_no_definition(tmp_path):
    torch.save(PNSNet(num_blocks=1).state_dict(), tmp_path / "plain.pt")
    assert read_network_config(tmp_path / "plain.pt") is None and read_network_config(tmp_path / "none.pt") is None
    check_network_config(tmp_path / "plain.pt", {"spatial_size": [1, 1]})  # nothing to contradict
    torch.save({"model": {}, "network_config": {"spatial_size": [32]}}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=r"'spatial_size' must be \[H, W\], got \[32\]"):
        read_network_config(tmp_path / "bad.pt")


def test_a_bundle_run_completes_a_definition_with_the_training_defaults(tmp_path):
    torch.save({"model": {}, "network_config": {"spatial_size": [32, 64], "kwargs": {"num_blocks": 1}}},
               tmp_path / "partial.pt")
    torch.save(PNSNet(num_blocks=1).state_dict(), tmp_path / "plain.pt")
    assert checkpoint_network_config(tmp_path / "partial.pt") == dict(
        DEFAULT_NETWORK_CONFIG, spatial_size=[32, 64], kwargs={"num_blocks": 1})
    for path, official in (("partial.pt", True), ("plain.pt", False), ("none.pt", False)):
        assert checkpoint_network_config(tmp_path / path, official) == DEFAULT_NETWORK_CONFIG
    assert DEFAULT_NETWORK_CONFIG["kwargs"] == {}  # a copy per call: the caller may change its result
    checkpoint_network_config(tmp_path / "none.pt")["kwargs"]["num_blocks"] = 3
    assert DEFAULT_NETWORK_CONFIG["kwargs"] == {}


def test_the_defaults_are_train_jsons():
    parser = bundle_parser()
    assert DEFAULT_NETWORK_CONFIG == network_config(
        parser["network"], {}, parser["clip_length"], parser["spatial_size"], parser["pixel_mean"], parser["pixel_std"])
