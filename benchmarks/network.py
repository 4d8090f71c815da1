"""CPU inference benchmark of PNS-Net: video mode vs static mode vs MONAI's BasicUNet, eager PyTorch and onnxruntime.

For one clip of ``--frames`` frames at ``--height`` x ``--width`` (5 x 256 x 448 by default) it measures, each case in
a fresh process: the median wall time per clip over ``--repeats`` runs (after one warm-up), frames per second, the peak
resident memory of the process during the warm-up and timed runs, and the part of it added by inference (that peak
minus the resident memory before the first run, which holds the model and the input). FLOPs are counted
with ``torch.utils.flop_counter.FlopCounterMode`` (convolutions, matrix products; the NS window loops are elementwise
and not counted, so the video count is a lower bound) and compared with this CPU's measured fp32 matmul peak.

Target: PNSNet video / static time <= 1.10, measured on one model whose two modes are timed alternately in one
process (so that the load of a shared machine hits both alike); the ratio of the separate rows is reported too.

Usage::

    python benchmarks/network.py --repeats 5            # writes benchmarks/results/network.json
    python benchmarks/network.py --repeats 3 --no-onnx --out /tmp/network.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]

CASES = ("pnsnet_video", "pnsnet_static", "basic_unet", "pnsnet_video_onnx", "pnsnet_static_onnx")
LABELS = {
    "pnsnet_video": "PNSNet video (NS blocks), eager",
    "pnsnet_static": "PNSNet static (same frames), eager",
    "basic_unet": "MONAI BasicUNet (same frames), eager",
    "pnsnet_video_onnx": "PNSNet video, onnxruntime",
    "pnsnet_static_onnx": "PNSNet static, onnxruntime",
}


def _build(case: str, frames: int, height: int, width: int) -> tuple[torch.nn.Module, torch.Tensor]:
    from monai.networks.nets import BasicUNet

    from monai_pns.networks import PNSNet

    torch.manual_seed(0)
    if case == "basic_unet":
        return BasicUNet(spatial_dims=2, in_channels=3, out_channels=1).eval(), torch.rand(frames, 3, height, width)
    norm_shape = (height // 16, width // 16)  # the released, size-bound configuration
    net = PNSNet(norm_shape=norm_shape).eval()
    if case.startswith("pnsnet_video"):
        return net, torch.rand(1, 3, frames, height, width)
    return net, torch.rand(frames, 3, height, width)


def _status_kib(field: str) -> int:
    """A memory field of /proc/self/status (VmRSS: resident now, VmHWM: peak resident), in KiB."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def _reset_peak_rss() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so that the peak covers the timed runs only."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _run_case(case: str, args: argparse.Namespace, queue: mp.Queue) -> None:
    torch.set_num_threads(args.threads)
    net, x = _build(case, args.frames, args.height, args.width)
    if case.endswith("_onnx"):
        import onnxruntime as ort

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.onnx")
            start = time.perf_counter()
            torch.onnx.export(net, (x,), path, dynamo=False, input_names=["x"], output_names=["logits"])
            export_s = time.perf_counter() - start
            options = ort.SessionOptions()
            options.intra_op_num_threads = args.threads
            session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        feed = {"x": x.numpy()}

        def run():
            session.run(None, feed)

    else:
        export_s = None

        def run():
            with torch.inference_mode():
                net(x)

    before = _status_kib("VmRSS")
    _reset_peak_rss()
    run()  # warm-up
    times = [_timed(run) for _ in range(args.repeats)]
    peak = _status_kib("VmHWM")
    queue.put(
        {
            "times_s": times,
            "peak_rss_mib": peak / 1024,
            "inference_mib": max(peak - before, 0) / 1024,
            "export_s": export_s,
        }
    )


def _run_interleaved(args: argparse.Namespace, queue: mp.Queue) -> None:
    """Video and static mode of one PNSNet, timed alternately in one process: load changes hit both alike."""
    torch.set_num_threads(args.threads)
    net, clip = _build("pnsnet_video", args.frames, args.height, args.width)
    frames = clip[0].transpose(0, 1).contiguous()  # the same frames as an image batch
    times: dict[str, list[float]] = {"video": [], "static": []}
    with torch.inference_mode():
        net(clip), net(frames)  # warm-up
        for _ in range(args.repeats):
            for mode, x in (("video", clip), ("static", frames)):
                times[mode].append(_timed(lambda: net(x)))
    queue.put(times)


