"""Inferers for MONAI engines: mixed precision on every device (an autocasting inferer and the default ``amp``
choice), and frame-by-frame inference of clips through a network's image path."""

from __future__ import annotations

from typing import Any

import torch
from monai.inferers import SimpleInferer

__all__ = ["AutocastInferer", "FrameWiseInferer", "amp_supported"]


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


class FrameWiseInferer(AutocastInferer):
    """``AutocastInferer`` that runs every frame of a clip alone through the network's image path.

    A clip batch (B, C, T, H, W) is folded into the image batch (B*T, C, H, W), the network predicts
    (B*T, C', H', W') and the result is unfolded to (B, C', T, H', W'); an image batch (B, C, H, W) goes to the
    network as it is. This runs a 2-D network (MONAI's ``UNet`` or ``BasicUNet`` with ``spatial_dims=2``) on clips,
    in training and evaluation alike, and gives the static prediction of a network that has an image path of its
    own (``PNSNet``: backbone and decoder, the NS blocks skipped), with its checkpoints loaded unchanged. No frame
    sees another.

    Args:
        device_type, dtype, enabled: autocast settings, as in :class:`AutocastInferer`.

    Examples::

        >>> inferer = FrameWiseInferer(enabled=False)
        >>> unet = monai.networks.nets.BasicUNet(spatial_dims=2, in_channels=3, out_channels=1)
        >>> inferer(torch.rand(2, 3, 5, 64, 112), unet).shape
        torch.Size([2, 1, 5, 64, 112])
    """

    def __call__(self, inputs: torch.Tensor, network: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        if inputs.ndim == 4:
            return super().__call__(inputs, network, *args, **kwargs)
        if inputs.ndim != 5:
            raise ValueError(
                f"{type(self).__name__} expects (B, C, H, W) images or (B, C, T, H, W) clips, got shape "
                f"{tuple(inputs.shape)}."
            )
        b, c, t = inputs.shape[:3]
        frames = inputs.transpose(1, 2).reshape(b * t, c, *inputs.shape[3:])
        out = super().__call__(frames, network, *args, **kwargs)
        return out.reshape(b, t, *out.shape[1:]).transpose(1, 2)
