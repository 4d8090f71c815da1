from __future__ import annotations

import re

import pytest
import torch

from monai_pns.inferers import AutocastInferer, FrameWiseInferer, amp_supported
from monai_pns.networks import PNSNet


def test_autocast_inferer_runs_bf16_and_returns_float32():
    torch.manual_seed(0)
    net = torch.nn.Conv2d(3, 4, 3, padding=1)
    x = torch.randn(2, 3, 16, 16)
    seen = []
    net.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    out = AutocastInferer("cpu", torch.bfloat16)(x, net)
    assert seen == [torch.bfloat16] and out.dtype == torch.float32
    reference = net(x)
    assert seen[-1] == torch.float32
    torch.testing.assert_close(out, reference, rtol=0.05, atol=0.05)
    assert not torch.equal(out, reference)  # it really ran in bf16


def test_disabled_is_plain_inference():
    net = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3)
    assert torch.equal(AutocastInferer(enabled=False)(x, net), net(x))


def test_gradients_flow_through_autocast():
    net = torch.nn.Linear(3, 1)
    AutocastInferer("cpu")(torch.randn(4, 3), net).sum().backward()
    assert net.weight.grad is not None and net.weight.grad.dtype == torch.float32


def test_amp_supported():
    assert amp_supported("cuda") is True
    assert amp_supported("cpu") == bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    with pytest.raises(RuntimeError):
        amp_supported("nonsense")


def test_amp_supported_uses_cpu_bf16_for_the_cpu_only(monkeypatch):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)  # a CPU with native bf16
    assert amp_supported("cpu") is True
    assert amp_supported("meta") is False and amp_supported("mps") is False
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert amp_supported("cpu") is False and amp_supported("cuda:1") is True


def _per_frame(net: torch.nn.Module, clip: torch.Tensor) -> torch.Tensor:
    """Reference: every frame of the clip through the network alone, stacked back along T."""
    return torch.stack([net(clip[:, :, t]) for t in range(clip.shape[2])], dim=2)


def test_frame_wise_inferer_runs_every_frame_alone():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.Conv2d(4, 2, 1))
    net.eval()
    clip = torch.randn(2, 3, 5, 16, 24)
    with torch.no_grad():
        out = FrameWiseInferer(enabled=False)(clip, net)
        assert out.shape == (2, 2, 5, 16, 24)
        torch.testing.assert_close(out, _per_frame(net, clip), rtol=1e-5, atol=1e-6)
        images = clip[:, :, 0]
        assert torch.equal(FrameWiseInferer(enabled=False)(images, net), net(images))  # images pass as they are


def test_frame_wise_inferer_is_the_static_pnsnet():
    """PNSNet's image path, frame by frame, is the network without NS blocks on the clip: the same weights load."""
    torch.manual_seed(0)
    video = PNSNet().eval()
    static = PNSNet(num_blocks=0).eval()
    state = {k: v for k, v in video.state_dict().items() if not k.startswith("ns_blocks.")}
    static.load_state_dict(state)
    clip = torch.randn(1, 3, 3, 32, 64)
    with torch.no_grad():
        out = FrameWiseInferer(enabled=False)(clip, video)
        torch.testing.assert_close(out, static(clip), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(out, _per_frame(video, clip), rtol=1e-4, atol=1e-5)
        assert not torch.allclose(out, video(clip), atol=1e-3)  # the NS blocks change the video prediction


def test_frame_wise_inferer_trains_and_autocasts():
    net = torch.nn.Conv2d(3, 1, 1)
    out = FrameWiseInferer("cpu", torch.bfloat16)(torch.randn(2, 3, 4, 8, 8), net)
    assert out.shape == (2, 1, 4, 8, 8) and out.dtype == torch.float32
    out.sum().backward()
    assert net.weight.grad is not None and net.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("shape", [(2, 3, 8), (1, 2, 3, 4, 8, 8)])
def test_frame_wise_inferer_refuses_other_layouts(shape):
    message = f"FrameWiseInferer expects (B, C, H, W) images or (B, C, T, H, W) clips, got shape {shape}."
    with pytest.raises(ValueError, match=re.escape(message)):
        FrameWiseInferer(enabled=False)(torch.zeros(shape), torch.nn.Identity())
