from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from monai_pns.networks import PNSNet, Res2NetBottleneck

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is a test dependency (setup.cfg [test])")


def _well_conditioned_model(height: int, width: int) -> PNSNet:
    """The released configuration at ``height`` x ``width`` (256 x 448 is the release's own) with random weights
    scaled like a trained model's.

    A freshly initialised Res2Net in eval mode is chaotic: float32 rounding alone moves its logits by ~1e-2 (measured
    against float64), so a 1e-4 tolerance between two float32 runtimes would test nothing but luck. Here the residual
    branches start small (last batch-norm scale 0.1), the NS value projections are scaled down (raw-score aggregation
    sums 245 scores, ~100x per block) and the batch-norm statistics are estimated on random frames of that size. Logits
    are then of order 1-10 and float32 vs float64 differ by ~1e-5.
    """
    torch.manual_seed(0)
    net = PNSNet(norm_shape=(height // 16, width // 16))
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # cumulative average: one pass sets the statistics of that batch
        if isinstance(module, Res2NetBottleneck):
            torch.nn.init.constant_(module.bn3.weight, 0.1)
    net.train()
    with torch.no_grad():
        net(torch.rand(5, 3, height, width))  # the static path reaches every batch norm
        for block in net.ns_blocks:
            block.value.weight.mul_(0.1)
    return net.eval()


def test_video_model_exports_to_onnx(tmp_path):
    """TorchScript-based exporter (dynamo=False) at a quarter of the released size: ~7 s on 2 cores."""
    net = _well_conditioned_model(128, 224)
    clip = torch.rand(1, 3, 5, 128, 224)
    path = tmp_path / "pnsnet.onnx"
    torch.onnx.export(net, (clip,), str(path), dynamo=False, input_names=["clip"], output_names=["logits"])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"clip": clip.numpy()})
    without_ns = copy.deepcopy(net)
    for block in without_ns.ns_blocks:
        torch.nn.init.zeros_(block.out_proj.weight)
    with torch.no_grad():
        expected = net(clip).numpy()
        ns_effect = np.abs(expected - without_ns(clip).numpy()).max()
    assert logits.shape == (1, 1, 5, 128, 224)
    assert 1.0 < np.abs(expected).max() < 100.0 and ns_effect > 0.01  # >= 100x the tolerance below
    np.testing.assert_allclose(logits, expected, rtol=0, atol=1e-4)


@pytest.mark.slow
def test_video_model_exports_with_dynamo(tmp_path):
    """torch.export-based exporter (dynamo=True) at the released size: ~2 minutes on 2 cores, hence slow."""
    net = _well_conditioned_model(256, 448)
    clip = torch.rand(1, 3, 5, 256, 448)
    path = tmp_path / "pnsnet_dynamo.onnx"
    torch.onnx.export(net, (clip,), str(path), dynamo=True, input_names=["clip"], output_names=["logits"])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"clip": clip.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(logits, net(clip).numpy(), rtol=0, atol=1e-4)
