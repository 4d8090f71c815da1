from __future__ import annotations

import itertools

import pytest
import torch

from monai_pns.networks.layers import ns_ops, relevance_measuring, spatial_temporal_aggregation

# (radius, dilation, Tq, Tk, H, W): Tq != Tk, windows wider than the map (r*d = 21 on 16x28), r = 0
CASES = [
    (1, 1, 2, 2, 5, 7),
    (2, 3, 1, 3, 6, 5),
    (3, 2, 3, 1, 4, 4),
    (3, 7, 2, 3, 16, 28),
    (0, 1, 2, 3, 3, 4),
]


def reference_relevance(query: torch.Tensor, key: torch.Tensor, radius: int, dilation: int) -> torch.Tensor:
    """Element-by-element loop over every query position and neighbour, in float64."""
    b, c, tq, h, w = query.shape
    tk, size = key.shape[2], 2 * radius + 1
    q, k = query.double().tolist(), key.double().tolist()
    out = torch.zeros(b, tk * size * size, tq, h, w, dtype=torch.float64)
    for bi, t, tt, ky, kx, y, x in itertools.product(
        range(b), range(tq), range(tk), range(size), range(size), range(h), range(w)
    ):
        ny, nx = y + (ky - radius) * dilation, x + (kx - radius) * dilation
        if 0 <= ny < h and 0 <= nx < w:
            n = tt * size * size + ky * size + kx
            out[bi, n, t, y, x] = sum(q[bi][ci][t][y][x] * k[bi][ci][tt][ny][nx] for ci in range(c))
    return out


def reference_aggregation(weight: torch.Tensor, value: torch.Tensor, radius: int, dilation: int) -> torch.Tensor:
    b, c, tk, h, w = value.shape
    tq, size = weight.shape[2], 2 * radius + 1
    wt, v = weight.double().tolist(), value.double().tolist()
    out = torch.zeros(b, c, tq, h, w, dtype=torch.float64)
    for bi, t, y, x in itertools.product(range(b), range(tq), range(h), range(w)):
        acc = [0.0] * c
        for tt, ky, kx in itertools.product(range(tk), range(size), range(size)):
            ny, nx = y + (ky - radius) * dilation, x + (kx - radius) * dilation
            if 0 <= ny < h and 0 <= nx < w:
                wn = wt[bi][tt * size * size + ky * size + kx][t][y][x]
                for ci in range(c):
                    acc[ci] += wn * v[bi][ci][tt][ny][nx]
        out[bi, :, t, y, x] = torch.tensor(acc, dtype=torch.float64)
    return out


