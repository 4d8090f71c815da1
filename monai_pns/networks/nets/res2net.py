"""Res2Net-50 v1b (26w x 4s) feature extractor, the backbone of PNS-Net, and its MONAI FlexibleUNet encoder.

Importing this module registers :class:`Res2NetEncoder` under the name ``"res2net50_v1b_26w_4s"`` in MONAI's
``monai.networks.nets.FLEXUNET_BACKBONE`` registry (one dictionary entry, re-registering is idempotent); nothing else
global is touched. ``import monai_pns.networks`` imports it, so afterwards
``FlexibleUNet(in_channels=3, out_channels=1, backbone="res2net50_v1b_26w_4s")`` works.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn
from monai.networks.blocks import BaseEncoder
from monai.networks.nets.flexible_unet import FLEXUNET_BACKBONE

from monai_pns.networks.utils import load_state_dict_checked, resolve_state_dict

__all__ = ["Res2NetBottleneck", "Res2Net", "Res2NetEncoder", "load_res2net_weights"]

_STAGE_PLANES = (64, 128, 256, 512)


class Res2NetBottleneck(nn.Module):
    """Res2Net bottleneck: a 1x1 conv, ``scale`` hierarchical 3x3 convs over channel splits, a 1x1 conv, a shortcut.

    "Res2Net: A New Multi-scale Backbone Architecture", Gao et al., TPAMI 2021 (https://arxiv.org/abs/1904.01169).

    The first block of a stage (``stage_start=True``) convolves every split independently, average-pools the last
    split (3x3, the block's stride) and has a projection shortcut: a ``stride`` x ``stride`` average pool (the "v1b"
    variant, ceil mode, padding excluded) then a 1x1 conv and batch norm. The other blocks feed each split the output
    of the previous one and pass the last split through unchanged.

    Args:
        in_channels: input channels.
        planes: bottleneck planes; the block outputs ``4 * planes`` channels.
        stride: spatial stride of the 3x3 convs (and of the shortcut); only a stage start may use stride > 1.
        base_width: width of one split for ``planes=64`` ("26w").
        scale: number of splits ("4s"), at least 2.
        stage_start: build the first block of a stage.

    Examples::

        >>> block = Res2NetBottleneck(64, 64, stage_start=True)
        >>> block(torch.randn(2, 64, 32, 32)).shape
        torch.Size([2, 256, 32, 32])
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        base_width: int = 26,
        scale: int = 4,
        stage_start: bool = False,
    ) -> None:
        super().__init__()
        if scale < 2:
            raise ValueError(f"scale must be >= 2, got {scale=}.")
        out_channels = planes * self.expansion
        if not stage_start and (stride != 1 or in_channels != out_channels):
            raise ValueError(
                f"only a stage start may change the stride or width, got {stride=}, {in_channels=}, {planes=}."
            )
        self.width = planes * base_width // 64
        self.stage_start = stage_start
        self.conv1 = nn.Conv2d(in_channels, self.width * scale, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(self.width * scale)
        self.convs = nn.ModuleList(
            nn.Conv2d(self.width, self.width, kernel_size=3, stride=stride, padding=1, bias=False)
            for _ in range(scale - 1)
        )
        self.bns = nn.ModuleList(nn.BatchNorm2d(self.width) for _ in range(scale - 1))
        self.pool = nn.AvgPool2d(kernel_size=3, stride=stride, padding=1) if stage_start else nn.Identity()
        self.conv3 = nn.Conv2d(self.width * scale, out_channels, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.act = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stage_start:
            self.downsample = nn.Sequential(
                nn.AvgPool2d(kernel_size=stride, stride=stride, ceil_mode=True, count_include_pad=False),
                nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) -> (B, 4 * planes, H / stride, W / stride)."""
        splits = torch.split(self.act(self.bn1(self.conv1(x))), self.width, dim=1)
        outputs: list[torch.Tensor] = []
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            branch = splits[i] if i == 0 or self.stage_start else outputs[-1] + splits[i]
            outputs.append(self.act(bn(conv(branch))))
        outputs.append(self.pool(splits[-1]))
        out = self.bn3(self.conv3(torch.cat(outputs, dim=1)))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.act(out + shortcut)


class Res2Net(nn.Module):
    """Res2Net v1b feature extractor (deep stem, average-pool shortcuts), without the ImageNet classifier.

    "Res2Net: A New Multi-scale Backbone Architecture", Gao et al., TPAMI 2021 (https://arxiv.org/abs/1904.01169).
    The default is Res2Net-50 v1b 26w x 4s. The stem is three 3x3 convs (in_channels -> 32 -> 32 -> 64, the first with
    stride 2, batch norm and ReLU after each) and a 3x3 max pool; the stages have strides 1, 2, 2, 2.

    ``forward`` returns the stem output (stride 2, 64 channels) then every stage output (strides 4, 8, 16, 32;
    256, 512, 1024, 2048 channels), for as many stages as ``layers`` lists: PNS-Net builds only three stages and
    uses the stride-8 and stride-16 features. Parameter names follow the released ImageNet checkpoint
    (``conv1.0.weight``, ``layer1.0.convs.0.weight``, ...), so :func:`load_res2net_weights` loads it unchanged.

    Args:
        in_channels: input image channels.
        layers: blocks per stage, 1 to 4 stages; ``(3, 4, 6, 3)`` is Res2Net-50.
        base_width: width of one split in the first stage ("26w").
        scale: number of splits per block ("4s").
        weights: optional path to (or state dict of) ImageNet weights in the layout of
            ``res2net50_v1b_26w_4s-3cf99910.pth``; see :func:`load_res2net_weights`.

    Examples::

        >>> backbone = Res2Net(layers=(3, 4, 6))
        >>> [f.shape[1:] for f in backbone(torch.randn(1, 3, 64, 112))]
        [torch.Size([64, 32, 56]), torch.Size([256, 16, 28]), torch.Size([512, 8, 14]), torch.Size([1024, 4, 7])]
    """

    def __init__(
        self,
        in_channels: int = 3,
        layers: Sequence[int] = (3, 4, 6, 3),
        base_width: int = 26,
        scale: int = 4,
        weights: str | os.PathLike | Mapping[str, torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        if not 1 <= len(layers) <= len(_STAGE_PLANES) or min(layers) < 1:
            raise ValueError(f"layers must list 1 to 4 positive block counts, got {layers=}.")
        self.conv1 = nn.Sequential(
            nn.Conv2d(in_channels, 32, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 32, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, kernel_size=3, padding=1, bias=False),
        )
        self.bn1 = nn.BatchNorm2d(64)
        self.act = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.stage_names = tuple(f"layer{i + 1}" for i in range(len(layers)))
        self.out_channels = (64, *(planes * Res2NetBottleneck.expansion for planes in _STAGE_PLANES[: len(layers)]))
        channels = 64
        for i, (name, num_blocks) in enumerate(zip(self.stage_names, layers)):
            planes = _STAGE_PLANES[i]
            blocks = [Res2NetBottleneck(channels, planes, 1 if i == 0 else 2, base_width, scale, stage_start=True)]
            channels = planes * Res2NetBottleneck.expansion
            blocks += [Res2NetBottleneck(channels, planes, 1, base_width, scale) for _ in range(num_blocks - 1)]
            self.add_module(name, nn.Sequential(*blocks))

        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if weights is not None:
            load_res2net_weights(self, weights)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """
        Args:
            x: (B, in_channels, H, W).

        Returns:
            the stem output (B, 64, H/2, W/2) then one (B, C_i, H/2^(i+2), W/2^(i+2)) tensor per stage
            (sizes rounded up).
        """
        x = self.act(self.bn1(self.conv1(x)))
        features = [x]
        x = self.maxpool(x)
        for name, stage in self.named_children():  # not getattr(self, name): TorchScript unrolls this loop
            if name in self.stage_names:
                x = stage(x)
                features.append(x)
        return features


def load_res2net_weights(backbone: Res2Net, weights: str | os.PathLike | Mapping[str, torch.Tensor]) -> None:
    """Load ImageNet weights in the layout of ``res2net50_v1b_26w_4s-3cf99910.pth`` into ``backbone``.

    The classifier (``fc.*``) and the stages ``backbone`` does not build (e.g. ``layer4.*`` for PNS-Net's three-stage
    backbone) are ignored; every other key must match, with or without ``num_batches_tracked`` entries.

    Args:
        backbone: the network to load into.
        weights: a file loaded with ``torch.load(..., weights_only=True)``, or a state dict.

    Raises:
        ValueError: naming a file that is not a checkpoint, or the missing, unexpected or mis-shaped keys (and the
            file).
    """
    weights, source = resolve_state_dict(weights, what="Res2Net weights")
    unused = ("fc.", *(f"layer{i}." for i in range(len(backbone.stage_names) + 1, len(_STAGE_PLANES) + 1)))
    state = {k: v for k, v in weights.items() if not k.startswith(unused)}
    load_state_dict_checked(backbone, state, source)


class Res2NetEncoder(Res2Net, BaseEncoder):
    """Res2Net-50 v1b 26w x 4s as a MONAI FlexibleUNet encoder: five features at strides 2, 4, 8, 16, 32.

    Registered as ``"res2net50_v1b_26w_4s"`` in ``monai.networks.nets.FLEXUNET_BACKBONE`` when this module is imported.

    Args:
        spatial_dims: must be 2.
        in_channels: input image channels.
        pretrained: ``False``, or a path to a local ``res2net50_v1b_26w_4s-3cf99910.pth`` file (nothing is
            downloaded; ``True`` is rejected).

    Examples::

        >>> import monai_pns.networks  # registers the backbone
        >>> from monai.networks.nets import FlexibleUNet
        >>> net = FlexibleUNet(in_channels=3, out_channels=1, backbone="res2net50_v1b_26w_4s")
        >>> net(torch.randn(1, 3, 64, 64)).shape
        torch.Size([1, 1, 64, 64])
    """

    backbone_names = ["res2net50_v1b_26w_4s"]

    def __init__(
        self, spatial_dims: int = 2, in_channels: int = 3, pretrained: bool | str | os.PathLike = False
    ) -> None:
        if spatial_dims != 2:
            raise ValueError(f"Res2Net is a 2-D backbone, got {spatial_dims=}.")
        if pretrained is True:
            raise ValueError(
                "pretrained=True would need a download; pass the path of a local res2net50_v1b_26w_4s-3cf99910.pth."
            )
        super().__init__(in_channels=in_channels, layers=(3, 4, 6, 3), weights=pretrained or None)

    @classmethod
    def get_encoder_parameters(cls) -> list[dict]:
        return [{"spatial_dims": 2, "in_channels": 3, "pretrained": False}]

    @classmethod
    def num_channels_per_output(cls) -> list[tuple[int, ...]]:
        return [(64, 256, 512, 1024, 2048)]

    @classmethod
    def num_outputs(cls) -> list[int]:
        return [5]

    @classmethod
    def get_encoder_names(cls) -> list[str]:
        return cls.backbone_names


FLEXUNET_BACKBONE.register_class(Res2NetEncoder)
