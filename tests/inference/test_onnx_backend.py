"""The onnxruntime wrappers on tiny modules (the PNS networks' own export is tested in
tests/networks/nets/test_pnsnet_export.py and through optimize_network in test_fast.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

pytest.importorskip("onnxruntime", reason="onnxruntime is a test dependency (setup.cfg [test])")

from monai_pns.inference.onnx_backend import OnnxClipModel, OnnxEncoder  # noqa: E402

CLIP = (1, 3, 2, 8, 8)


class TinyClipModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv3d(3, 1, (1, 3, 3), padding=(0, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class TinyEncoder(nn.Module):
    """What OnnxEncoder needs of a PNS network: ``in_channels`` and ``encode`` -> (low, high) features."""

    in_channels = 3

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.low = nn.Conv2d(3, 2, 3, stride=2, padding=1)
        self.high = nn.Conv2d(2, 4, 3, stride=2, padding=1)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        low = torch.relu(self.low(x))
        return low, self.high(low)


@pytest.fixture(scope="module")
def clip_model():
    module = TinyClipModel().eval()
    return module, OnnxClipModel(module, CLIP, num_threads=3)


def test_clip_model_equals_the_module(clip_model):
    module, model = clip_model
    x = torch.rand(CLIP, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = module(x)
    out = model(x)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == (1, 1, 2, 8, 8)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)
    # float64 clips and clips that require grad are taken too (cast, detached)
    torch.testing.assert_close(model(x.double().requires_grad_()), expected, rtol=0, atol=1e-5)


def test_clip_model_session_options(clip_model):
    """The explicit thread count, and no spinning threads (they would take the CPU from PyTorch between calls)."""
    options = clip_model[1].session.get_session_options()
    assert options.intra_op_num_threads == 3
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_clip_model_refuses_another_clip_shape(clip_model):
    with pytest.raises(ValueError, match=r"this ONNX model was exported for clips \(1, 3, 2, 8, 8\), "
                                         r"got \(1, 3, 3, 8, 8\)\."):
        clip_model[1](torch.zeros(1, 3, 3, 8, 8))


@pytest.mark.parametrize("shape", [(1, 3, 8, 8), (3, 3, 16, 24)])
def test_encoder_takes_any_number_and_size_of_frames(shape):
    """Exported at 1 x 3 x 64 x 64, run on other N, H and W; a channels-last (non-contiguous) input too."""
    module = TinyEncoder().eval()
    encoder = OnnxEncoder(module, num_threads=1)
    x = torch.rand(shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        low, high = module.encode(x)
    for frames in (x, x.contiguous(memory_format=torch.channels_last)):
        out = encoder(frames)
        assert isinstance(out, list) and len(out) == 2
        torch.testing.assert_close(out[0], low, rtol=0, atol=1e-5)
        torch.testing.assert_close(out[1], high, rtol=0, atol=1e-5)
