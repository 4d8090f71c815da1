"""Standalone evaluation of prediction PNG folders against ground truth, as the MATLAB / SUN-SEG toolboxes do.

Usage::

    python -m monai_pns.evaluate --gt-root VPS-TestSet --pred-root res/PNS-Net --pred-root res/PraNet \\
        --layout pnsnet --out eval/

Layouts (ground truth -> prediction path):

- ``pnsnet``: ``<gt-root>/<set>/GT/<case>/<n>.png`` -> ``<pred-root>/<set>/<case>/<n>.png`` (integer names,
  sorted numerically);
- ``sunseg``: ``<gt-root>/<split>/GT/<case>/<name>.png`` (``<split>`` may be nested, e.g.
  ``TestEasyDataset/Unseen``; frames ordered by the number after ``_image``) ->
  ``<pred-root>/<split>/<case>/<name>.png``;
- ``folders``: ``<gt-root>/<case>/<name>.png`` -> ``<pred-root>/<case>/<name>.png`` (one set named "default").

Writes into ``--out``: ``per_video.csv``, ``summary.csv``, ``summary.json``, ``summary.md`` (paper layout) and
``curves_<set>.png`` (Dice, IoU and E-measure over the thresholds, one line per model). Every file is written
to a temporary name first, then moved into place.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from monai.utils import look_up_option
from tqdm import tqdm

from monai_pns.data.datalist import natural_key, sunseg_frame_key
from monai_pns.metrics import SUMMARY_KEYS, THRESHOLDS, VPSEvaluator
from monai_pns.utils import write_atomic

__all__ = [
    "LAYOUTS",
    "PAPER_COLUMNS",
    "GTFrame",
    "GTVideo",
    "scan_ground_truth",
    "evaluate_models",
    "write_reports",
    "main",
]

LAYOUTS = ("pnsnet", "sunseg", "folders")
#: the columns of the published tables: PNS-Net Table 1 (MATLAB toolbox) and the SUN-SEG benchmark
PAPER_COLUMNS = {
    "matlab": ("maxDice", "maxSpe", "maxIoU", "S_alpha", "meanEm", "MAE"),
    "sunseg": ("S_alpha", "meanEm", "wF", "meanF", "meanDice", "meanSen"),
}
_PLOTTED = (("dice", "Dice"), ("iou", "IoU"), ("emeasure", "E-measure"))


@dataclass
class GTFrame:
    """One ground-truth frame: its position in the video, GT file and prediction path relative to a pred root."""

    index: int
    gt_path: Path
    pred_rel: Path


@dataclass
class GTVideo:
    set_name: str
    video: str
    frames: list[GTFrame] = field(default_factory=list)


def _pngs(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".png"]


def _subdirs(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: natural_key(p.name))


def _video(set_name: str, case_dir: Path, pred_prefix: Path, key) -> GTVideo:
    files = sorted(_pngs(case_dir), key=lambda p: key(p.stem))
    frames = [GTFrame(i, f, pred_prefix / case_dir.name / f.name) for i, f in enumerate(files)]
    return GTVideo(set_name, case_dir.name, frames)


def scan_ground_truth(gt_root: str | os.PathLike, layout: str) -> list[GTVideo]:
    """List the GT videos of ``gt_root`` laid out as ``layout`` (see the module docstring), frames in order."""
    layout = look_up_option(layout, LAYOUTS)
    root = Path(gt_root)
    if not root.is_dir():
        raise ValueError(f"gt root {str(root)!r} is not a directory.")
    videos: list[GTVideo] = []
    if layout == "pnsnet":
        for set_dir in _subdirs(root):
            if (set_dir / "GT").is_dir():
                for case in _subdirs(set_dir / "GT"):
                    videos.append(_video(set_dir.name, case, Path(set_dir.name), natural_key))
    elif layout == "sunseg":
        gt_dirs = sorted((Path(d) for d, _, _ in os.walk(root) if Path(d).name == "GT"), key=str)
        for gt_dir in gt_dirs:
            split = gt_dir.parent.relative_to(root)
            for case in _subdirs(gt_dir):
                videos.append(_video(split.as_posix(), case, split, sunseg_frame_key))
    else:
        for case in _subdirs(root):
            videos.append(_video("default", case, Path(), natural_key))
    videos = [v for v in videos if v.frames]
    if not videos:
        raise ValueError(f"no ground-truth PNG found under {str(root)!r} with layout {layout!r}.")
    return videos


def _read_grey(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ValueError(f"cannot read image {str(path)!r}.")
    return image


def _model_names(pred_roots: Sequence[Path]) -> list[str]:
    names = [p.resolve().name for p in pred_roots]
    return names if len(set(names)) == len(names) else [str(p) for p in pred_roots]


def evaluate_models(
    gt_root: str | os.PathLike,
    pred_roots: Sequence[str | os.PathLike],
    layout: str,
    mode: str | None = None,
    skip_first_last: bool = True,
    allow_missing: bool = False,
    progress: bool = True,
) -> dict:
    """Score every prediction root against the ground truth.

    Args:
        gt_root: ground-truth root, laid out as ``layout``.
        pred_roots: one prediction root per model (the model name is the folder name).
        layout: "pnsnet", "sunseg" or "folders".
        mode: metric mode of ``frame_metrics``; default "sunseg" for the sunseg layout, else "matlab".
        skip_first_last: drop the first and last frame of every video.
        allow_missing: score a missing prediction as an all-zero map (counted) instead of raising.
        progress: show a progress bar.

    Returns:
        dict with ``mode``, ``layout``, ``models`` (names), ``evaluators`` (name -> ``VPSEvaluator``) and
        ``missing`` (name -> list of missing prediction paths).

    Raises:
        FileNotFoundError: a prediction is missing and ``allow_missing`` is False (names the first ones).
    """
    layout = look_up_option(layout, LAYOUTS)
    mode = look_up_option(mode or ("sunseg" if layout == "sunseg" else "matlab"), ("matlab", "sunseg"))
    if not pred_roots:
        raise ValueError("give at least one prediction root.")
    roots = [Path(p) for p in pred_roots]
    for root in roots:
        if not root.is_dir():
            raise ValueError(f"prediction root {str(root)!r} is not a directory.")
    videos = scan_ground_truth(gt_root, layout)
    names = _model_names(roots)
    missing = {
        n: [str(r / f.pred_rel) for v in videos for f in v.frames if not (r / f.pred_rel).is_file()]
        for n, r in zip(names, roots)
    }
    if not allow_missing:
        for name, paths in missing.items():
            if paths:
                shown = ", ".join(paths[:3])
                raise FileNotFoundError(
                    f"model {name!r}: {len(paths)} prediction(s) missing for ground-truth frames, e.g. {shown} "
                    "(use --allow-missing to score them as all-zero maps)."
                )
    evaluators = {n: VPSEvaluator(mode, skip_first_last) for n in names}
    total = sum(len(v.frames) for v in videos)
    with tqdm(total=total, desc="scoring frames", unit="frame", disable=not progress) as bar:
        for video in videos:
            for frame in video.frames:
                gt = _read_grey(frame.gt_path)
                for name, root in zip(names, roots):
                    path = root / frame.pred_rel
                    pred = _read_grey(path) if path.is_file() else np.zeros_like(gt)
                    evaluators[name].add_frame(pred, gt, video.video, frame.index, video.set_name)
                bar.update(1)
    return {"mode": mode, "layout": layout, "models": names, "evaluators": evaluators, "missing": missing}


def _csv(rows: list[dict], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()})
    return buffer.getvalue()


def _markdown(summary: dict, mode: str) -> str:
    columns = PAPER_COLUMNS[mode]
    lines = [f"# VPS evaluation ({mode} toolbox protocol)", ""]
    for set_name in summary["sets"]:
        lines += [f"## {set_name}", "", "| Model | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
        for model in summary["models"]:
            values = summary["results"][model][set_name]
            lines.append(f"| {model} | " + " | ".join(f"{values[c]:.3f}" for c in columns) + " |")
        lines.append("")
    missing = {m: len(p) for m, p in summary["missing"].items() if p}
    if missing:
        counts = ", ".join(f"{m}: {n}" for m, n in missing.items())
        lines.append(f"Missing predictions scored as all-zero maps: {counts}")
        lines.append("")
    return "\n".join(lines)


def _plot(curves: dict[str, dict], set_name: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 3.6))
    axes = fig.subplots(1, len(_PLOTTED))
    for ax, (key, label) in zip(axes, _PLOTTED):
        for model, model_curves in curves.items():
            ax.plot(THRESHOLDS, model_curves[key], label=model)
        ax.set_xlabel("threshold")
        ax.set_ylabel(label)
        ax.set_title(f"{label}: {set_name}")
        ax.set_xlim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def write_reports(result: dict, out_dir: str | os.PathLike) -> dict:
    """Write the CSV / JSON / markdown reports and the curve plots of ``evaluate_models``' result."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    models, evaluators = result["models"], result["evaluators"]
    per_video, summary_rows, results, sets = [], [], {}, []
    for model in models:
        ev = evaluators[model]
        for row in ev.video_results():
            per_video.append({"model": model, **row})
        results[model] = ev.set_results()
        for set_name, values in results[model].items():
            sets += [set_name] if set_name not in sets else []
            summary_rows.append({"model": model, "set": set_name, "missing": len(result["missing"][model]), **values})
    summary = {
        "mode": result["mode"],
        "layout": result["layout"],
        "skip_first_last": evaluators[models[0]].skip_first_last,
        "models": models,
        "sets": sets,
        "results": results,
        "missing": result["missing"],
    }
    write_atomic(out / "per_video.csv", _csv(per_video, ["model", "set", "video", "frames", *SUMMARY_KEYS]))
    summary_cols = ["model", "set", "videos", "frames", "missing", *SUMMARY_KEYS]
    write_atomic(out / "summary.csv", _csv(summary_rows, summary_cols))
    write_atomic(out / "summary.json", json.dumps(summary, indent=2))
    write_atomic(out / "summary.md", _markdown(summary, result["mode"]))
    for set_name in sets:
        curves = {m: evaluators[m].set_curves()[set_name] for m in models if set_name in results[m]}
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", set_name)
        write_atomic(out / f"curves_{safe}.png", _plot(curves, set_name))
    return summary


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m monai_pns.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--gt-root", required=True, help="ground-truth root folder")
    parser.add_argument("--pred-root", required=True, action="append", help="prediction root (repeat per model)")
    parser.add_argument("--layout", required=True, choices=LAYOUTS, help="folder layout of GT and predictions")
    parser.add_argument("--out", required=True, help="output folder for the reports")
    parser.add_argument("--mode", choices=("matlab", "sunseg"), default=None,
                        help="metric definitions (default: sunseg for the sunseg layout, else matlab)")
    parser.add_argument("--keep-first-last", action="store_true", help="score the first and last frame too")
    parser.add_argument("--allow-missing", action="store_true",
                        help="score a missing prediction as an all-zero map (counted in the reports)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    result = evaluate_models(
        args.gt_root, args.pred_root, args.layout, args.mode, not args.keep_first_last, args.allow_missing,
        not args.no_progress,
    )
    summary = write_reports(result, args.out)
    print(Path(args.out, "summary.md").read_text())
    return summary


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None
