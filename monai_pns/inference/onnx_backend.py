"""The onnxruntime backend: a clip model exported to ONNX and run by onnxruntime's CPU provider."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence

import torch
import torch.nn as nn
from monai.utils import optional_import

ort, _ = optional_import("onnxruntime", descriptor="the onnxruntime backend (pip install onnxruntime)")

__all__ = ["OnnxClipModel", "export_clip_model"]


def export_clip_model(network: nn.Module, path: str | os.PathLike, clip_shape: Sequence[int]) -> str:
    """Export ``network`` (eval mode, float32) for clips of shape ``clip_shape`` = (1, C, T, H, W) to an ONNX file.

    The NS operations switch to their export formulation (stacked windows and two einsums) while exporting.
    """
    clip = torch.zeros(tuple(clip_shape))
    with torch.no_grad():
        torch.onnx.export(network.eval(), (clip,), os.fspath(path), dynamo=False, input_names=["clip"],
                          output_names=["logits"])
    return os.fspath(path)


class OnnxClipModel:
    """A clip model run by onnxruntime: callable like the network, float32 (1, C, T, H, W) in, logits out.

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
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads or torch.get_num_threads()
        with tempfile.TemporaryDirectory() as tmp:
            path = export_clip_model(network, os.path.join(tmp, "model.onnx"), self.clip_shape)
            self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        if tuple(clip.shape) != self.clip_shape:
            raise ValueError(f"this ONNX model was exported for clips {self.clip_shape}, got {tuple(clip.shape)}.")
        (logits,) = self.session.run(None, {"clip": clip.detach().float().cpu().numpy()})
        return torch.from_numpy(logits)