def _inputs(radius, dilation, tq, tk, h, w, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(2, 3, tq, h, w, generator=g, dtype=dtype)
    key = torch.randn(2, 3, tk, h, w, generator=g, dtype=dtype)
    weight = torch.randn(2, tk * (2 * radius + 1) ** 2, tq, h, w, generator=g, dtype=dtype)
    return query, key, weight


@pytest.fixture(params=[False, True], ids=["eager", "export-formulation"])
def formulation(request, monkeypatch):
    """Run each case through the eager loop and through the stacked formulation used under torch.export/ONNX."""
    monkeypatch.setattr(ns_ops, "is_exporting", lambda: request.param)
    return request.param


@pytest.mark.parametrize("radius,dilation,tq,tk,h,w", CASES)
def test_relevance_matches_loop_reference(formulation, radius, dilation, tq, tk, h, w):
    query, key, _ = _inputs(radius, dilation, tq, tk, h, w)
    out = relevance_measuring(query, key, radius, dilation)
    assert out.shape == (2, tk * (2 * radius + 1) ** 2, tq, h, w)
    torch.testing.assert_close(out, reference_relevance(query, key, radius, dilation), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("radius,dilation,tq,tk,h,w", CASES)
def test_aggregation_matches_loop_reference(formulation, radius, dilation, tq, tk, h, w):
    _, value, weight = _inputs(radius, dilation, tq, tk, h, w)
    out = spatial_temporal_aggregation(weight, value, radius, dilation)
    assert out.shape == (2, 3, tq, h, w)
    torch.testing.assert_close(out, reference_aggregation(weight, value, radius, dilation), rtol=1e-12, atol=1e-12)


def test_non_contiguous_inputs():
    query, key, weight = _inputs(1, 2, 3, 2, 5, 6)
    weight_t = weight.transpose(3, 4).contiguous().transpose(3, 4)  # same values, other strides
    query_t = query.transpose(3, 4).contiguous().transpose(3, 4)
    assert not weight_t.is_contiguous() and not query_t.is_contiguous()
    expected = spatial_temporal_aggregation(weight, key, 1, 2)
    torch.testing.assert_close(spatial_temporal_aggregation(weight_t, key, 1, 2), expected)
    torch.testing.assert_close(relevance_measuring(query_t, key, 1, 2), relevance_measuring(query, key, 1, 2))


def test_out_of_frame_neighbours_score_exactly_zero():
    query, key = torch.ones(1, 2, 1, 2, 2), torch.ones(1, 2, 1, 2, 2)
    out = relevance_measuring(query, key, radius=1, dilation=2)  # only the centre offset stays inside a 2x2 map
    assert torch.equal(out[0, 4, 0], torch.full((2, 2), 2.0))
    assert torch.count_nonzero(out[0, [0, 1, 2, 3, 5, 6, 7, 8]]) == 0


@pytest.mark.parametrize("radius,dilation,tq,tk,h,w", [(1, 2, 2, 2, 4, 5), (2, 1, 1, 1, 3, 3), (1, 4, 2, 1, 3, 5)])
def test_gradcheck(radius, dilation, tq, tk, h, w):
    query, key, weight = _inputs(radius, dilation, tq, tk, h, w)
    query, key = (t[:1, :2].clone().requires_grad_() for t in (query, key))
    weight = weight[:1].clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda q, k: relevance_measuring(q, k, radius, dilation), (query, key))
    assert torch.autograd.gradcheck(lambda a, v: spatial_temporal_aggregation(a, v, radius, dilation), (weight, key))
    assert torch.autograd.gradgradcheck(lambda q, k: relevance_measuring(q, k, radius, dilation), (query, key))


def test_gradient_of_one_input_only():
    query, key, weight = _inputs(1, 1, 2, 2, 4, 5)
    key.requires_grad_()
    relevance_measuring(query, key, 1, 1).sum().backward()
    assert query.grad is None and key.grad is not None
    weight.requires_grad_()
    spatial_temporal_aggregation(weight, query, 1, 1).square().sum().backward()
    assert weight.grad is not None and weight.grad.shape == weight.shape


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.bfloat16, 5e-2)])
def test_low_precision_dtypes(dtype, tol):
    query, key, weight = _inputs(3, 3, 2, 3, 8, 10)
    q, k, wt = (t.to(dtype).requires_grad_() for t in (query, key, weight))
    affinity = relevance_measuring(q, k, 3, 3)
    aggregated = spatial_temporal_aggregation(wt, k, 3, 3)
    assert affinity.dtype == aggregated.dtype == dtype
    ref_affinity = relevance_measuring(q.detach().double(), k.detach().double(), 3, 3)
    ref_aggregated = spatial_temporal_aggregation(wt.detach().double(), k.detach().double(), 3, 3)
    torch.testing.assert_close(affinity.double(), ref_affinity, rtol=tol, atol=tol * 10)
    torch.testing.assert_close(aggregated.double(), ref_aggregated, rtol=tol, atol=tol * 30)
    (affinity.float().sum() + aggregated.float().sum()).backward()
    assert q.grad.dtype == dtype and torch.isfinite(q.grad.float()).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    query, key, weight = (t.float() for t in _inputs(3, 5, 2, 3, 16, 28))
    for op, args in ((relevance_measuring, (query, key)), (spatial_temporal_aggregation, (weight, key))):
        cpu = op(*args, 3, 5)
        gpu = op(*(a.cuda() for a in args), 3, 5)
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: relevance_measuring(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 4), 1, 1), "must be 5-D"),
        (lambda: relevance_measuring(torch.zeros(1, 2, 1, 4, 4), torch.zeros(1, 3, 1, 4, 4), 1, 1), "share B, C, H, W"),
        (lambda: relevance_measuring(torch.zeros(1, 2, 1, 4, 4), torch.zeros(1, 2, 1, 4, 4), -1, 1), "radius=-1"),
        (lambda: relevance_measuring(torch.zeros(1, 2, 1, 4, 4), torch.zeros(1, 2, 1, 4, 4), 1, 0), "dilation=0"),
        (
            lambda: spatial_temporal_aggregation(torch.zeros(1, 8, 1, 4, 4), torch.zeros(1, 2, 1, 4, 4), 1, 1),
            r"\(B, 1\*9, Tq, H, W\)",
        ),
        (
            lambda: relevance_measuring(torch.zeros(1, 2, 1, 4, 4), torch.zeros(1, 2, 3, 4, 4).half(), 1, 1),
            r"query, key must share one device and one dtype, got query=\(1, 2, 1, 4, 4\) torch.float32 on cpu, "
            r"key=\(1, 2, 3, 4, 4\) torch.float16 on cpu",
        ),
        (
            lambda: spatial_temporal_aggregation(torch.zeros(1, 9, 2, 4, 4).double(), torch.zeros(1, 2, 1, 4, 4), 1, 1),
            r"weight=\(1, 9, 2, 4, 4\) torch.float64 on cpu, value=\(1, 2, 1, 4, 4\) torch.float32",
        ),
    ],
)
def test_ill_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()
