"""PNS-Net and PNS+ compile with ``torch.jit.script`` (MONAI's default export) and compute what the eager network does;
a compiled module saves, loads, and keeps the eager parameter names."""

from __future__ import annotations

import pytest
import torch

from monai_pns.networks import NSBlock, PNSNet, PNSPlusNet, Res2NetBottleneck


def _well_conditioned(net: torch.nn.Module, x: torch.Tensor) -> torch.nn.Module:
    """``net`` with weights scaled like a trained model's, in eval mode (as in test_pnsnet_export.py: a fresh network's
    logits reach 1e5 and float32 rounding alone moves them by more than 1e-4 of that): small residual branches, NS
    values scaled down and batch-norm statistics estimated on ``x``."""
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # cumulative average: one pass sets the statistics of that batch
        if isinstance(module, Res2NetBottleneck):
            torch.nn.init.constant_(module.bn3.weight, 0.1)
        if isinstance(module, NSBlock):
            torch.nn.init.normal_(module.value.weight, std=0.01)
    net.train()
    with torch.no_grad():
        net(x)
    return net.eval()


@pytest.mark.parametrize(
    "net, shape",
    [
        (PNSNet, (1, 3, 5, 64, 112)),
        (PNSNet, (2, 3, 64, 112)),  # images: the static path
        (lambda: PNSNet(use_norm=False, softmax_aggregation=True, soft_attention=False), (1, 3, 3, 32, 48)),
        (PNSPlusNet, (1, 3, 1 + 3, 64, 112)),
    ],
    ids=["pnsnet-clip", "pnsnet-images", "pnsnet-ablation", "pnsplus"],
)
def test_scripted_network_matches_eager(net, shape, tmp_path):
    torch.manual_seed(0)
    x = torch.rand(shape)
    eager = _well_conditioned(net(), x)
    scripted = torch.jit.script(eager)
    torch.jit.save(scripted, str(tmp_path / "model.ts"))
    loaded = torch.jit.load(str(tmp_path / "model.ts"))
    assert list(loaded.state_dict()) == list(eager.state_dict())
    with torch.no_grad():
        expected = eager(x)
        assert 1.0 < float(expected.abs().max()) < 1e3  # the tolerance below is meaningful
        for compiled in (scripted, loaded):
            # 1e-5 of the logits' scale: the compiled NS ops use the export formulation, which sums in another order
            torch.testing.assert_close(compiled(x), expected, rtol=0, atol=1e-5 * float(expected.abs().max()))
