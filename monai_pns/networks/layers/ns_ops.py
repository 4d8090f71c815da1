"""The two neighbourhood operations of the normalized self-attention (NS) block, in pure PyTorch.

Both work on channel-first clips (B, C, T, H, W) and a dilated (2r+1) x (2r+1) spatial window that spans every key
frame. Affinities are laid out (B, Tk * (2r+1)^2, Tq, H, W): entry ``n = t' * (2r+1)^2 + ky * (2r+1) + kx`` of query
position (t, y, x) pairs it with key position (t', y + (ky - r) * d, x + (kx - r) * d). A neighbour outside the frame
has a score of exactly 0 and contributes nothing to an aggregation; it is not masked out.

The formulation loops over the (2r+1)^2 window offsets and, for each one, multiplies the overlapping rectangles of the
two maps. Nothing bigger than the affinity itself is ever held: the working set of one step is O(B*C*Tq*Tk*H*W), no
unfolded (C x Tk*(2r+1)^2 x H x W) copy of the key or value is built, and the backward pass (a custom autograd
Function whose gradients are the same three loops) keeps only its inputs. Offsets whose window lies entirely outside
the map (when r*d >= H or W) are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from monai_pns.networks.layers.tracing import is_exporting

__all__ = ["check_same_device_and_dtype", "relevance_measuring", "spatial_temporal_aggregation"]

_Rect = tuple[slice, slice]


def _window_offsets(height: int, width: int, radius: int, dilation: int) -> Iterator[tuple[int, _Rect, _Rect]]:
    """Yield ``(n, query_rect, key_rect)`` for every window offset that overlaps the map.

    ``n`` is the offset's index ky * (2r+1) + kx; the two rectangles select the query positions whose neighbour is
    inside the map and those neighbours, so that ``key[..., key_rect]`` is ``query[..., query_rect]`` shifted by the
    offset.
    """
    size = 2 * radius + 1
    for ky in range(size):
        dy = (ky - radius) * dilation
        if abs(dy) >= height:
            continue
        for kx in range(size):
            dx = (kx - radius) * dilation
            if abs(dx) >= width:
                continue
            q_rect = (slice(max(0, -dy), height - max(0, dy)), slice(max(0, -dx), width - max(0, dx)))
            k_rect = (slice(max(0, dy), height - max(0, -dy)), slice(max(0, dx), width - max(0, -dx)))
            yield ky * size + kx, q_rect, k_rect


def _relevance(query: torch.Tensor, key: torch.Tensor, radius: int, dilation: int) -> torch.Tensor:
    """(B, C, Tq, H, W), (B, C, Tk, H, W) -> (B, Tk * (2r+1)^2, Tq, H, W)."""
    b, _, tq, h, w = query.shape
    tk, window = key.shape[2], (2 * radius + 1) ** 2
    out = query.new_zeros(b, tk, window, tq, h, w)
    query = query.unsqueeze(2)  # (B, C, 1, Tq, H, W)
    key = key.unsqueeze(3)  # (B, C, Tk, 1, H, W)
    for n, (qy, qx), (ky, kx) in _window_offsets(h, w, radius, dilation):
        out[:, :, n, :, qy, qx] = (query[..., qy, qx] * key[..., ky, kx]).sum(1)
    return out.view(b, tk * window, tq, h, w)


def _aggregation(weight: torch.Tensor, value: torch.Tensor, radius: int, dilation: int) -> torch.Tensor:
    """(B, Tk * (2r+1)^2, Tq, H, W), (B, C, Tk, H, W) -> (B, C, Tq, H, W)."""
    b, c, tk, h, w = value.shape
    tq = weight.shape[2]
    weight = weight.reshape(b, 1, tk, -1, tq, h, w)  # (B, 1, Tk, window, Tq, H, W)
    value = value.unsqueeze(3)  # (B, C, Tk, 1, H, W)
    out = value.new_zeros(b, c, tq, h, w)
    for n, (qy, qx), (ky, kx) in _window_offsets(h, w, radius, dilation):
        out[..., qy, qx] += (weight[:, :, :, n, :, qy, qx] * value[..., ky, kx]).sum(2)
    return out


def _scatter(weight: torch.Tensor, source: torch.Tensor, radius: int, dilation: int) -> torch.Tensor:
    """Adjoint of both ops with respect to their key/value.

    (B, Tk * (2r+1)^2, Tq, H, W), (B, C, Tq, H, W) -> (B, C, Tk, H, W):

    ``out[b, c, t', y', x'] = sum over (t, n) of weight[b, t' n, t, y, x] * source[b, c, t, y, x]`` where (y', x') is
    the n-th neighbour of (y, x).
    """
    b, c, tq, h, w = source.shape
    window = (2 * radius + 1) ** 2
    tk = weight.shape[1] // window
    weight = weight.reshape(b, 1, tk, window, tq, h, w)
    source = source.unsqueeze(2)  # (B, C, 1, Tq, H, W)
    out = source.new_zeros(b, c, tk, h, w)
    for n, (qy, qx), (ky, kx) in _window_offsets(h, w, radius, dilation):
        out[..., ky, kx] += (weight[:, :, :, n, :, qy, qx] * source[..., qy, qx]).sum(3)
    return out


def _neighbourhood(x: torch.Tensor, radius: int, dilation: int) -> torch.Tensor:
    """(B, C, T, H, W) -> (B, C, T, (2r+1)^2, H, W): every position's zero-padded dilated window, stacked.

    The export formulation: a handful of graph nodes (pad, slices, one stack) instead of an in-place loop.
    """
    h, w = x.shape[3:]
    size, pad = 2 * radius + 1, radius * dilation
    padded = F.pad(x, (pad, pad, pad, pad))
    windows: list[torch.Tensor] = []
    for ky in range(size):
        for kx in range(size):
            dy, dx = ky * dilation, kx * dilation
            windows.append(padded[..., dy : dy + h, dx : dx + w])
    return torch.stack(windows, dim=3)


def _exported_relevance(query: torch.Tensor, key: torch.Tensor, radius: int, dilation: int) -> torch.Tensor:
    """:func:`relevance_measuring` in the export formulation (one einsum over :func:`_neighbourhood`)."""
    scores = torch.einsum("bcthw,bcsnhw->bsnthw", query, _neighbourhood(key, radius, dilation))
    return scores.flatten(1, 2)


def _exported_aggregation(weight: torch.Tensor, value: torch.Tensor, radius: int, dilation: int) -> torch.Tensor:
    """:func:`spatial_temporal_aggregation` in the export formulation (one einsum over :func:`_neighbourhood`)."""
    size = 2 * radius + 1  # not (2r+1) ** 2: a float in TorchScript
    weight = weight.unflatten(1, (value.shape[2], size * size))
    return torch.einsum("bsnthw,bcsnhw->bcthw", weight, _neighbourhood(value, radius, dilation))


class _RelevanceFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, query, key, radius, dilation):  # type: ignore[override]
        ctx.save_for_backward(query, key)
        ctx.window = (radius, dilation)
        return _relevance(query, key, radius, dilation)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        query, key = ctx.saved_tensors
        grad_query = _aggregation(grad, key, *ctx.window) if ctx.needs_input_grad[0] else None
        grad_key = _scatter(grad, query, *ctx.window) if ctx.needs_input_grad[1] else None
        return grad_query, grad_key, None, None


class _AggregationFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weight, value, radius, dilation):  # type: ignore[override]
        ctx.save_for_backward(weight, value)
        ctx.window = (radius, dilation)
        return _aggregation(weight, value, radius, dilation)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        weight, value = ctx.saved_tensors
        grad_weight = _relevance(grad, value, *ctx.window) if ctx.needs_input_grad[0] else None
        grad_value = _scatter(weight, grad, *ctx.window) if ctx.needs_input_grad[1] else None
        return grad_weight, grad_value, None, None


def _check_window(radius: int, dilation: int) -> None:
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius=}.")
    if dilation < 1:
        raise ValueError(f"dilation must be >= 1, got {dilation=}.")


def check_same_device_and_dtype(**tensors: torch.Tensor) -> None:
    """Raise one ValueError showing every tensor's shape, dtype and device unless they share one device and dtype.

    The NS operations and :class:`~monai_pns.networks.blocks.NSBlock` call it with their operands by name, e.g.
    ``check_same_device_and_dtype(query=q, key=k)``.
    """
    if len({t.device for t in tensors.values()}) > 1 or len({t.dtype for t in tensors.values()}) > 1:
        shown = ", ".join(f"{name}={tuple(t.shape)} {t.dtype} on {t.device}" for name, t in tensors.items())
        raise ValueError(f"{', '.join(tensors)} must share one device and one dtype, got {shown}.")


def _needs_grad(*tensors: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def relevance_measuring(query: torch.Tensor, key: torch.Tensor, radius: int, dilation: int) -> torch.Tensor:
    """Dot products of every query position with its dilated spatial-temporal neighbourhood in ``key``.

    Args:
        query: (B, C, Tq, H, W).
        key: (B, C, Tk, H, W), the same B, C, H, W as ``query``.
        radius: r, the window is (2r+1) x (2r+1) positions in each of the Tk key frames.
        dilation: d, the spacing of the window positions.

    Returns:
        affinity (B, Tk * (2r+1)^2, Tq, H, W); entry ``t' * (2r+1)^2 + ky * (2r+1) + kx`` is the dot product over C of
        ``query[:, :, t, y, x]`` and ``key[:, :, t', y + (ky - r) * d, x + (kx - r) * d]``, 0 when that neighbour is
        outside the frame. No scaling is applied.

    Examples::

        >>> q, k = torch.randn(2, 8, 5, 16, 28), torch.randn(2, 8, 5, 16, 28)
        >>> relevance_measuring(q, k, radius=3, dilation=1).shape
        torch.Size([2, 245, 5, 16, 28])
    """
    if torch.jit.is_scripting():  # TorchScript compiles this branch alone: the export formulation, unchecked
        return _exported_relevance(query, key, radius, dilation)
    _check_window(radius, dilation)
    if query.ndim != 5 or key.ndim != 5:
        raise ValueError(f"query and key must be 5-D (B, C, T, H, W), got {tuple(query.shape)} and {tuple(key.shape)}.")
    if query.shape[:2] != key.shape[:2] or query.shape[3:] != key.shape[3:]:
        raise ValueError(
            f"query and key must share B, C, H, W, got query {tuple(query.shape)} and key {tuple(key.shape)}."
        )
    check_same_device_and_dtype(query=query, key=key)
    if is_exporting():
        return _exported_relevance(query, key, radius, dilation)
    if _needs_grad(query, key):
        return _RelevanceFunction.apply(query, key, radius, dilation)
    return _relevance(query, key, radius, dilation)


def spatial_temporal_aggregation(weight: torch.Tensor, value: torch.Tensor, radius: int, dilation: int) -> torch.Tensor:
    """Weighted sum of every query position's dilated spatial-temporal neighbourhood in ``value``.

    The adjoint layout of :func:`relevance_measuring`: ``weight`` holds one weight per neighbour in the same order.

    Args:
        weight: (B, Tk * (2r+1)^2, Tq, H, W).
        value: (B, C, Tk, H, W), the same B, H, W as ``weight``.
        radius: r, as in :func:`relevance_measuring`.
        dilation: d, as in :func:`relevance_measuring`.

    Returns:
        (B, C, Tq, H, W): ``sum over (t', ky, kx)`` of weight times the neighbour's value, out-of-frame values being 0.

    Examples::

        >>> w, v = torch.randn(2, 245, 5, 16, 28), torch.randn(2, 8, 5, 16, 28)
        >>> spatial_temporal_aggregation(w, v, radius=3, dilation=1).shape
        torch.Size([2, 8, 5, 16, 28])
    """
    if torch.jit.is_scripting():  # TorchScript compiles this branch alone: the export formulation, unchecked
        return _exported_aggregation(weight, value, radius, dilation)
    _check_window(radius, dilation)
    if weight.ndim != 5 or value.ndim != 5:
        raise ValueError(
            f"weight and value must be 5-D, got weight {tuple(weight.shape)} and value {tuple(value.shape)}."
        )
    window = (2 * radius + 1) ** 2
    expected = (value.shape[0], value.shape[2] * window, *value.shape[3:])
    if (weight.shape[0], weight.shape[1], *weight.shape[3:]) != expected:
        raise ValueError(
            f"weight must be (B, Tk*(2r+1)^2, Tq, H, W) = (B, {value.shape[2]}*{window}, Tq, H, W) for value "
            f"{tuple(value.shape)} and radius={radius}, got weight {tuple(weight.shape)}."
        )
    check_same_device_and_dtype(weight=weight, value=value)
    if is_exporting():
        return _exported_aggregation(weight, value, radius, dilation)
    if _needs_grad(weight, value):
        return _AggregationFunction.apply(weight, value, radius, dilation)
    return _aggregation(weight, value, radius, dilation)
