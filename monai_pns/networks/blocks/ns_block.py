from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from monai_pns.networks.layers.ns_ops import (
    check_same_device_and_dtype,
    relevance_measuring,
    spatial_temporal_aggregation,
)
from monai_pns.networks.layers.tracing import is_exporting
from monai_pns.networks.utils import clip_to_frames, frames_to_clip

__all__ = ["NSBlock", "ns_parameter_groups"]


def _max_softmax(scores: torch.Tensor) -> torch.Tensor:
    """The largest softmax probability over dim 1, exp(max - logsumexp), without materialising the softmax."""
    return torch.exp(scores.amax(dim=1, keepdim=True) - scores.logsumexp(dim=1, keepdim=True))


class NSBlock(nn.Module):
    """Normalized self-attention block of PNS-Net.

    "Progressively Normalized Self-Attention Network for Video Polyp Segmentation", Ji et al., MICCAI 2021
    (https://arxiv.org/abs/2105.08468), section 2.1.

    Queries come from ``x``; keys and values from ``context`` when given (the PNS+ global block, whose queries are the
    anchor frame) and from ``x`` otherwise. The C channels are split into ``num_groups`` groups; group i attends to a
    (2r+1) x (2r+1) window with dilation ``dilations[i]`` in every key frame (see
    :func:`~monai_pns.networks.layers.relevance_measuring`). The block computes::

        A_i = relevance(Norm(Q_i) / sqrt(C / N), K_i)           # (B, Tk*(2r+1)^2, Tq, H, W) per group
        Y   = W_T(concat_i aggregate(A_i or softmax(A_i), V_i))  # (B, C, Tq, H, W)
        M_S = max over groups and neighbours of softmax(A_i)    # (B, 1, Tq, H, W)
        out = Y * M_S (+ x)

    The released PNS-Net code aggregates with the scaled scores ``A_i`` (``softmax_aggregation=False``, the default,
    needed to reuse released weights); the paper aggregates with their softmax (``softmax_aggregation=True``).
    Out-of-frame neighbours score 0 and take part in the softmax, as in the released code.

    Args:
        in_channels: C, the number of channels of ``x`` (and of ``context``).
        num_groups: N, the number of channel groups (attention heads); must divide ``in_channels``.
        radius: r, the window radius ("k" in the paper).
        dilations: one dilation per group; defaults to 1, 3, 5, ... (2i + 1).
        norm_shape: ``None`` normalises each group's queries over (C/N, H, W) for every (clip, frame) with a
            per-channel affine, for any input size (a GroupNorm applied frame by frame). ``(h, w)`` uses the released
            size-bound LayerNorm with a (C/N, h, w) affine shared by all groups; the input must then be h x w.
        use_norm: normalise the queries (False removes the norm, an ablation of the paper's Table 2).
        soft_attention: multiply the output by the soft-attention map M_S (False drops it, an ablation).
        softmax_aggregation: aggregate the values with the softmax probabilities instead of the raw scaled scores.
        residual: add ``x`` to the output (paper eq. 7). The released network adds it outside the block.
        zero_init: start the output projection W_T at zero, so that the block first returns 0 (``x`` with
            ``residual``) and learns its attention from there (the zero-initialised last layer of non-local blocks,
            Wang et al. 2018, and of ControlNet's zero convolutions); the queries, keys and values get gradients
            from the first step that moves W_T. Only the initial weights change: loaded weights behave the same.

    Examples::

        >>> block = NSBlock(in_channels=32, num_groups=4, radius=3)
        >>> block(torch.randn(2, 32, 5, 16, 28)).shape
        torch.Size([2, 32, 5, 16, 28])
        >>> anchor, clip = torch.randn(2, 32, 1, 16, 28), torch.randn(2, 32, 5, 16, 28)
        >>> block(anchor, context=clip).shape  # queries from the anchor, keys and values from the clip
        torch.Size([2, 32, 1, 16, 28])
    """

    def __init__(
        self,
        in_channels: int,
        num_groups: int = 4,
        radius: int = 3,
        dilations: Sequence[int] | None = None,
        norm_shape: Sequence[int] | None = None,
        use_norm: bool = True,
        soft_attention: bool = True,
        softmax_aggregation: bool = False,
        residual: bool = True,
        zero_init: bool = False,
    ) -> None:
        super().__init__()
        if num_groups < 1 or in_channels % num_groups != 0:
            raise ValueError(f"in_channels must be divisible by num_groups, got {in_channels=} and {num_groups=}.")
        if radius < 0:
            raise ValueError(f"radius must be >= 0, got {radius=}.")
        dilations = tuple(range(1, 2 * num_groups, 2)) if dilations is None else tuple(int(d) for d in dilations)
        if len(dilations) != num_groups:
            raise ValueError(f"dilations must give one value per group ({num_groups=}), got {dilations=}.")
        if min(dilations) < 1:
            raise ValueError(f"dilations must be >= 1, got {dilations=}.")
        if norm_shape is not None and len(norm_shape) != 2:
            raise ValueError(f"norm_shape must be (h, w) or None, got {norm_shape=}.")

        self.in_channels = in_channels
        self.num_groups = num_groups
        self.radius = radius
        self.dilations = dilations
        self.norm_shape = None if norm_shape is None else (int(norm_shape[0]), int(norm_shape[1]))
        self.soft_attention = soft_attention
        self.softmax_aggregation = softmax_aggregation
        self.residual = residual
        self.scale = (in_channels // num_groups) ** -0.5

        self.query = nn.Conv3d(in_channels, in_channels, kernel_size=1, bias=False)
        self.key = nn.Conv3d(in_channels, in_channels, kernel_size=1, bias=False)
        self.value = nn.Conv3d(in_channels, in_channels, kernel_size=1, bias=False)
        self.out_proj = nn.Conv3d(in_channels, in_channels, kernel_size=1, bias=False)
        if zero_init:
            nn.init.zeros_(self.out_proj.weight)
        self.norm: nn.Module | None = None
        if use_norm and self.norm_shape is None:
            self.norm = nn.GroupNorm(num_groups, in_channels)
        elif use_norm:
            self.norm = nn.LayerNorm((in_channels // num_groups, *self.norm_shape))

    def _check_input(self, x: torch.Tensor, context: torch.Tensor | None) -> None:
        if x.ndim != 5:
            raise ValueError(f"NSBlock expects a 5-D input (B, C, T, H, W), got shape {tuple(x.shape)}.")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"NSBlock was built for {self.in_channels} channels, got input {tuple(x.shape)}.")
        if self.norm_shape is not None and tuple(x.shape[3:]) != self.norm_shape:
            raise ValueError(
                f"NSBlock was built with norm_shape={self.norm_shape} (a size-bound LayerNorm), got input spatial size "
                f"{tuple(x.shape[3:])}; use norm_shape=None for a size-agnostic norm."
            )
        if context is not None and (
            context.ndim != 5 or context.shape[:2] != x.shape[:2] or context.shape[3:] != x.shape[3:]
        ):
            raise ValueError(
                f"context must be (B, C, Tk, H, W) with the B, C, H, W of x {tuple(x.shape)}, "
                f"got {tuple(context.shape)}."
            )
        if context is not None:
            check_same_device_and_dtype(x=x, context=context)

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, num_groups={self.num_groups}, radius={self.radius}, "
            f"dilations={self.dilations}, norm_shape={self.norm_shape}, soft_attention={self.soft_attention}, "
            f"softmax_aggregation={self.softmax_aggregation}, residual={self.residual}"
        )

    def _normalize_queries(self, q: torch.Tensor) -> torch.Tensor:
        """Normalise each group's queries over (C/N, H, W) per (clip, frame); q is (B, C, T, H, W)."""
        if self.norm is None:
            return q
        b, c, t, h, w = q.shape
        if self.norm_shape is None:  # the GroupNorm
            return frames_to_clip(self.norm(clip_to_frames(q)), b)
        groups = q.view(b, self.num_groups, c // self.num_groups, t, h, w).transpose(2, 3)  # (B, N, T, C/N, H, W)
        return self.norm(groups).transpose(2, 3).reshape(b, c, t, h, w)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """
        Args:
            x: (B, C, Tq, H, W), the features the queries come from.
            context: optional (B, C, Tk, H, W) features for the keys and values; ``x`` when None.

        Returns:
            (B, C, Tq, H, W).
        """
        if not torch.jit.is_scripting() and not is_exporting():  # TorchScript compiles no check
            self._check_input(x, context)
        source = x if context is None else context
        keys, values = self.key(source), self.value(source)
        # the ops take one dtype; under autocast the norm may return float32 next to low-precision keys
        queries = (self._normalize_queries(self.query(x)) * self.scale).to(keys.dtype)

        aggregated: list[torch.Tensor] = []
        gates: list[torch.Tensor] = []
        groups = queries.chunk(self.num_groups, 1), keys.chunk(self.num_groups, 1), values.chunk(self.num_groups, 1)
        for i, dilation in enumerate(self.dilations):  # TorchScript cannot zip lists with a tuple
            q, k, v = groups[0][i], groups[1][i], groups[2][i]
            scores = relevance_measuring(q, k, self.radius, dilation)  # (B, Tk*(2r+1)^2, Tq, H, W)
            probs = scores.softmax(dim=1) if self.softmax_aggregation else None
            weights = scores if probs is None else probs
            aggregated.append(spatial_temporal_aggregation(weights.to(v.dtype), v, self.radius, dilation))
            if self.soft_attention:
                gates.append(_max_softmax(scores) if probs is None else probs.amax(dim=1, keepdim=True))

        out = self.out_proj(torch.cat(aggregated, dim=1))
        if self.soft_attention:
            out = out * torch.stack(gates).amax(dim=0)
        return out + x if self.residual else out


def ns_parameter_groups(network: nn.Module, lr: float, ns_lr_multiplier: float = 1.0) -> list[dict]:
    """Optimizer parameter groups of ``network``: the parameters of its :class:`NSBlock` modules at
    ``lr * ns_lr_multiplier``, all others at ``lr`` (one group when it has no NS block).

    With ``zero_init`` NS blocks a fine-tuning run starts from the network without them; at the backbone's learning
    rate their output projection stays small for hundreds of steps, and a larger step for them alone lets the
    attention grow without moving the rest faster.

    Examples::

        >>> torch.optim.Adam(ns_parameter_groups(PNSNet(zero_init=True), lr=1e-4, ns_lr_multiplier=10))
    """
    ns_params = {id(p) for m in network.modules() if isinstance(m, NSBlock) for p in m.parameters()}
    groups = [{"params": [p for p in network.parameters() if id(p) not in ns_params], "lr": lr}]
    if ns_params:
        groups.append({"params": [p for p in network.parameters() if id(p) in ns_params], "lr": lr * ns_lr_multiplier})
    return groups
