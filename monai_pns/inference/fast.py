"""The fast inference form of a trained PNS network for a device and precision, with the same forward signature.

:func:`optimize_network` returns a copy of the network (the same class, so ``forward``, ``encode``, ``refine`` and
the decoder keep their signatures) in which:

- every batch norm that follows a convolution is folded into it (``torch.fx`` traces the backbone, the two LightRFB
  reducers and the decoder's refinement unit; ``torch.fx.experimental.optimization.fuse`` folds them): the backbone
  alone has 71 such pairs;
- the 2-D convolutions' weights are in ``channels_last`` memory format, so oneDNN runs every convolution of the
  backbone, the reducers and the decoder in NHWC without layout conversions between them;
- with ``precision="bf16"`` weights and activations are bfloat16 except in the NS blocks, which stay float32
  (their attention scores are sums over 8 channels whose raw values weight the aggregation, and bf16's 8-bit
  mantissa moves them by ~1 %); inputs are cast on the way in and logits come back as float32.

What was measured and dropped is listed in ``docs/inference.md``. :func:`cpu_bf16_support` tells whether this CPU
runs bf16 natively (AVX512-BF16 or AMX); bf16 elsewhere is emulated and slower than float32.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
from monai.utils import look_up_option
from torch.fx.experimental.optimization import fuse

from monai_pns.inference.onnx_backend import OnnxEncoder, has_onnxruntime
from monai_pns.networks.blocks import NSBlock
from monai_pns.networks import PNSBase

__all__ = ["ENCODERS", "PRECISIONS", "cpu_bf16_support", "optimize_network", "resolve_encoder", "resolve_precision"]

PRECISIONS = ("fp32", "bf16", "auto")
ENCODERS = ("auto", "torch", "onnxruntime", "onnxruntime-int8")
#: the submodules whose conv -> batch norm pairs are folded (they trace with torch.fx)
_FOLDED = ("backbone", "low_rfb", "high_rfb", "decoder.refine")


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            return next((set(line.split(":", 1)[1].split()) for line in f if line.startswith("flags")), set())
    except OSError:
        return set()


def cpu_bf16_support() -> dict[str, bool]:
    """Which bf16 features this CPU has: ``avx512_bf16`` and ``amx_bf16`` (from ``/proc/cpuinfo`` and PyTorch's
    own CPU checks), ``mkldnn_bf16`` (oneDNN's bf16 kernels usable), and ``native``: bf16 runs faster than float32.

    Examples::

        >>> cpu_bf16_support()  # doctest: +SKIP
        {'avx512_bf16': False, 'amx_bf16': False, 'mkldnn_bf16': False, 'native': False}
    """
    flags = _cpu_flags()
    avx512_bf16 = "avx512_bf16" in flags or torch.cpu._is_avx512_bf16_supported()
    amx_bf16 = "amx_bf16" in flags or torch.cpu._is_amx_tile_supported()
    mkldnn_bf16 = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return {
        "avx512_bf16": bool(avx512_bf16),
        "amx_bf16": bool(amx_bf16),
        "mkldnn_bf16": bool(mkldnn_bf16),
        "native": bool(mkldnn_bf16 and (avx512_bf16 or amx_bf16)),
    }


def resolve_precision(precision: str, device: str | torch.device = "cpu") -> str:
    """``"fp32"`` or ``"bf16"``; ``"auto"`` picks bf16 where the device runs it natively (a CUDA device with bf16,
    a CPU with AVX512-BF16 or AMX) and fp32 otherwise."""
    precision = look_up_option(precision, PRECISIONS)
    if precision != "auto":
        return precision
    device = torch.device(device)
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_bf16_support()["native"] else "fp32"


def _fold_batch_norms(network: nn.Module) -> None:
    for path in _FOLDED:
        parent_name, _, name = path.rpartition(".")
        parent = network.get_submodule(parent_name) if parent_name else network
        module = getattr(parent, name)
        if any(isinstance(m, nn.BatchNorm2d) for m in module.modules()):  # not an onnxruntime encoder or identity
            setattr(parent, name, fuse(module, inplace=True))


class _Float32Block(nn.Module):
    """An NS block kept in float32 inside a bf16 network: inputs cast up, the output cast back to their dtype."""

    def __init__(self, block: NSBlock) -> None:
        super().__init__()
        self.block = block.float()

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return self.block(x.float(), None if context is None else context.float()).to(x.dtype)


def _to_bf16(module: nn.Module, args: tuple) -> tuple:
    return tuple(a.to(torch.bfloat16) if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)


def _to_float32(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
    return output.float()


def _keep_ns_blocks_float32(network: nn.Module) -> None:
    for name, module in list(network.named_modules()):
        if isinstance(module, NSBlock):
            parent_name, _, child = name.rpartition(".")
            parent = network.get_submodule(parent_name) if parent_name else network
            setattr(parent, child, _Float32Block(module))


def resolve_encoder(encoder: str, precision: str, device: str | torch.device = "cpu") -> str:
    """``"torch"``, ``"onnxruntime"`` or ``"onnxruntime-int8"``; ``"auto"`` picks onnxruntime (float32) for float32
    on the CPU when it is installed."""
    encoder = look_up_option(encoder, ENCODERS)
    if encoder == "auto":
        cpu_fp32 = torch.device(device).type == "cpu" and precision == "fp32"
        return "onnxruntime" if cpu_fp32 and has_onnxruntime else "torch"
    if encoder.startswith("onnxruntime") and (torch.device(device).type != "cpu" or precision != "fp32"):
        raise ValueError(f"encoder={encoder!r} runs on the CPU with precision='fp32' around it, got {precision=} on "
                         f"{device=}.")
    return encoder


def optimize_network(
    network: PNSBase,
    precision: str = "fp32",
    device: str | torch.device = "cpu",
    encoder: str = "auto",
    fold_batch_norm: bool = True,
    channels_last: bool = True,
    calibration: torch.Tensor | None = None,
) -> PNSBase:
    """The fastest equivalent of a trained PNSNet / PNSPlusNet for ``device`` and ``precision`` (see the module).

    The network is copied (the argument is left as it was) and put in eval mode; its ``forward`` keeps its signature:
    float32 (or any float) clips in, float32 logits out.

    Args:
        network: a trained :class:`~monai_pns.networks.PNSNet` or :class:`~monai_pns.networks.PNSPlusNet`.
        precision: ``"fp32"``, ``"bf16"`` or ``"auto"`` (see :func:`resolve_precision`).
        device: where the network will run.
        encoder: ``"torch"``, ``"onnxruntime"`` (CPU float32: the backbone and reducers exported to ONNX, a few
            seconds, and run by onnxruntime), ``"onnxruntime-int8"`` (the same, quantized to int8 on
            ``calibration``; the NS blocks and the decoder stay float32) or ``"auto"`` (see :func:`resolve_encoder`).
        fold_batch_norm: fold the batch norms into the convolutions.
        channels_last: put the 2-D convolution weights in ``channels_last`` memory format.
        calibration: for ``encoder="onnxruntime-int8"`` only, and needed there: (N, C, H, W) frames preprocessed as
            the network's inputs (a few dozen frames of the training set), on which the int8 ranges are measured.

    Examples::

        >>> fast = optimize_network(PNSNet().eval())
        >>> fast(torch.rand(1, 3, 5, 64, 112)).shape
        torch.Size([1, 1, 5, 64, 112])
    """
    if not isinstance(network, PNSBase):
        raise ValueError(f"network must be a PNSNet or PNSPlusNet, got {type(network).__name__}.")
    precision = resolve_precision(precision, device)
    encoder = resolve_encoder(encoder, precision, device)
    if (calibration is None) == (encoder == "onnxruntime-int8"):
        raise ValueError(f"calibration frames go with encoder='onnxruntime-int8' and only with it, got {encoder=} "
                         f"and calibration={None if calibration is None else tuple(calibration.shape)}.")
    net = copy.deepcopy(network).eval().to(device)
    if encoder.startswith("onnxruntime"):
        net.backbone = OnnxEncoder(net, calibration=calibration)  # returns [low, high], already reduced
        net.low_rfb, net.high_rfb = nn.Identity(), nn.Identity()
    if fold_batch_norm:
        _fold_batch_norms(net)
    if channels_last:
        for module in net.modules():
            if isinstance(module, nn.Conv2d):
                module.to(memory_format=torch.channels_last)
    if precision == "bf16":
        net.to(torch.bfloat16)
        _keep_ns_blocks_float32(net)
        net.register_forward_pre_hook(_to_bf16)
        net.register_forward_hook(_to_float32)
    return net