def _measure(case: str, args: argparse.Namespace) -> dict:
    context = mp.get_context("spawn")
    queue = context.Queue()
    if case == "interleaved":
        process = context.Process(target=_run_interleaved, args=(args, queue))
    else:
        process = context.Process(target=_run_case, args=(case, args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def _count_flops(case: str, args: argparse.Namespace) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    net, x = _build(case, args.frames, args.height, args.width)
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        net(x)
    return counter.get_total_flops()


def _matmul_peak_gflops(threads: int, size: int = 2048, repeats: int = 10) -> float:
    torch.set_num_threads(threads)
    a, b = torch.rand(size, size), torch.rand(size, size)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case (after one warm-up)")
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=448)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="intra-op threads")
    parser.add_argument("--no-onnx", action="store_true", help="skip the onnxruntime cases")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "network.json")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.frames < 1 or args.height % 16 or args.width % 16:
        parser.error("--repeats and --frames must be >= 1, --height and --width multiples of 16")

    load_before = os.getloadavg()
    peak = _matmul_peak_gflops(args.threads)
    cases = [c for c in CASES if not (args.no_onnx and c.endswith("_onnx"))]
    flops = {c: _count_flops(c, args) for c in ("pnsnet_video", "pnsnet_static", "basic_unet")}
    flops.update({f"{c}_onnx": flops[c] for c in ("pnsnet_video", "pnsnet_static")})
    rows = {}
    for case in cases:
        result = _measure(case, args)
        median = statistics.median(result["times_s"])
        rows[case] = {
            "label": LABELS[case],
            "median_s": median,
            "min_s": min(result["times_s"]),
            "fps": args.frames / median,
            "gflop": flops[case] / 1e9,
            "fraction_of_matmul_peak": flops[case] / median / 1e9 / peak,
            "peak_rss_mib": result["peak_rss_mib"],
            "inference_mib": result["inference_mib"],
            "export_s": result["export_s"],
            "times_s": result["times_s"],
        }
    interleaved = _measure("interleaved", args)
    ratio = statistics.median(interleaved["video"]) / statistics.median(interleaved["static"])
    report = {
        "clip": {"frames": args.frames, "height": args.height, "width": args.width},
        "repeats": args.repeats,
        "threads": args.threads,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "matmul_peak_gflops": peak,
        "video_static_ratio": ratio,
        "video_static_ratio_separate_processes": rows["pnsnet_video"]["median_s"] / rows["pnsnet_static"]["median_s"],
        "interleaved_times_s": interleaved,
        "video_static_target": 1.10,
        "rows": rows,
    }
    print(_table(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2))
    os.replace(tmp, args.out)
    print(f"\nwritten: {args.out}")
    return report


def _table(report: dict) -> str:
    clip = report["clip"]
    lines = [
        f"CPU inference, one {clip['frames']}-frame {clip['height']}x{clip['width']} clip, {report['threads']} threads,"
        " "
        f"median of {report['repeats']}; fp32 matmul peak {report['matmul_peak_gflops']:.0f} GFLOP/s; load average "
        f"{report['load_average_before'][0]:.2f} -> {report['load_average_after'][0]:.2f}",
        "",
        "| model | time / clip (s) | frames / s | GFLOP / clip | % of matmul peak | peak RSS (MiB) "
        "| inference RSS (MiB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in report["rows"].values():
        lines.append(
            f"| {row['label']} | {row['median_s']:.3f} | {row['fps']:.1f} | {row['gflop']:.1f} | "
            f"{100 * row['fraction_of_matmul_peak']:.0f} | {row['peak_rss_mib']:.0f} | "
            f"{row['inference_mib']:.0f} |"
        )
    verdict = "meets" if report["video_static_ratio"] <= report["video_static_target"] else "misses"
    lines += [
        "",
        f"video / static time ratio: {report['video_static_ratio']:.3f} ({verdict} the <= 1.10 target; same model, "
        f"modes timed alternately in one process; {report['video_static_ratio_separate_processes']:.3f} from the rows "
        "above)",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
