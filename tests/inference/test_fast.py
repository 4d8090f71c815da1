from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from monai_pns.inference import cpu_bf16_support, optimize_network, resolve_precision
from monai_pns.inference.fast import resolve_encoder
from monai_pns.networks import NSBlock, PNSPlusNet
from tests.inference.media import small_network

CLIP = (1, 3, 3, 32, 64)


@pytest.fixture(scope="module")
def net():
    return small_network()


@pytest.mark.parametrize("encoder", ["torch", "onnxruntime"])
def test_fp32_fast_path_equals_eager(net, encoder):
    if encoder == "onnxruntime":
        pytest.importorskip("onnxruntime", reason="onnxruntime is a test dependency (setup.cfg [test])")
    before = {k: v.clone() for k, v in net.state_dict().items()}
    fast = optimize_network(net, precision="fp32", encoder=encoder)
    x = torch.rand(CLIP, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, out = net(x), fast(x)
    assert out.dtype == torch.float32 and out.shape == expected.shape
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)
    # the argument is left as it was
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 100


def test_batch_norms_folded_and_channels_last(net):
    fast = optimize_network(net, encoder="torch")
    for name in ("backbone", "low_rfb", "high_rfb", "decoder.refine"):
        assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.get_submodule(name).modules()), name
    remaining = [n for n, m in fast.named_modules() if isinstance(m, nn.BatchNorm2d)]
    assert remaining == ["decoder.high_norm", "decoder.low_norm"]  # after a concatenation / outside the traced unit
    convs = [m for m in fast.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 103 and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    unchanged = optimize_network(net, encoder="torch", fold_batch_norm=False, channels_last=False)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in unchanged.modules()) == 100


def test_bf16_path_within_tolerance_of_fp32(net):
    """bf16 convolutions (emulated on a CPU without bf16 support), NS blocks in float32: probabilities within 0.02."""
    fast = optimize_network(net, precision="bf16")
    assert next(fast.backbone.parameters()).dtype == torch.bfloat16
    assert all(p.dtype == torch.float32 for m in fast.modules() if isinstance(m, NSBlock) for p in m.parameters())
    x = torch.rand(1, 3, 2, 32, 64, generator=torch.Generator().manual_seed(0))  # bf16 is slow where emulated
    with torch.no_grad():
        expected, out = torch.sigmoid(net(x)), fast(x)
    assert out.dtype == torch.float32
    assert (torch.sigmoid(out) - expected).abs().max() <= 0.02


def test_pns_plus_fast_path():
    torch.manual_seed(0)
    net = PNSPlusNet().eval()
    x = torch.rand(1, 3, 1 + 2, 32, 64)
    with torch.no_grad():
        fast = optimize_network(net, encoder="torch")
        torch.testing.assert_close(torch.sigmoid(fast(x)), torch.sigmoid(net(x)), rtol=0, atol=1e-4)


def test_encoder_choice(monkeypatch):
    assert resolve_encoder("torch", "fp32") == "torch"
    assert resolve_encoder("auto", "bf16") == "torch" and resolve_encoder("auto", "fp32", "cuda") == "torch"
    monkeypatch.setattr("monai_pns.inference.fast.has_onnxruntime", True)
    assert resolve_encoder("auto", "fp32", "cpu") == "onnxruntime"
    monkeypatch.setattr("monai_pns.inference.fast.has_onnxruntime", False)
    assert resolve_encoder("auto", "fp32", "cpu") == "torch"
    with pytest.raises(ValueError, match=r"encoder='onnxruntime' runs on the CPU with precision='fp32' around it, "
                                         r"got precision='bf16'"):
        resolve_encoder("onnxruntime", "bf16")
    with pytest.raises(ValueError, match=r"encoder='onnxruntime-int8' runs on the CPU .* on device='cuda'"):
        resolve_encoder("onnxruntime-int8", "fp32", "cuda")


def test_int8_encoder_is_calibrated_and_close_to_float32(net):
    """Quantized on calibration frames: the logits move (int8 is in use) but the probabilities stay close."""
    pytest.importorskip("onnxruntime", reason="onnxruntime is a test dependency (setup.cfg [test])")
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(CLIP, generator=generator)
    calibration = torch.rand(4, 3, 32, 64, generator=generator)
    int8 = optimize_network(net, encoder="onnxruntime-int8", calibration=calibration)
    with torch.no_grad():  # the float32 onnxruntime encoder equals eager within 1e-4 (above)
        expected, out = torch.sigmoid(net(x)), torch.sigmoid(int8(x))
    assert out.shape == expected.shape and out.dtype == torch.float32
    assert 0 < (out - expected).abs().max() < 0.05


def test_calibration_goes_with_the_int8_encoder_only(net):
    frames = torch.rand(2, 3, 32, 64)
    with pytest.raises(ValueError, match=r"calibration frames go with encoder='onnxruntime-int8' and only with it, "
                                         r"got encoder='onnxruntime-int8' and calibration=None"):
        optimize_network(net, encoder="onnxruntime-int8")
    with pytest.raises(ValueError, match=r"got encoder='torch' and calibration=\(2, 3, 32, 64\)"):
        optimize_network(net, encoder="torch", calibration=frames)


def test_precision_detection(monkeypatch):
    support = cpu_bf16_support()
    assert set(support) == {"avx512_bf16", "amx_bf16", "mkldnn_bf16", "native"}
    assert support["native"] == (support["mkldnn_bf16"] and (support["avx512_bf16"] or support["amx_bf16"]))
    assert resolve_precision("fp32") == "fp32" and resolve_precision("bf16") == "bf16"
    monkeypatch.setattr("monai_pns.inference.fast.cpu_bf16_support", lambda: {"native": True})
    assert resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr("monai_pns.inference.fast.cpu_bf16_support", lambda: {"native": False})
    assert resolve_precision("auto", "cpu") == "fp32"
    with pytest.raises(ValueError, match="fp16"):
        resolve_precision("fp16")


def test_rejects_other_networks():
    with pytest.raises(ValueError, match="PNSNet or PNSPlusNet, got Conv2d"):
        optimize_network(nn.Conv2d(1, 1, 1))


@pytest.mark.parametrize("fold", [True, False])
def test_a_network_in_train_mode_is_copied_into_eval_mode_and_left_as_it_was(fold):
    """The documented contract: the copy is put in eval mode (running batch-norm statistics), the argument keeps its
    own mode."""
    net = small_network().train()
    reference = small_network().eval()  # the same weights (same seed), in eval mode
    fast = optimize_network(net, encoder="torch", fold_batch_norm=fold, channels_last=False)
    assert net.training and all(m.training for m in net.modules())
    # every layer in eval mode (torch.fx's GraphModules hold their layers in plain ``Module`` containers, which
    # have no mode-dependent behaviour and are made in train mode: the layers themselves are checked)
    assert not fast.training and not any(m.training for m in fast.modules() if not list(m.children()))
    x = torch.rand(CLIP, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(fast(x), reference(x), rtol=1e-4, atol=1e-4)
        assert (net(x) - reference(x)).abs().max() > 1e-2  # train mode (batch statistics) differs: the check bites
