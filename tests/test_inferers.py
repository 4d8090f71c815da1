from __future__ import annotations

import pytest
import torch

from monai_pns.inferers import AutocastInferer, amp_supported


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
