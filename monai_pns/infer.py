"""Segment procedure videos with a trained PNS-Net / PNS+: masks, an overlay video and, optionally, NIfTI volumes.

    python -m monai_pns.infer --ckpt model.pt --input procedure.mp4 --out results/ [--nifti]
    python -m monai_pns.infer --ckpt PNS-Net.pth --official --input frames/ --out results/
    python -m monai_pns.infer --ckpt model.pt --input datalist.json --out results/   # one sub-folder per case

Inputs: a video file (mp4, avi, mov, mkv), a folder of frames, a datalist JSON (its "test" list) or a 2-D+time
volume (NIfTI, NRRD, MHA). Outputs per video: masks/<frame>.png, overlay.mp4, summary.json, and with --nifti
masks.nii.gz and frames.nii.gz. A video file that decodes fewer frames than its header states (cut short or damaged)
is an error; with --allow-short, a warning, its frames but the last decoded one segmented and summary.json recording
it ("short": true). Exit codes: 0 ok, 1 bad data (unreadable input or checkpoint, a short video without
--allow-short, unwritable output; the output folders the run created are removed), 2 bad usage.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from monai_pns.inference.run import BACKENDS, PRECISIONS, run_inference
from monai_pns.utils import run_cli

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(
        prog="python -m monai_pns.infer", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ckpt", required=True, help="checkpoint: a state dict, a MONAI/Ignite checkpoint, or a "
                        "released file with --official")
    parser.add_argument("--input", required=True, help="video file, folder of frames, datalist JSON or volume")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--official", action="store_true", help="--ckpt is a released PNS-Net / PNS+ checkpoint")
    parser.add_argument("--backend", choices=BACKENDS, default="torch")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="torch backend: auto = bf16 where the CPU/GPU runs it natively, fp32 otherwise; int8 = "
                             "the CPU fast path with an int8 encoder calibrated on --calibration")
    parser.add_argument("--calibration", default=None,
                        help="with --precision int8: frames to calibrate on, any input form (default: --input)")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when available)")
    parser.add_argument("--nifti", action="store_true", help="also write masks.nii.gz and frames.nii.gz")
    parser.add_argument("--no-overlay", dest="overlay", action="store_false", help="do not write overlay.mp4")
    parser.add_argument("--probabilities", action="store_true", help="also write probabilities/<frame>.png")
    parser.add_argument("--threshold", type=float, default=0.5, help="mask where the probability is > this")
    parser.add_argument("--clip-length", type=int, default=None, help="frames per clip (default: checkpoint's, or 5)")
    parser.add_argument("--spatial-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                        help="network input size (default: the checkpoint's, or what its norm needs, or 256 448)")
    parser.add_argument("--datalist-key", default="test", help="the list of a datalist input to segment")
    parser.add_argument("--eager", dest="fast", action="store_false", help="run the network as loaded (no fast path)")
    parser.add_argument("--allow-short", action="store_true", help="a video file that decodes fewer frames than "
                        "its header states is a warning (recorded in summary.json), not an error")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    args = parser.parse_args(argv)
    if args.precision == "int8" and (args.backend != "torch" or not args.fast):
        parser.error("--precision int8 is the fast path of the torch backend: drop --backend onnxruntime and --eager")
    if args.calibration is not None and args.precision != "int8":
        parser.error("--calibration goes with --precision int8")
    summaries = run_inference(
        args.ckpt, args.input, args.out, official=args.official, backend=args.backend, precision=args.precision,
        device=args.device, clip_length=args.clip_length, spatial_size=args.spatial_size, threshold=args.threshold,
        nifti=args.nifti, overlay=args.overlay, probabilities=args.probabilities, datalist_key=args.datalist_key,
        fast=args.fast, progress=args.progress, allow_short=args.allow_short, calibration=args.calibration,
    )
    for s in summaries:
        print(f"{s['frames']} frames of '{s['input']}'{' (' + s['case'] + ')' if s['case'] else ''} -> {s['out']} "
              f"({s['fps']} frames/s, {s['backend']} {s['precision']})")
    return summaries


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
