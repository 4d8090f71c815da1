"""Inference benchmark: eager PyTorch vs the fast path vs onnxruntime, streaming latency, decode + model + write,
and (with a trained checkpoint) the six paper metrics of each path on the synthetic test set.

One process, one run: the model-alone cases are timed in interleaved rounds (each round runs every case once), so
that the load of a shared machine hits them alike, and every ratio compares cases of the same rounds.

1. model alone: one ``--frames``-frame ``--height`` x ``--width`` clip through PNSNet (random weights, or the
   checkpoint's): eager float32, the fast path with each encoder (torch: batch norms folded + channels_last;
   onnxruntime; onnxruntime int8, calibrated on 32 frames of the synthetic training videos, as ``--precision int8``
   calibrates), the bf16 fast path where the CPU runs bf16 natively, and the whole clip model in onnxruntime;
2. streaming: :class:`~monai_pns.inference.StreamingPredictor` latency per frame (window full) over the clip latency
   of the same network (target <= 0.35);
3. end to end: a generated mp4 through :func:`~monai_pns.inference.run_inference` (decode, resize, model, masks,
   overlay video), frames per second; the int8 path twice, decoding and writing in the model's thread and then
   overlapped with it (the default);
4. accuracy (``--checkpoint``): the synthetic test set segmented by each path, scored by ``monai_pns.evaluation``.

Usage::

    python benchmarks/inference.py --repeats 5                     # writes benchmarks/results/inference.json
    python benchmarks/inference.py --checkpoint model.pt --accuracy-size 128 224
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from monai_pns.data import probability_to_uint8, synthetic_datalist
from monai_pns.evaluation import PAPER_COLUMNS, evaluate_predictions
from monai_pns.inference import (
    OnnxClipModel,
    StreamingPredictor,
    VideoPredictor,
    calibration_frames,
    cpu_bf16_support,
    frame_preprocessing,
    load_network,
    open_sources,
    optimize_network,
    run_inference,
)
from monai_pns.inference.onnx_backend import has_onnxruntime
from monai_pns.networks import PNSNet
from monai_pns.utils import check_output_file, run_cli, write_atomic

ROOT = Path(__file__).resolve().parents[1]
PAPER_METRICS = PAPER_COLUMNS["matlab"]


def _calibration_frames(size: tuple[int, int]) -> torch.Tensor:
    """The int8 calibration of ``python -m monai_pns.infer --precision int8 --calibration <training datalist>``:
    every fifth frame of the synthetic training videos, 32 in all, preprocessed as network inputs."""
    return calibration_frames(open_sources(synthetic_datalist(), datalist_key="training"), frame_preprocessing(size))


def _paths(network: torch.nn.Module, clip_shape: tuple[int, ...], bf16: bool) -> tuple[dict, dict[str, float]]:
    """name -> (label, callable clip model), and name -> setup seconds (the int8 encoder's includes calibration)."""
    paths: dict[str, tuple[str, object]] = {"eager": ("eager float32", network)}
    builders = {"fast_torch": ("fast path fp32, torch encoder (BN folded, channels_last)",
                               lambda: optimize_network(network, "fp32", encoder="torch"))}
    if has_onnxruntime:
        builders["fast_onnxruntime"] = ("fast path fp32, onnxruntime encoder (the CPU default)",
                                        lambda: optimize_network(network, "fp32", encoder="onnxruntime"))
        builders["fast_int8"] = ("fast path, onnxruntime int8 encoder", lambda: optimize_network(
            network, "fp32", encoder="onnxruntime-int8", calibration=_calibration_frames(clip_shape[-2:])))
    if bf16:
        builders["fast_bf16"] = ("fast path bf16", lambda: optimize_network(network, "bf16"))
    if has_onnxruntime:
        builders["onnxruntime"] = ("whole clip model in onnxruntime", lambda: OnnxClipModel(network, clip_shape))
    setup = {}
    for name, (label, build) in builders.items():
        start = time.perf_counter()
        paths[name] = (label, build())
        setup[name] = time.perf_counter() - start
    return paths, setup


def _model_alone(paths: dict, clip: torch.Tensor, repeats: int) -> dict[str, dict]:
    with torch.inference_mode():
        reference = torch.sigmoid(paths["eager"][1](clip))
        diffs = {name: float((torch.sigmoid(model(clip).float()) - reference).abs().max()) for name, (_, model) in
                 paths.items()}
        times: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(repeats):
            for name, (_, model) in paths.items():
                start = time.perf_counter()
                model(clip)
                times[name].append(time.perf_counter() - start)
    eager = statistics.median(times["eager"])
    return {
        name: {
            "label": paths[name][0], "median_s": statistics.median(t), "min_s": min(t), "times_s": t,
            "fps": clip.shape[2] / statistics.median(t), "speedup": eager / statistics.median(t),
            "max_probability_difference": diffs[name],
        }
        for name, t in times.items()
    }


def _streaming(network, size: tuple[int, int], clip_length: int, repeats: int) -> dict[str, float]:
    """Median per-frame latency with a full window, and the latency of the whole clip, in alternate calls."""
    stream = StreamingPredictor(network, spatial_size=size, clip_length=clip_length)
    frames = [np.random.default_rng(i).integers(0, 256, (*size, 3), dtype=np.uint8) for i in range(clip_length)]
    clip = torch.rand(1, 3, clip_length, *size)
    for frame in frames:  # fill the window
        stream(frame)
    per_frame, per_clip = [], []
    with torch.inference_mode():
        for i in range(max(repeats, clip_length)):
            start = time.perf_counter()
            stream(frames[i % clip_length])
            per_frame.append(time.perf_counter() - start)
            start = time.perf_counter()
            network(clip)
            per_clip.append(time.perf_counter() - start)
    frame_s, clip_s = statistics.median(per_frame), statistics.median(per_clip)
    return {"frame_s": frame_s, "clip_s": clip_s, "ratio": frame_s / clip_s}


def _end_to_end(ckpt: Path, work: Path, frames: int, size: tuple[int, int], model_size: tuple[int, int]) -> dict:
    video = work / "video.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 25, (size[1], size[0]))
    rng = np.random.default_rng(0)
    for i in range(frames):
        frame = np.full((*size, 3), 60, np.uint8)
        cv2.circle(frame, (size[1] // 3 + 2 * i, size[0] // 2), size[0] // 6, (60, 90, 200), -1)
        writer.write(np.clip(frame + rng.integers(0, 20, frame.shape), 0, 255).astype(np.uint8))
    writer.release()
    out = {}
    runs = [("eager", False, "auto", True), ("fast", True, "auto", True)]
    if has_onnxruntime:  # the fastest path with decoding and writing in the model's thread, then overlapped
        runs += [("fast_int8_one_thread", True, "int8", False), ("fast_int8", True, "int8", True)]
    for name, fast, precision, overlap in runs:  # int8 calibrated on the video itself, as the command line does
        [summary] = run_inference(ckpt, video, work / name, spatial_size=model_size, precision=precision, fast=fast,
                                  device="cpu" if precision == "int8" else None, progress=False, overlap=overlap)
        out[name] = {"frames": summary["frames"], "seconds": summary["seconds"], "fps": summary["fps"]}
    return out


def _accuracy(network, spatial_size: tuple[int, int], work: Path, paths: dict) -> dict[str, dict[str, float]]:
    """Six paper metrics of each path on the synthetic test set (predictions at the frames' size)."""
    datalist = synthetic_datalist()
    roots = []
    for name, (_, model) in paths.items():
        predictor = VideoPredictor(model, spatial_size, clip_length=5)
        root = work / "predictions" / name
        for source in open_sources(datalist, datalist_key="test"):
            for p in predictor(source):
                path = root / source.case / f"{p.name}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(path), probability_to_uint8(p.probability))
        roots.append(str(root))
    gt_root = Path(datalist).parent  # the set's root, in the pnsnet layout
    summary = evaluate_predictions(roots, work / "evaluation", layout="pnsnet", gt_root=gt_root)
    return {
        model: {k: v for set_values in summary["results"][model].values() for k, v in set_values.items()
                if k in PAPER_METRICS}
        for model in summary["results"]
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (after one warm-up)")
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=448)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="intra-op threads")
    parser.add_argument("--checkpoint", type=Path, default=None, help="a trained checkpoint (else random weights)")
    parser.add_argument("--accuracy-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                        help="with --checkpoint: score every path on the synthetic test set at this model size")
    parser.add_argument("--video-frames", type=int, default=30, help="frames of the end-to-end video")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "inference.json")
    args = parser.parse_args(argv)
    out = check_output_file(args.out, "--out")
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    support = cpu_bf16_support()
    if args.checkpoint is None:
        torch.manual_seed(0)
        network = PNSNet().eval()
    else:
        network, _ = load_network(args.checkpoint)
    clip = torch.rand(1, 3, args.frames, args.height, args.width)
    paths, setup = _paths(network, tuple(clip.shape), bf16=support["native"])
    report: dict = {
        "clip": {"frames": args.frames, "height": args.height, "width": args.width},
        "repeats": args.repeats, "threads": args.threads, "torch": torch.__version__, "cpu_bf16": support,
        "checkpoint": None if args.checkpoint is None else str(args.checkpoint), "setup_s": setup,
        "load_average_before": load_before,
    }
    with torch.inference_mode():
        for _, model in paths.values():
            model(clip)  # warm-up
    report["model_alone"] = _model_alone(paths, clip, args.repeats)
    size = (args.height, args.width)
    report["streaming"] = {name: _streaming(paths[name][1], size, args.frames, args.repeats)
                           for name in ("eager", "fast_torch", "fast_onnxruntime", "fast_int8", "fast_bf16")
                           if name in paths}
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "model.pt"
        torch.save(network.state_dict(), ckpt)
        report["end_to_end"] = _end_to_end(ckpt, Path(tmp), args.video_frames, (288, 512), size)
        if args.checkpoint is not None and args.accuracy_size is not None:
            accuracy_clip = (1, 3, 5, *args.accuracy_size)
            accuracy_paths = dict(paths)
            if "fast_bf16" not in accuracy_paths:  # emulated where the CPU has no bf16: slow, but the same numbers
                accuracy_paths["fast_bf16"] = ("", optimize_network(network, "bf16"))
            if has_onnxruntime and accuracy_clip != tuple(clip.shape):  # the ONNX graph is bound to its clip shape
                accuracy_paths["onnxruntime"] = ("", OnnxClipModel(network, accuracy_clip))
            report["accuracy"] = _accuracy(network, tuple(args.accuracy_size), Path(tmp), accuracy_paths)
    report["load_average_after"] = os.getloadavg()
    print(_table(report))
    write_atomic(out, json.dumps(report, indent=2))
    print(f"\nwritten: {out}")
    return report


def _table(report: dict) -> str:
    clip, support = report["clip"], report["cpu_bf16"]
    lines = [
        f"One {clip['frames']}-frame {clip['height']}x{clip['width']} clip, {report['threads']} threads, median of "
        f"{report['repeats']} interleaved rounds; CPU bf16: avx512_bf16={support['avx512_bf16']}, "
        f"amx_bf16={support['amx_bf16']} (native bf16: {support['native']}); load average "
        f"{report['load_average_before'][0]:.2f} -> {report['load_average_after'][0]:.2f}",
        "",
        "| path | time / clip (s) | frames / s | speedup vs eager | max |Δp| vs eager | setup (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in report["model_alone"].items():
        setup = report["setup_s"].get(name)
        lines.append(
            f"| {row['label']} | {row['median_s']:.3f} | {row['fps']:.1f} | {row['speedup']:.2f} | "
            f"{row['max_probability_difference']:.1e} | {'-' if setup is None else f'{setup:.1f}'} |"
        )
    if not support["native"]:
        lines.append("| fast path bf16 | not run: this CPU has no native bf16 (AVX512-BF16 / AMX) | | | | |")
    lines += ["", "| streaming | latency / frame (s) | latency / clip (s) | ratio (target <= 0.35) |",
              "| --- | ---: | ---: | ---: |"]
    for name, row in report["streaming"].items():
        lines.append(f"| {name} | {row['frame_s']:.3f} | {row['clip_s']:.3f} | {row['ratio']:.2f} |")
    lines += ["", "| decode + model + write (288x512 mp4) | frames | seconds | frames / s |",
              "| --- | ---: | ---: | ---: |"]
    for name, row in report["end_to_end"].items():
        lines.append(f"| {name} | {row['frames']} | {row['seconds']:.1f} | {row['fps']:.1f} |")
    if "accuracy" in report:
        lines += ["", "| path | " + " | ".join(PAPER_METRICS) + " |", "| --- |" + " ---: |" * len(PAPER_METRICS)]
        for name, values in report["accuracy"].items():
            lines.append(f"| {name} | " + " | ".join(f"{values[k]:.4f}" for k in PAPER_METRICS) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
