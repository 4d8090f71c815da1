"""Time and peak memory of one NSBlock: monai_pns's formulation next to the plain unfold-and-einsum port.

    python benchmarks/ns_block.py [--repeats 10] [--device cpu|cuda] [--out benchmarks/results/ns_block.json]

Both run the same block (C=32, N=4, r=3, T=5, released configuration: raw-score aggregation, soft attention, size-
agnostic norm) on the same weights and input; the table gives the median time of the forward pass (inference, no
grad) and of forward+backward, and the peak memory allocated during each beyond what existed before the call (CPU:
the profiler's allocation timeline; CUDA: the caching allocator's peak).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from monai_pns.networks import NSBlock

CASES = {"paper (B=4, 16x28)": (4, 16, 28), "large (B=1, 64x112)": (1, 64, 112)}
CHANNELS, GROUPS, RADIUS, FRAMES = 32, 4, 3, 5


def _unfold(x: torch.Tensor, radius: int, dilation: int) -> torch.Tensor:
    b, c, t, h, w = x.shape
    size = 2 * radius + 1
    cols = F.unfold(x.transpose(1, 2).reshape(b * t, c, h, w), size, dilation=dilation, padding=radius * dilation)
    return cols.view(b, t, c, size * size, h, w).transpose(1, 2)


def unfold_forward(block: NSBlock, x: torch.Tensor) -> torch.Tensor:
    """The straightforward port: im2col copies of K and V, two einsums, a materialised softmax."""
    q = block._normalize_queries(block.query(x))
    k, v = block.key(x), block.value(x)
    outs, gates = [], []
    for qi, ki, vi, d in zip(q.chunk(GROUPS, 1), k.chunk(GROUPS, 1), v.chunk(GROUPS, 1), block.dilations):
        scores = torch.einsum("bcthw,bcsnhw->bsnthw", qi, _unfold(ki, block.radius, d)) * block.scale
        gates.append(scores.flatten(1, 2).softmax(dim=1).amax(dim=1, keepdim=True))
        outs.append(torch.einsum("bsnthw,bcsnhw->bcthw", scores, _unfold(vi, block.radius, d)))
    return block.out_proj(torch.cat(outs, 1)) * torch.cat(gates, 1).amax(dim=1, keepdim=True) + x


def _median_ms(fn: Callable[[], object], repeats: int, device: torch.device) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def _peak_mib(fn: Callable[[], object], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True, with_stack=True) as prof:
        fn()
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        path = os.path.join(folder, "timeline.json")
        prof.export_memory_timeline(path, device="cpu")
        with open(path) as f:
            _, sizes = json.load(f)
    return max(sum(s) for s in sizes) / 2**20


def run(repeats: int, device: torch.device) -> list[dict]:
    rows = []
    for case, (batch, height, width) in CASES.items():
        torch.manual_seed(0)
        block = NSBlock(CHANNELS, num_groups=GROUPS, radius=RADIUS).to(device)
        x = torch.randn(batch, CHANNELS, FRAMES, height, width, device=device, requires_grad=True)
        with torch.no_grad():
            diff = (block(x) - unfold_forward(block, x)).abs().max().item()
        for name, forward in (("monai_pns", block.forward), ("unfold+einsum", lambda t: unfold_forward(block, t))):

            def infer(forward=forward):
                with torch.no_grad():
                    return forward(x)

            def train(forward=forward):
                forward(x).square().mean().backward()

            rows.append(
                {
                    "case": case,
                    "implementation": name,
                    "forward_ms": _median_ms(infer, repeats, device),
                    "forward_backward_ms": _median_ms(train, repeats, device),
                    "forward_peak_mib": _peak_mib(infer, device),
                    "forward_backward_peak_mib": _peak_mib(train, device),
                    "max_abs_diff": diff,
                }
            )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "ns_block.json"))
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    rows = run(args.repeats, device)

    header = "| case | implementation | forward ms | fwd+bwd ms | forward peak MiB | fwd+bwd peak MiB |"
    print(header + "\n|" + "---|" * 6)
    for r in rows:
        print(
            f"| {r['case']} | {r['implementation']} | {r['forward_ms']:.1f} | {r['forward_backward_ms']:.1f} | "
            f"{r['forward_peak_mib']:.1f} | {r['forward_backward_peak_mib']:.1f} |"
        )
    print(f"max |monai_pns - unfold| = {max(r['max_abs_diff'] for r in rows):.2e}")
    meta = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads()}
    meta["repeats"] = args.repeats
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=2)
    os.replace(tmp, args.out)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
