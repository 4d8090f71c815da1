"""The onnxruntime backend: the clip model, or only its encoder, exported to ONNX and run by onnxruntime's CPU
provider (MLAS kernels in a blocked channel layout, convolutions fused with their activations, weights packed once)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence

import torch
import torch.nn as nn
from monai.utils import optional_import

ort, has_onnxruntime = optional_import("onnxruntime", descriptor="the onnxruntime backend (pip install onnxruntime)")
quantization, _ = optional_import("onnxruntime.quantization", descriptor="int8 encoders (pip install onnxruntime)")

__all__ = ["OnnxClipModel", "OnnxEncoder", "has_onnxruntime"]


def _quantize(path: str, calibration: torch.Tensor) -> str:
    """Post-training static int8 quantization of the ONNX model at ``path`` (onnxruntime's QDQ format: weights
    signed per output channel, activations unsigned per tensor, their ranges the min-max over ``calibration``, a
    batch of inputs run one at a time); returns the quantized model's path."""
    inputs = iter([{"x": item[None].numpy()} for item in calibration.detach().float().cpu()])

    class Calibration(quantization.CalibrationDataReader):
        def get_next(self):
            return next(inputs, None)

    out = path.replace(".onnx", "_int8.onnx")
    quantization.quantize_static(
        path, out, Calibration(), quant_format=quantization.QuantFormat.QDQ, per_channel=True,
        activation_type=quantization.QuantType.QUInt8, weight_type=quantization.QuantType.QInt8,
    )
    return out


def _session(
    module: nn.Module,
    example: torch.Tensor,
    outputs: Sequence[str],
    dynamic: bool,
    num_threads: int | None,
    calibration: torch.Tensor | None = None,
):
    """Export ``module`` (float32, eval mode) with one input named "x", quantized to int8 when ``calibration``
    inputs are given, and open it in onnxruntime without spinning threads (they would take the CPU from PyTorch's
    own threads between calls)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads or torch.get_num_threads()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    axes = {"x": {0: "n", 2: "h", 3: "w"}} if dynamic else None
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        path = os.path.join(tmp, "model.onnx")
        torch.onnx.export(module.eval(), (example,), path, dynamo=False, input_names=["x"], output_names=list(outputs),
                          dynamic_axes=axes)
        if calibration is not None:
            path = _quantize(path, calibration)
        return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


class OnnxClipModel:
    """A whole clip model run by onnxruntime: callable like the network, float32 (1, C, T, H, W) in, logits out.

    The NS operations are exported in their export formulation (stacked windows and two einsums).

    Args:
        network: the PyTorch network to export.
        clip_shape: (1, C, T, H, W), the one input shape the session accepts (the anchor counted for PNS+).
        num_threads: onnxruntime's intra-op threads; by default PyTorch's ``torch.get_num_threads()``.

    Examples::

        >>> model = OnnxClipModel(PNSNet().eval(), (1, 3, 5, 64, 112))  # doctest: +SKIP
        >>> model(torch.rand(1, 3, 5, 64, 112)).shape
        torch.Size([1, 1, 5, 64, 112])
    """

    def __init__(self, network: nn.Module, clip_shape: Sequence[int], num_threads: int | None = None) -> None:
        self.clip_shape = tuple(int(s) for s in clip_shape)
        self.session = _session(network, torch.zeros(self.clip_shape), ["logits"], False, num_threads)

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        if tuple(clip.shape) != self.clip_shape:
            raise ValueError(f"this ONNX model was exported for clips {self.clip_shape}, got {tuple(clip.shape)}.")
        (logits,) = self.session.run(None, {"x": clip.detach().float().cpu().numpy()})
        return torch.from_numpy(logits)


class _Encode(nn.Module):
    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.network.encode(frames)


class OnnxEncoder(nn.Module):
    """The backbone and both LightRFB reducers of a PNS network run by onnxruntime, for any number and size of frames.

    Called like the backbone, (N, C, H, W) frames -> a list whose last two entries are the reduced low and high
    features, so that it replaces ``network.backbone`` while the reducers become identities (see
    :func:`~monai_pns.inference.optimize_network`).

    Args:
        network: the PyTorch network whose encoder is exported.
        num_threads: onnxruntime's intra-op threads; by default PyTorch's ``torch.get_num_threads()``.
        calibration: (N, C, H, W) frames, preprocessed as the network's inputs: the encoder is then quantized to
            int8 (post-training, static), its activation ranges measured on these frames.
    """

    def __init__(self, network: nn.Module, num_threads: int | None = None,
                 calibration: torch.Tensor | None = None) -> None:
        super().__init__()
        example = torch.zeros(1, network.in_channels, 64, 64)
        self.session = _session(_Encode(network), example, ["low", "high"], True, num_threads, calibration)

    def forward(self, frames: torch.Tensor) -> list[torch.Tensor]:
        low, high = self.session.run(None, {"x": frames.detach().float().contiguous().cpu().numpy()})
        return [torch.from_numpy(low), torch.from_numpy(high)]
