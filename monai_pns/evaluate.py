"""Standalone evaluation of prediction PNG folders against ground truth, as the MATLAB / SUN-SEG toolboxes do.

Usage::

    python -m monai_pns.evaluate --layout pnsnet --gt-root /data/PNS-Net \\
        --pred-root res/PNS-Net --pred-root res/PraNet --out eval/
    python -m monai_pns.evaluate --datalist datalist.json --data-list-key test --pred-root res/PNS-Net --out eval/

The ground truth is a datalist of :mod:`monai_pns.data.datalist`: built from ``--layout`` and ``--gt-root`` (every
layout the datalists know: ``pnsnet``, ``sunseg``, ``kvasir``, ``folders`` and any registered with
:func:`monai_pns.data.register_layout`), or read from a datalist JSON file.
The items of one key are scored: ``test`` by default (``pretraining`` for ``kvasir``, whose images are all there),
so the SUN-SEG training videos are never collected. Masks are read as the training reads them
(:func:`monai_pns.data.image_io.read_frames` with ``mask=True``: grey, a colour mask by its brightest channel).

Prediction of a frame: ``<pred-root>/<case>/<frame stem>.png`` (``case`` as in the datalist, e.g. ``CVC-300/1``,
``TestEasyDataset/Seen/case1_1`` or, for a single image, ``Kvasir-SEG/<id>``; the frame stem is the frame file's
name without extension, or the frame index for a frame of a video file, see
:func:`~monai_pns.data.image_io.frame_stem`), where ``monai_pns.handlers.VPSPredictionWriter`` writes it. Sets are
the items' ``source`` (one table per set: ``CVC-300``, ``TestEasyDataset/Seen``, ...); models are named by their
prediction folder. Frames of a video
are scored in datalist order, the first and the last skipped unless ``--keep-first-last``; the single images of a
source are averaged with equal weights and none is skipped.

Writes into ``--out``: ``per_video.csv``, ``summary.csv``, ``summary.json``, ``summary.md`` (paper layout) and
``curves_<set>.png`` (Dice, IoU and E-measure over the thresholds, one line per model). Every file is written
to a temporary name first, then moved into place; curve plots of a previous run that this run does not write are
removed. Predictions of another size than their ground truth are resized to it (as the toolboxes do), counted per
model and set in the reports, with a warning.

Exit codes: 0 done, 1 bad data or unwritable ``--out`` (one ``error: ...`` line, nothing written), 2 bad usage.
The library behind it is :mod:`monai_pns.evaluation`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from monai_pns.data.layouts import layout_names
from monai_pns.evaluation.run import evaluate_predictions
from monai_pns.metrics import EVAL_MODES
from monai_pns.utils import run_cli

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> dict:
    """The command line (module docstring); prints the tables and where the reports are."""
    parser = argparse.ArgumentParser(prog="python -m monai_pns.evaluate", description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--gt-root", help="dataset folder in --layout")
    source.add_argument("--datalist", help="datalist JSON file (python -m monai_pns.data.datalist)")
    parser.add_argument("--layout", choices=layout_names(), help="layout of --gt-root")
    parser.add_argument("--masks", help="layout folders: folder of the per-case mask folders (default: --gt-root)")
    parser.add_argument("--data-list-key", help="datalist key scored (default: test; kvasir: pretraining)")
    parser.add_argument("--pred-root", required=True, action="append", help="prediction folder (repeat per model)")
    parser.add_argument("--out", required=True, help="output folder for the reports")
    parser.add_argument("--mode", choices=EVAL_MODES, default=None,
                        help="metric definitions (default: sunseg for the sunseg layout, else matlab)")
    parser.add_argument("--keep-first-last", action="store_true", help="score the first and last frame too")
    parser.add_argument("--allow-missing", action="store_true",
                        help="score a missing prediction as an all-zero map (counted in the reports)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    if args.gt_root is not None and args.layout is None:
        parser.error("--gt-root needs --layout")
    if args.datalist is not None and (args.layout or args.masks):
        parser.error("--layout and --masks describe --gt-root; a --datalist file needs neither")
    summary = evaluate_predictions(
        args.pred_root, args.out, datalist=args.datalist, data_list_key=args.data_list_key, layout=args.layout,
        gt_root=args.gt_root, masks=args.masks, mode=args.mode, skip_first_last=not args.keep_first_last,
        allow_missing=args.allow_missing, progress=not args.no_progress,
    )
    print(Path(args.out, "summary.md").read_text())
    print(f"reports written to {Path(args.out).resolve()}: {', '.join(summary['reports'])}")
    return summary


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
