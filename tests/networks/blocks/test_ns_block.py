from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from monai.bundle import ConfigParser
from monai.networks.nets import UNet

from monai_pns.networks import NSBlock


def _unfold(x: torch.Tensor, radius: int, dilation: int) -> torch.Tensor:
    """(B, C, T, H, W) -> (B, C, T, (2r+1)^2, H, W) with torch's im2col, zero padded."""
    b, c, t, h, w = x.shape
    size = 2 * radius + 1
    cols = F.unfold(x.transpose(1, 2).reshape(b * t, c, h, w), size, dilation=dilation, padding=radius * dilation)
    return cols.view(b, t, c, size * size, h, w).transpose(1, 2)


def reference_ns_block(block: NSBlock, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
    """The NS block written out from the paper and the released code's semantics, in float64 with im2col."""
    x = x.double()
    source = x if context is None else context.double()
    n, c = block.num_groups, block.in_channels

    def conv(layer, t):
        return torch.einsum("oc,bcthw->bothw", layer.weight.double().flatten(1), t)

    q, k, v = conv(block.query, x), conv(block.key, source), conv(block.value, source)
    outs, gates = [], []
    for i, dilation in enumerate(block.dilations):
        qi, ki, vi = (t[:, i * c // n : (i + 1) * c // n] for t in (q, k, v))
        if isinstance(block.norm, nn.GroupNorm):  # per (clip, frame) over (C/N, H, W), per-channel affine
            mean = qi.mean(dim=(1, 3, 4), keepdim=True)
            var = qi.var(dim=(1, 3, 4), unbiased=False, keepdim=True)
            weight = block.norm.weight.double()[i * c // n : (i + 1) * c // n].view(1, -1, 1, 1, 1)
            bias = block.norm.bias.double()[i * c // n : (i + 1) * c // n].view(1, -1, 1, 1, 1)
            qi = (qi - mean) / torch.sqrt(var + block.norm.eps) * weight + bias
        elif isinstance(block.norm, nn.LayerNorm):  # one (C/N, h, w) affine shared by every group
            mean = qi.mean(dim=(1, 3, 4), keepdim=True)
            var = qi.var(dim=(1, 3, 4), unbiased=False, keepdim=True)
            weight, bias = (p.double().unsqueeze(1) for p in (block.norm.weight, block.norm.bias))
            qi = (qi - mean) / torch.sqrt(var + block.norm.eps) * weight + bias
        scores = torch.einsum("bcthw,bcsnhw->bsnthw", qi, _unfold(ki, block.radius, dilation)) / np.sqrt(c / n)
        scores = scores.flatten(1, 2)  # (B, Tk*(2r+1)^2, Tq, H, W)
        probs = torch.softmax(scores, dim=1)
        weights = (probs if block.softmax_aggregation else scores).unflatten(1, (source.shape[2], -1))
        outs.append(torch.einsum("bsnthw,bcsnhw->bcthw", weights, _unfold(vi, block.radius, dilation)))
        gates.append(probs.amax(dim=1, keepdim=True))
    out = conv(block.out_proj, torch.cat(outs, dim=1))
    if block.soft_attention:
        out = out * torch.cat(gates, dim=1).amax(dim=1, keepdim=True)
    return out + x if block.residual else out


def _randomise_norm(block: NSBlock, seed: int = 0) -> NSBlock:
    g = torch.Generator().manual_seed(seed)
    if block.norm is not None:
        with torch.no_grad():
            block.norm.weight.copy_(1 + 0.5 * torch.randn(block.norm.weight.shape, generator=g))
            block.norm.bias.copy_(0.5 * torch.randn(block.norm.bias.shape, generator=g))
    return block


OPTIONS = [
    {},
    {"softmax_aggregation": True},
    {"soft_attention": False},
    {"use_norm": False},
    {"residual": False},
    {"norm_shape": (6, 7)},
    {"num_groups": 2, "dilations": (2, 1), "radius": 1},
    {"num_groups": 1, "radius": 2},
    {"num_groups": 8, "radius": 1},
]


@pytest.mark.parametrize("options", OPTIONS, ids=[str(o) for o in OPTIONS])
def test_matches_reference(options):
    torch.manual_seed(0)
    block = _randomise_norm(NSBlock(in_channels=8, **options)).double().eval()
    x = torch.randn(2, 8, 3, 6, 7, dtype=torch.float64)
    torch.testing.assert_close(block(x), reference_ns_block(block, x), rtol=1e-10, atol=1e-10)


def test_every_option_changes_the_output():
    torch.manual_seed(0)
    x = torch.randn(1, 8, 3, 6, 7)
    outputs = {}
    for options in OPTIONS[:6]:
        torch.manual_seed(1)
        outputs[str(options)] = _randomise_norm(NSBlock(in_channels=8, **options))(x)
    keys = list(outputs)
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            assert not torch.allclose(outputs[a], outputs[b], atol=1e-4), (a, b)
    # residual=True adds exactly the input
    torch.testing.assert_close(outputs["{}"] - x, outputs[str({"residual": False})])


def test_context_queries_from_anchor():
    torch.manual_seed(0)
    block = _randomise_norm(NSBlock(8, num_groups=4, radius=2, dilations=(3, 4, 3, 4))).double()
    anchor, clip = torch.randn(2, 8, 1, 6, 7, dtype=torch.float64), torch.randn(2, 8, 5, 6, 7, dtype=torch.float64)
    out = block(anchor, context=clip)
    assert out.shape == (2, 8, 1, 6, 7)
    torch.testing.assert_close(out, reference_ns_block(block, anchor, clip), rtol=1e-10, atol=1e-10)


def test_defaults_and_parameters():
    block = NSBlock(32)
    assert block.dilations == (1, 3, 5, 7) and block.radius == 3
    assert isinstance(block.norm, nn.GroupNorm) and block.norm.weight.shape == (32,)
    released = NSBlock(32, norm_shape=(16, 28), residual=False)
    assert isinstance(released.norm, nn.LayerNorm) and released.norm.weight.shape == (8, 16, 28)
    assert all(conv.bias is None and conv.weight.shape == (32, 32, 1, 1, 1)
               for conv in (released.query, released.key, released.value, released.out_proj))
    assert NSBlock(32, use_norm=False).norm is None


def test_gradients_reach_every_parameter():
    block = NSBlock(16, num_groups=4, radius=2)
    x = torch.randn(2, 16, 3, 8, 10, requires_grad=True)
    block(x).square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    for name, param in block.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


@pytest.mark.parametrize("residual", [True, False])
def test_zero_init_starts_at_zero_then_learns(residual):
    """zero_init: the block first returns exactly x (residual) or 0; one step moves W_T, the next reaches Q, K, V."""
    torch.manual_seed(0)
    block = NSBlock(16, num_groups=4, radius=2, residual=residual, zero_init=True)
    assert torch.count_nonzero(block.out_proj.weight) == 0
    assert torch.count_nonzero(NSBlock(16, num_groups=4, radius=2).out_proj.weight) > 0  # the default draws W_T
    x = torch.randn(2, 16, 3, 8, 10)
    out = block(x)
    assert torch.equal(out, x if residual else torch.zeros_like(x))
    optimizer = torch.optim.SGD(block.parameters(), lr=0.1)
    target = torch.randn_like(x)
    grads = []
    for _ in range(2):
        optimizer.zero_grad()
        (block(x) - target).square().mean().backward()
        grads.append({name: p.grad.abs().sum().item() for name, p in block.named_parameters()})
        optimizer.step()
    assert grads[0]["out_proj.weight"] > 0
    assert all(grads[0][name] == 0 for name in ("query.weight", "key.weight", "value.weight"))
    assert all(grads[1][name] > 0 for name in ("query.weight", "key.weight", "value.weight"))
    assert not torch.allclose(block(x), out)


@pytest.mark.parametrize(
    "kwargs,shape,message",
    [
        ({"in_channels": 8}, (1, 8, 4, 4), "5-D input"),
        ({"in_channels": 10, "num_groups": 4}, None, "divisible by num_groups"),
        ({"in_channels": 8, "dilations": (1, 2)}, None, "one value per group"),
        ({"in_channels": 8, "dilations": (1, 0, 1, 1)}, None, "dilations must be >= 1"),
        ({"in_channels": 8, "norm_shape": (16, 28)}, (1, 8, 2, 8, 14), r"norm_shape=\(16, 28\)"),
        ({"in_channels": 8}, (1, 6, 2, 4, 4), "built for 8 channels"),
    ],
)
def test_ill_arguments(kwargs, shape, message):
    with pytest.raises(ValueError, match=message):
        block = NSBlock(**kwargs)
        block(torch.zeros(shape))


def test_context_mismatch():
    block = NSBlock(8)
    with pytest.raises(ValueError, match="context must be"):
        block(torch.zeros(1, 8, 1, 4, 4), context=torch.zeros(1, 8, 3, 4, 5))


def test_context_dtype_mismatch_shows_both():
    block = NSBlock(8)
    with pytest.raises(ValueError, match=r"x, context must share.*x=\(1, 8, 1, 4, 4\) torch.float32 on cpu, "
                       r"context=\(1, 8, 3, 4, 4\) torch.float64 on cpu"):
        block(torch.zeros(1, 8, 1, 4, 4), context=torch.zeros(1, 8, 3, 4, 4, dtype=torch.float64))


def test_extra_repr():
    text = repr(NSBlock(16, num_groups=2, radius=1, dilations=(2, 3), norm_shape=(4, 5), residual=False))
    assert "NSBlock(\n  in_channels=16, num_groups=2, radius=1, dilations=(2, 3), norm_shape=(4, 5), " in text
    assert "soft_attention=True, softmax_aggregation=False, residual=False\n" in text


def test_bundle_config_target():
    parser = ConfigParser({"block": {"_target_": "monai_pns.networks.NSBlock", "in_channels": 16, "radius": 1}})
    block = parser.get_parsed_content("block")
    assert isinstance(block, NSBlock) and block(torch.randn(1, 16, 2, 4, 4)).shape == (1, 16, 2, 4, 4)


class ClipUNet(UNet):
    """A MONAI UNet over clips (B, C, T, H, W) with an NS block at its bottleneck (the README example)."""

    def _get_bottom_layer(self, in_channels: int, out_channels: int) -> nn.Module:
        return nn.Sequential(super()._get_bottom_layer(in_channels, out_channels), NSBlock(out_channels, radius=2))


def test_plugged_into_monai_unet():
    net = ClipUNet(spatial_dims=3, in_channels=3, out_channels=1, channels=(8, 16, 32), strides=((1, 2, 2), (1, 2, 2)))
    clip = torch.randn(2, 3, 5, 32, 48)
    out = net(clip)
    assert out.shape == (2, 1, 5, 32, 48)
    out.mean().backward()
    ns_blocks = [m for m in net.modules() if isinstance(m, NSBlock)]
    assert len(ns_blocks) == 1 and ns_blocks[0].query.weight.grad.abs().sum() > 0


def _export_case() -> tuple[NSBlock, torch.Tensor]:
    torch.manual_seed(0)
    return _randomise_norm(NSBlock(32, norm_shape=(16, 28))).eval(), torch.randn(1, 32, 5, 16, 28)


def test_torch_export_parity():
    block, x = _export_case()
    with torch.no_grad():
        exported = torch.export.export(block, (x,))
        torch.testing.assert_close(exported.module()(x), block(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dynamo", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["torchscript", "dynamo"])
def test_onnx_parity(tmp_path, dynamo):
    """Both ONNX exporters: the TorchScript-based one (what the package's onnxruntime backend uses) in the default
    suite; the dynamo one took about a minute on 2 cores, hence slow."""
    onnxruntime = pytest.importorskip("onnxruntime", reason="onnxruntime is a test dependency (setup.cfg [test])")
    block, x = _export_case()
    with torch.no_grad():
        expected = block(x)
        torch.onnx.export(block, (x,), tmp_path / "ns_block.onnx", dynamo=dynamo, input_names=["x"])
    session = onnxruntime.InferenceSession(str(tmp_path / "ns_block.onnx"), providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run(None, {"x": x.numpy()})
    assert np.abs(onnx_out - expected.numpy()).max() <= 1e-4


def test_ns_parameter_groups_split_every_parameter_once():
    from monai.networks.nets import UNet

    from monai_pns.networks import PNSNet, PNSPlusNet, ns_parameter_groups

    for net, blocks in ((PNSNet(num_blocks=2), 2), (PNSPlusNet(), 2)):
        rest, ns = ns_parameter_groups(net, lr=1e-4, ns_lr_multiplier=30)
        assert rest["lr"] == 1e-4 and ns["lr"] == pytest.approx(3e-3)
        assert len(ns["params"]) == blocks * len(list(NSBlock(32).parameters()))
        ids = [id(p) for p in rest["params"] + ns["params"]]
        assert len(ids) == len(set(ids)) and set(ids) == {id(p) for p in net.parameters()}
    unet = UNet(spatial_dims=2, in_channels=3, out_channels=1, channels=(4, 8), strides=(2,))
    (only,) = ns_parameter_groups(unet, lr=1e-3, ns_lr_multiplier=30)
    assert only["lr"] == 1e-3 and len(only["params"]) == len(list(unet.parameters()))
    # Adam's first step moves each parameter by about its group's lr: the NS blocks' 30 times further
    block = NSBlock(8, num_groups=2, radius=1, zero_init=True)
    net = nn.Sequential(nn.Conv3d(8, 8, 1), block)
    optimizer = torch.optim.Adam(ns_parameter_groups(net, lr=1e-3, ns_lr_multiplier=30))
    before = [p.detach().clone() for p in net.parameters()]
    net(torch.randn(1, 8, 2, 4, 5)).square().mean().backward()
    optimizer.step()
    steps = [(p - b).abs().max().item() for p, b in zip(net.parameters(), before)]
    assert steps[0] == pytest.approx(1e-3, rel=1e-3) and block.out_proj.weight.abs().max().item() == pytest.approx(
        3e-2, rel=1e-3)
