"""PNS-Net and PNS+: video polyp segmentation with progressively normalized self-attention."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn as nn

from monai_pns.networks.blocks.light_rfb import LightRFB
from monai_pns.networks.blocks.ns_block import NSBlock
from monai_pns.networks.blocks.pns_decoder import PNSDecoder
from monai_pns.networks.layers.tracing import is_exporting
from monai_pns.networks.nets.official_weights import OFFICIAL_NORM_SHAPE, load_official_state_dict
from monai_pns.networks.nets.res2net import Res2Net
from monai_pns.networks.utils import clip_to_frames, frames_to_clip, resolve_state_dict

__all__ = ["PNSBase", "PNSNet", "PNSPlusNet"]

_STRIDE = 16


class PNSBase(nn.Module):
    """What PNS-Net and PNS+ share: their constructor arguments, the Res2Net-50 backbone, the two LightRFB reducers,
    the decoder, the settings of their NS blocks and the loading of released weights; subclasses add their NS
    blocks (built by ``_ns_block`` with the shared settings), ``forward`` and :meth:`refine`.

    Frames are processed channel-first: a clip (B, C, T, H, W) runs through the backbone as B*T images, the high
    feature is viewed as a clip (B, C', T, H/16, W/16) for the NS blocks and the decoder runs frame by frame again.
    H and W must be multiples of 16; the output is logits (apply a sigmoid for probabilities).

    Attributes:
        takes_anchor: whether the network's input starts with an anchor frame, the video's first frame, that the
            NS blocks attend from and that gets no prediction: (B, C, 1 + T, H, W) -> (B, out_channels, T, H, W).
            False for :class:`PNSNet`, True for :class:`PNSPlusNet`. A class attribute: the bundle configs
            (``anchor``: ``getattr(network_class, 'takes_anchor', False)``, False for networks without it, such as
            MONAI's) and the inference code read it to build the clips.

    Args:
        in_channels: image channels.
        out_channels: output channels (1 for binary polyp segmentation).
        num_groups: N, channel groups of every NS block.
        radius: NS window radius r (a (2r+1) x (2r+1) window per frame).
        low_channels: channels of the reduced stride-8 feature.
        high_channels: channels of the reduced stride-16 feature (the NS blocks' width).
        norm_shape: ``None`` for a size-agnostic query norm; ``(H/16, W/16)`` for the released size-bound LayerNorm
            (``(16, 28)`` for 256 x 448 clips, needed for released weights).
        use_norm: normalise the NS queries.
        soft_attention: gate the NS outputs by their soft-attention maps.
        softmax_aggregation: aggregate with softmax probabilities (the paper) instead of raw scores (the release).
        dropout: ``Dropout2d`` probability before the last conv.
        backbone_weights: optional Res2Net ImageNet weights (a path to, or state dict in the layout of,
            ``res2net50_v1b_26w_4s-3cf99910.pth``).
        zero_init: start every NS block's output projection at zero (see :class:`NSBlock`): a new network then
            computes its static model's function (every NS term zero, see the subclasses) and training on clips only
            has temporal context to add; loaded weights behave the same either way.

    Examples::

        >>> PNSNet.takes_anchor, PNSPlusNet.takes_anchor
        (False, True)
        >>> isinstance(PNSPlusNet(num_groups=2, global_dilations=(3, 4), local_dilations=(1, 2)), PNSBase)
        True
    """

    takes_anchor: bool = False
    _official_arch: str = ""

    def __init__(
        self,
        *,
        in_channels: int = 3,
        out_channels: int = 1,
        num_groups: int = 4,
        radius: int = 3,
        low_channels: int = 24,
        high_channels: int = 32,
        norm_shape: Sequence[int] | None = None,
        use_norm: bool = True,
        soft_attention: bool = True,
        softmax_aggregation: bool = False,
        dropout: float = 0.1,
        backbone_weights: str | os.PathLike | Mapping[str, torch.Tensor] | None = None,
        zero_init: bool = False,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.norm_shape = None if norm_shape is None else tuple(int(s) for s in norm_shape)
        self.backbone = Res2Net(in_channels=in_channels, layers=(3, 4, 6), weights=backbone_weights)
        self.high_rfb = LightRFB(self.backbone.out_channels[-1], high_channels)
        self.low_rfb = LightRFB(self.backbone.out_channels[-2], low_channels)
        self.decoder = PNSDecoder(low_channels, high_channels, out_channels, dropout=dropout)
        self._ns_options = dict(
            in_channels=high_channels,
            num_groups=num_groups,
            radius=radius,
            norm_shape=norm_shape,
            use_norm=use_norm,
            soft_attention=soft_attention,
            softmax_aggregation=softmax_aggregation,
            zero_init=zero_init,
        )

    def _ns_block(self, residual: bool, dilations: Sequence[int] | None = None) -> NSBlock:
        """A new NS block on the high feature with this network's NS settings (``dilations`` None: 1, 3, 5, ...)."""
        return NSBlock(**self._ns_options, dilations=dilations, residual=residual)

    def _check_input(self, x: torch.Tensor) -> None:
        """Raise a ValueError for an input the network cannot take; with :attr:`takes_anchor`, (B, C, 1 + T, H, W)
        with T >= 1."""
        ndims = (5,) if self.takes_anchor else (4, 5)
        layout = "(B, C, T, H, W)" if self.takes_anchor else "(B, C, H, W) or (B, C, T, H, W)"
        if x.ndim not in ndims:
            raise ValueError(f"{type(self).__name__} expects a {layout} input, got shape {tuple(x.shape)}.")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__} was built for {self.in_channels} channels, got {tuple(x.shape)}.")
        height, width = x.shape[-2:]
        if height % _STRIDE or width % _STRIDE:
            raise ValueError(f"input height and width must be multiples of {_STRIDE}, got {height}x{width}.")
        if x.ndim == 5 and self.norm_shape is not None and (height // _STRIDE, width // _STRIDE) != self.norm_shape:
            size = f"{self.norm_shape[0] * _STRIDE}x{self.norm_shape[1] * _STRIDE}"
            raise ValueError(
                f"this network's NS norm is bound to {size} inputs (norm_shape={self.norm_shape}), got "
                f"{height}x{width}; build it with norm_shape=None for any size."
            )
        if self.takes_anchor and x.shape[2] < 2:
            raise ValueError(
                f"{type(self).__name__} expects an anchor and at least one local frame, got {tuple(x.shape)}."
            )

    def encode(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Backbone and reducers, frame by frame: (N, C, H, W) -> low (N, low_channels, H/8, W/8) and
        high (N, high_channels, H/16, W/16)."""
        features = self.backbone(frames)
        return self.low_rfb(features[-2]), self.high_rfb(features[-1])

    def refine(self, clip: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """The NS part: high features of a clip (B, high_channels, T, h, w) -> the decoder's high input,
        (B, high_channels, T', h, w) for the output frames (T' = T for PNS-Net, T - 1 for PNS+), or for the last frame
        only with ``last_only`` (what streaming needs: the same values at a fraction of the cost)."""
        raise NotImplementedError

    @classmethod
    def from_official(cls, weights: str | os.PathLike | Mapping[str, torch.Tensor]):
        """Build the released configuration (NS norm bound to 256 x 448 inputs) and load a released checkpoint.

        Args:
            weights: a released checkpoint file (loaded with ``torch.load(..., weights_only=True)``) or its state dict,
                with or without the ``module.`` prefix and ``num_batches_tracked`` entries.

        Raises:
            ValueError: naming a file that is not a checkpoint; listing missing keys, unexpected keys (those of another
                architecture included) and mis-shaped keys.
        """
        state, source = resolve_state_dict(weights, what="released weights")
        model = cls(norm_shape=OFFICIAL_NORM_SHAPE)
        load_official_state_dict(model, state, cls._official_arch, source)
        return model


class PNSNet(PNSBase):
    """PNS-Net: Res2Net features, LightRFB reducers, progressive normalized self-attention and a light decoder.

    "Progressively Normalized Self-Attention Network for Video Polyp Segmentation", Ji et al., MICCAI 2021
    (https://arxiv.org/abs/2105.08468).

    A clip (B, C, T, H, W) runs through the Res2Net-50 backbone frame by frame; its stride-8 and stride-16 features
    are reduced to ``low_channels`` and ``high_channels`` by :class:`LightRFB`. The high feature h, viewed as a clip,
    goes through ``num_blocks`` NS blocks with residuals, h_k = NS_k(h_{k-1}) + h_{k-1}, and the decoder receives
    h + h_R (the RFB output enters twice, as in the released code). An image batch (B, C, H, W) takes the same path
    with every NS term at zero, so the decoder receives h + h: the static model of the pre-training phase, with the
    same parameter names, so phase-1 weights load into the video model unchanged. ``num_blocks=0`` gives that static
    model for clips too. With ``zero_init`` the NS blocks start with a zero output projection: the new video model
    then computes exactly its static model's function, and fine-tuning on clips only has temporal context to add.

    The output is logits; apply a sigmoid for probabilities. H and W must be multiples of 16. It takes no anchor
    frame (:attr:`~PNSBase.takes_anchor` False): every input frame gets a prediction.

    All rows of the paper's ablation (Table 2) are arguments: N = ``num_groups``, soft attention =
    ``soft_attention``, norm = ``use_norm``, R = ``num_blocks`` (row #1 is ``num_blocks=0``).

    Args:
        num_blocks: R, number of NS blocks (group i of each has dilation 2i + 1: 1, 3, 5, ...).
        kwargs: the arguments of :class:`PNSBase` (``in_channels``, ``out_channels``, ``num_groups``, ``radius``,
            ``low_channels``, ``high_channels``, ``norm_shape``, ``use_norm``, ``soft_attention``,
            ``softmax_aggregation``, ``dropout``, ``backbone_weights``, ``zero_init``), keywords only.

    Examples::

        >>> net = PNSNet()
        >>> net(torch.randn(1, 3, 5, 64, 112)).shape  # a clip
        torch.Size([1, 1, 5, 64, 112])
        >>> net(torch.randn(2, 3, 64, 112)).shape  # images: the static model
        torch.Size([2, 1, 64, 112])
        >>> released = PNSNet.from_official("PNS-Net.pth")  # doctest: +SKIP
    """

    _official_arch = "pnsnet"

    def __init__(self, *, num_blocks: int = 2, **kwargs: Any) -> None:
        if num_blocks < 0:
            raise ValueError(f"num_blocks must be >= 0, got {num_blocks=}.")
        super().__init__(**kwargs)
        self.ns_blocks = nn.ModuleList(self._ns_block(residual=True) for _ in range(num_blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        Args:
            x: a clip (B, in_channels, T, H, W) or images (B, in_channels, H, W); H and W multiples of 16.

        Returns:
            logits (B, out_channels, T, H, W) or (B, out_channels, H, W).
        """
        if not torch.jit.is_scripting() and not is_exporting():  # TorchScript compiles no check
            self._check_input(x)
        if x.ndim == 4:
            low, high = self.encode(x)
            return self.decoder(low, high + high, x.shape[2:])
        b = x.shape[0]
        low, high = self.encode(clip_to_frames(x))
        high = clip_to_frames(self.refine(frames_to_clip(high, b)))
        logits = self.decoder(low, high, x.shape[-2:])
        return frames_to_clip(logits, b)

    def refine(self, clip: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """h + h_R with h_k = NS_k(h_{k-1}) + h_{k-1}, h_0 = ``clip`` (B, C', T, h', w') (h + h without blocks); with
        ``last_only`` the last block computes its last query frame only (keys and values from every frame)."""
        if len(self.ns_blocks) == 0:
            h = clip[:, :, -1:] if last_only else clip
            return h + h
        refined = clip
        for i, block in enumerate(self.ns_blocks):
            if last_only and i == len(self.ns_blocks) - 1:
                refined = block(refined[:, :, -1:], context=refined)
            else:
                refined = block(refined)  # NS_k(h_{k-1}) + h_{k-1}
        return (clip[:, :, -1:] if last_only else clip) + refined


class PNSPlusNet(PNSBase):
    """PNS+: PNS-Net with a global NS block that attends from the video's first frame to the local clip.

    "Video Polyp Segmentation: A Deep Learning Perspective", Ji et al., Machine Intelligence Research 2022
    (https://arxiv.org/abs/2203.14291).

    The input holds an anchor frame (the video's first frame) followed by T local frames. Every frame runs through
    the backbone and the LightRFB reducers; with the anchor's high feature a and the local clip's l:
    h1 = NS_global(queries from a, keys and values from l) + l (broadcast over T; the released code repeats the
    anchor T times, which gives the same values), h2 = NS_local(h1) + h1, and the decoder receives h2 + l for the T
    local frames. The global block uses dilations ``global_dilations`` (3, 4, 3, 4), the local one
    ``local_dilations`` (1, 2, 1, 2), both radius 3. The output is logits for the local frames. With both NS terms at
    zero the decoder receives l + l, frame by frame: :class:`PNSNet`'s image path on the same weights.

    It takes an anchor frame (:attr:`~PNSBase.takes_anchor` True).

    Args:
        global_dilations: dilations of the global (anchor -> clip) block, one per group (``num_groups``).
        local_dilations: dilations of the local (clip -> clip) block, one per group.
        kwargs: the arguments of :class:`PNSBase`, keywords only; with ``zero_init`` a new network segments every
            local frame as :class:`PNSNet`'s image path would with the same backbone, reducers and decoder.

    Examples::

        >>> net = PNSPlusNet()
        >>> net(torch.randn(1, 3, 1 + 5, 64, 112)).shape  # anchor + 5 local frames
        torch.Size([1, 1, 5, 64, 112])
    """

    takes_anchor = True
    _official_arch = "pnsplus"

    def __init__(
        self,
        *,
        global_dilations: Sequence[int] = (3, 4, 3, 4),
        local_dilations: Sequence[int] = (1, 2, 1, 2),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # The global block's residual is the local clip, not its queries (the anchor): added in forward.
        self.ns_global = self._ns_block(residual=False, dilations=global_dilations)
        self.ns_local = self._ns_block(residual=True, dilations=local_dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        Args:
            x: (B, in_channels, 1 + T, H, W), frame 0 the anchor; H and W multiples of 16.

        Returns:
            logits (B, out_channels, T, H, W) for the T local frames.
        """
        if not torch.jit.is_scripting() and not is_exporting():  # TorchScript compiles no check
            self._check_input(x)
        b = x.shape[0]
        low, high = self.encode(clip_to_frames(x))
        refined = self.refine(frames_to_clip(high, b))  # (B, C', T, h', w') from (B, C', 1 + T, h', w')
        low = clip_to_frames(frames_to_clip(low, b)[:, :, 1:])
        logits = self.decoder(low, clip_to_frames(refined), x.shape[-2:])
        return frames_to_clip(logits, b)

    def refine(self, clip: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """h2 + l for the local frames l of ``clip`` (B, C', 1 + T, h', w'), anchor first; with ``last_only`` the
        local block computes its last query frame only."""
        anchor, local = clip[:, :, :1], clip[:, :, 1:]
        refined = self.ns_global(anchor, context=local) + local
        if last_only:
            return self.ns_local(refined[:, :, -1:], context=refined) + local[:, :, -1:]
        return self.ns_local(refined) + local
