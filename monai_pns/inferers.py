"""Mixed precision for MONAI engines on every device: an autocasting inferer and the default ``amp`` choice."""

from __future__ import annotations

from typing import Any

import torch
from monai.inferers import SimpleInferer

__all__ = ["AutocastInferer", "amp_supported"]


def amp_supported(device: str | torch.device) -> bool:
    """Whether mixed precision is worth turning on for ``device``: always on CUDA (MONAI's fp16 ``amp``), on a CPU
    only where oneDNN has native bf16 kernels (AVX-512 bf16 or AMX); elsewhere bf16 is emulated and slower."""
    device = torch.device(device)
    if device.type == "cuda":
        return True
    return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


class AutocastInferer(SimpleInferer):
    """``SimpleInferer`` that runs the network under ``torch.autocast`` and returns float32 outputs.

    MONAI's engines autocast only on CUDA (``amp=True``); this inferer gives a ``SupervisedTrainer`` or
    ``SupervisedEvaluator`` bf16 mixed precision on the CPU. The loss is computed in float32 on the returned output;
    gradients flow through the autocast graph as usual. With ``enabled=False`` it is a ``SimpleInferer``.

    Args:
        device_type: ``"cpu"`` or ``"cuda"``.
        dtype: the autocast dtype (bf16 on the CPU).
        enabled: autocast on or off.

    Examples::

        >>> inferer = AutocastInferer("cpu", enabled=amp_supported("cpu"))
        >>> logits = inferer(torch.rand(1, 3, 5, 64, 112), PNSNet())  # (1, 1, 5, 64, 112) float32
    """

    def __init__(self, device_type: str = "cpu", dtype: torch.dtype = torch.bfloat16, enabled: bool = True) -> None:
        super().__init__()
        self.device_type = device_type
        self.dtype = dtype
        self.enabled = enabled

    def __call__(self, inputs: torch.Tensor, network: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        with torch.autocast(self.device_type, dtype=self.dtype, enabled=self.enabled):
            out = super().__call__(inputs, network, *args, **kwargs)
        return out.float() if self.enabled else out
