"""LightRFB, the lightweight receptive-field block PNS-Net uses to reduce backbone features to a few channels."""

from __future__ import annotations

import torch
import torch.nn as nn
from monai.networks.blocks import Convolution

__all__ = ["LightRFB"]


def _conv_bn(
    in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1, depthwise: bool = False, act: bool = False
) -> Convolution:
    """Bias-free conv + batch norm (momentum 0.01) + optional single-parameter PReLU, "same" padding."""
    return Convolution(
        spatial_dims=2,
        in_channels=in_channels,
        out_channels=out_channels,
        kernel_size=kernel_size,
        dilation=dilation,
        groups=in_channels if depthwise else 1,
        bias=False,
        norm=("batch", {"momentum": 0.01}),
        act=("prelu", {}) if act else None,
    )


class LightRFB(nn.Module):
    """Lightweight receptive field block: channel re-weighting, four dilated depthwise branches and a 1x1 fusion.

    The channel reducer of PNS-Net ("Progressively Normalized Self-Attention Network for Video Polyp Segmentation",
    Ji et al., MICCAI 2021, https://arxiv.org/abs/2105.08468), built as the released code builds it:

    - squeeze-excitation of the input (global average pool, Linear C -> C/``reduction``, ReLU,
      Linear -> C, hard sigmoid), the input scaled channel-wise;
    - a 1x1 conv to ``mid_channels`` + batch norm + per-channel PReLU;
    - four branches on that: [1x1 (BN, PReLU), 3x3 depthwise], and for (k, d) in (3, 3), (5, 5), (7, 7):
      [k x k depthwise, 1x1 (BN, PReLU), 3x3 depthwise with dilation d], every conv followed by batch norm;
    - a 1x1 conv over the concatenation of the (unscaled) input and the four branches to ``out_channels``
      + batch norm + PReLU.

    The batch norms of the branches and of the fusion use momentum 0.01, the one after the reduction the default 0.1.

    Args:
        in_channels: input channels C.
        out_channels: output channels.
        mid_channels: channels of the branches.
        reduction: squeeze-excitation reduction ratio.

    Examples::

        >>> rfb = LightRFB(in_channels=1024, out_channels=32)
        >>> rfb(torch.randn(2, 1024, 16, 28)).shape
        torch.Size([2, 32, 16, 28])
    """

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int = 128, reduction: int = 4) -> None:
        super().__init__()
        if min(in_channels, out_channels, mid_channels) < 1 or not 1 <= reduction <= in_channels:
            raise ValueError(
                f"channels must be positive and 1 <= reduction <= in_channels, got {in_channels=}, {out_channels=}, "
                f"{mid_channels=}, {reduction=}."
            )
        squeezed = in_channels // reduction
        self.excitation = nn.Sequential(
            nn.Linear(in_channels, squeezed), nn.ReLU(inplace=True), nn.Linear(squeezed, in_channels), nn.Hardsigmoid()
        )
        self.reduce = Convolution(
            spatial_dims=2,
            in_channels=in_channels,
            out_channels=mid_channels,
            kernel_size=1,
            bias=False,
            norm="batch",
            act=("prelu", {"num_parameters": mid_channels}),
        )
        c = mid_channels
        branches = [nn.Sequential(_conv_bn(c, c, 1, act=True), _conv_bn(c, c, 3, depthwise=True))]
        for size in (3, 5, 7):
            branches.append(
                nn.Sequential(
                    _conv_bn(c, c, size, depthwise=True),
                    _conv_bn(c, c, 1, act=True),
                    _conv_bn(c, c, 3, dilation=size, depthwise=True),
                )
            )
        self.branches = nn.ModuleList(branches)
        self.fuse = _conv_bn(in_channels + len(branches) * c, out_channels, 1, act=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) -> (B, out_channels, H, W)."""
        weights = self.excitation(x.mean(dim=(2, 3)))
        reduced = self.reduce(x * weights[:, :, None, None])
        features = [x]
        for branch in self.branches:
            features.append(branch(reduced))
        return self.fuse(torch.cat(features, dim=1))
