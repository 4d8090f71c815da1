"""The decoder of PNS-Net: fuses the refined stride-16 feature with the stride-8 feature and predicts logits."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from monai.networks.blocks import Convolution

__all__ = ["PNSDecoder"]


class PNSDecoder(nn.Module):
    """Two-level decoder of PNS-Net, applied frame by frame.

    "Progressively Normalized Self-Attention Network for Video Polyp Segmentation", Ji et al., MICCAI 2021
    (https://arxiv.org/abs/2105.08468). As in the released code:

    - high path: bilinear upsampling (``align_corners=False``) of the high feature to the low feature's size,
      a 1x1 conv to ``mid_channels``, the two halves through parallel 3x3 convs (dilation 1 and 2), concatenated,
      batch norm;
    - low path: a 1x1 conv to ``mid_channels`` + batch norm;
    - their sum, per-channel PReLU, a 3x3 conv + batch norm + PReLU;
    - ``Dropout2d``, a bias-free 1x1 conv to ``out_channels`` and bilinear upsampling to the output size.

    The output is logits (no sigmoid). All convolutions are bias-free.

    Args:
        low_channels: channels of the low (stride 8) feature.
        high_channels: channels of the high (stride 16) feature.
        out_channels: output channels (1 for binary segmentation).
        mid_channels: channels inside the decoder.
        dropout: ``Dropout2d`` probability before the last conv.

    Examples::

        >>> decoder = PNSDecoder(low_channels=24, high_channels=32)
        >>> low, high = torch.randn(5, 24, 32, 56), torch.randn(5, 32, 16, 28)
        >>> decoder(low, high, (256, 448)).shape
        torch.Size([5, 1, 256, 448])
    """

    def __init__(
        self, low_channels: int = 24, high_channels: int = 32, out_channels: int = 1, mid_channels: int = 16,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if min(low_channels, high_channels, out_channels) < 1 or mid_channels < 2:
            raise ValueError(
                f"channels must be positive (mid_channels >= 2), got {low_channels=}, {high_channels=}, "
                f"{out_channels=}, {mid_channels=}."
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout=}.")
        first = (mid_channels + 1) // 2
        self.split = (first, mid_channels - first)
        self.high_reduce = nn.Conv2d(high_channels, mid_channels, kernel_size=1, bias=False)
        self.high_convs = nn.ModuleList(
            nn.Conv2d(c, c, kernel_size=3, padding=d, dilation=d, bias=False) for c, d in zip(self.split, (1, 2))
        )
        self.high_norm = nn.BatchNorm2d(mid_channels)
        self.low_reduce = nn.Conv2d(low_channels, mid_channels, kernel_size=1, bias=False)
        self.low_norm = nn.BatchNorm2d(mid_channels)
        self.act = nn.PReLU(mid_channels)
        self.refine = Convolution(
            spatial_dims=2, in_channels=mid_channels, out_channels=mid_channels, kernel_size=3, bias=False,
            norm="batch", act=("prelu", {}),
        )
        self.dropout = nn.Dropout2d(dropout)
        self.head = nn.Conv2d(mid_channels, out_channels, kernel_size=1, bias=False)

    def forward(self, low: torch.Tensor, high: torch.Tensor, size: list[int]) -> torch.Tensor:
        """
        Args:
            low: (B, low_channels, h, w), the stride-8 feature.
            high: (B, high_channels, h', w'), the stride-16 feature (upsampled to h x w here).
            size: (H, W), the output size.

        Returns:
            logits (B, out_channels, H, W).
        """
        high = F.interpolate(high, size=low.shape[2:], mode="bilinear", align_corners=False)
        halves = torch.split(self.high_reduce(high), self.split, dim=1)
        convolved: list[torch.Tensor] = []
        for i, conv in enumerate(self.high_convs):  # TorchScript cannot zip a ModuleList with a list
            convolved.append(conv(halves[i]))
        high = self.high_norm(torch.cat(convolved, dim=1))
        fused = self.refine(self.act(high + self.low_norm(self.low_reduce(low))))
        logits = self.head(self.dropout(fused))
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
