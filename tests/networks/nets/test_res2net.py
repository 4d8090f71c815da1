from __future__ import annotations

import pytest
import torch
from monai.networks.nets import FLEXUNET_BACKBONE, FlexibleUNet

from monai_pns.networks import Res2Net, Res2NetBottleneck, Res2NetEncoder, load_res2net_weights
from tests.networks.reference import random_official_state_dict, reference_layout

PREFIX = "feature_extractor."


def _imagenet_state_dict() -> dict[str, torch.Tensor]:
    """Random tensors in the layout of res2net50_v1b_26w_4s-3cf99910.pth: the backbone keys without their prefix."""
    state = random_official_state_dict("pnsnet", seed=1)
    return {k[len(PREFIX):]: v for k, v in state.items() if k.startswith(PREFIX)}


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameters_per_stage_match_the_released_backbone():
    children = reference_layout("pnsnet")["feature_extractor_children"]
    net = Res2Net(layers=(3, 4, 6, 3))
    for name in ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4"):
        assert _count(getattr(net, name)) == children[name], name


def test_keys_and_shapes_match_the_imagenet_layout():
    expected = {k: tuple(v.shape) for k, v in _imagenet_state_dict().items() if not k.startswith("fc.")}
    assert {k: tuple(v.shape) for k, v in Res2Net().state_dict().items()} == expected


@pytest.mark.parametrize("layers", [(3, 4, 6), (3, 4, 6, 3), (1, 1)])
def test_feature_shapes(layers):
    net = Res2Net(layers=layers).eval()
    with torch.no_grad():
        features = net(torch.randn(2, 3, 64, 96))
    channels = (64, 256, 512, 1024, 2048)
    assert [tuple(f.shape) for f in features] == [
        (2, c, 64 // 2 ** (i + 1), 96 // 2 ** (i + 1)) for i, c in enumerate(channels[: len(layers) + 1])
    ]
    assert net.out_channels == channels[: len(layers) + 1]


def test_stage_start_block_shortcut_pools_then_projects():
    block = Res2NetBottleneck(64, 32, stride=2, stage_start=True).eval()
    x = torch.randn(1, 64, 7, 9)  # odd size: the ceil-mode pool keeps the border
    with torch.no_grad():
        shortcut = block.downsample(x)
        conv, bn = block.downsample[1], block.downsample[2]
        expected = bn(conv(torch.nn.functional.avg_pool2d(x, 2, 2, ceil_mode=True, count_include_pad=False)))
        assert block(x).shape == (1, 128, 4, 5)
    torch.testing.assert_close(shortcut, expected)
    torch.testing.assert_close(shortcut[..., -1, -1], bn(conv(x[..., -1:, -1:]))[..., 0, 0])


def test_imagenet_weights_from_file(tmp_path):
    state = _imagenet_state_dict()
    path = tmp_path / "res2net50_v1b_26w_4s-3cf99910.pth"
    torch.save({k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}, path)  # an old-torch file
    net = Res2Net(layers=(3, 4, 6), weights=path)
    loaded = net.state_dict()
    for key, value in state.items():
        if key.startswith(("layer4.", "fc.")):
            assert key not in loaded
        elif not key.endswith("num_batches_tracked"):
            assert torch.equal(loaded[key], value), key


def test_imagenet_weights_missing_key_is_listed(tmp_path):
    state = _imagenet_state_dict()
    del state["layer2.1.convs.2.weight"]
    state["head.weight"] = torch.zeros(1)
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    match = r"broken\.pth.*missing keys \['layer2\.1\.convs\.2\.weight'\].*unexpected keys \['head\.weight'\]"
    with pytest.raises(ValueError, match=match):
        load_res2net_weights(Res2Net(layers=(3, 4, 6)), path)


def test_flexible_unet_backbone():
    assert FLEXUNET_BACKBONE.register_dict["res2net50_v1b_26w_4s"]["type"] is Res2NetEncoder
    net = FlexibleUNet(in_channels=3, out_channels=2, backbone="res2net50_v1b_26w_4s").eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 64, 64)).shape == (1, 2, 64, 64)


def test_flexible_unet_backbone_weights_from_file(tmp_path):
    path = tmp_path / "res2net.pth"
    state = _imagenet_state_dict()
    torch.save(state, path)
    net = FlexibleUNet(in_channels=3, out_channels=1, backbone="res2net50_v1b_26w_4s", pretrained=str(path))
    assert torch.equal(net.encoder.layer4[2].conv3.weight, state["layer4.2.conv3.weight"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"layers": ()}, "layers"),
        ({"layers": (3, 4, 6, 3, 3)}, "layers"),
        ({"layers": (3, 0)}, "layers"),
        ({"scale": 1}, "scale"),
    ],
)
def test_ill_arg(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Res2Net(**kwargs)


def test_encoder_rejects_download_and_3d():
    with pytest.raises(ValueError, match="local"):
        Res2NetEncoder(pretrained=True)
    with pytest.raises(ValueError, match="spatial_dims=3"):
        Res2NetEncoder(spatial_dims=3)


@pytest.mark.parametrize("stage_start", [False, True])
def test_bottleneck_hierarchical_splits(stage_start):
    """Splits x1..x4 of the 1x1 output: y1 = K1(x1), y_i = K_i(x_i + y_{i-1}) (independent K_i(x_i) at a stage start),
    the last split passed through (3x3 average-pooled at a stage start); conv3, batch norm, shortcut, ReLU."""
    torch.manual_seed(0)
    block = Res2NetBottleneck(256 if not stage_start else 64, 64, stage_start=stage_start).eval()
    x = torch.randn(1, block.conv1.in_channels, 6, 7)
    with torch.no_grad():
        splits = torch.relu(block.bn1(block.conv1(x))).split(26, dim=1)
        ys = []
        for i in range(3):
            inp = splits[i] if i == 0 or stage_start else splits[i] + ys[-1]
            ys.append(torch.relu(block.bns[i](block.convs[i](inp))))
        last = torch.nn.functional.avg_pool2d(splits[3], 3, 1, 1) if stage_start else splits[3]
        shortcut = block.downsample(x) if stage_start else x
        expected = torch.relu(block.bn3(block.conv3(torch.cat([*ys, last], dim=1))) + shortcut)
        torch.testing.assert_close(block(x), expected)
