"""Standalone evaluation of prediction PNG folders against ground truth, as the MATLAB / SUN-SEG toolboxes do.

Usage::

    python -m monai_pns.evaluate --layout pnsnet --gt-root /data/PNS-Net \\
        --pred-root res/PNS-Net --pred-root res/PraNet --out eval/
    python -m monai_pns.evaluate --datalist datalist.json --data-list-key test --pred-root res/PNS-Net --out eval/

The ground truth is a datalist of :mod:`monai_pns.data.datalist`: built from ``--layout`` and ``--gt-root`` (every
layout the datalists know: ``pnsnet``, ``sunseg``, ``kvasir``, ``folders``), or read from a datalist JSON file.
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
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from monai.utils import look_up_option
from tqdm import tqdm

from monai_pns.data.datalist import LAYOUTS, build_datalist
from monai_pns.data.image_io import frame_stem, read_frames, read_image
from monai_pns.metrics import EVAL_MODES, SUMMARY_KEYS, THRESHOLDS, VPSEvaluator
from monai_pns.utils import check_output_dir, figure_png, run_cli, write_atomic

__all__ = [
    "PAPER_COLUMNS",
    "GTFrame",
    "GTVideo",
    "default_data_list_key",
    "evaluate_models",
    "evaluate_predictions",
    "ground_truth_videos",
    "load_datalist",
    "main",
    "select_frames",
    "write_reports",
]

#: the columns of the published tables: PNS-Net Table 1 (MATLAB toolbox) and the SUN-SEG benchmark
PAPER_COLUMNS = {
    "matlab": ("maxDice", "maxSpe", "maxIoU", "S_alpha", "meanEm", "MAE"),
    "sunseg": ("S_alpha", "meanEm", "wF", "meanF", "meanDice", "meanSen"),
}
_PLOTTED = (("dice", "Dice"), ("iou", "IoU"), ("emeasure", "E-measure"))
#: GT frames read at once: one opening per mask video and chunk, bounded memory for long videos
_CHUNK = 32


@dataclass
class GTFrame:
    """One ground-truth frame: its position in the video, mask ref and prediction path relative to a pred root."""

    index: int
    gt_ref: str
    pred_rel: Path


@dataclass
class GTVideo:
    """The frames of one scored unit: a video case, or all single images of a source (``is_video`` False)."""

    set_name: str
    video: str
    is_video: bool
    frames: list[GTFrame] = field(default_factory=list)


def default_data_list_key(layout: str | None) -> str:
    """The datalist key scored by default: ``pretraining`` for ``kvasir`` (all its images), else ``test``."""
    return "pretraining" if layout == "kvasir" else "test"


def _absolute(base: Path, value):
    """Image/label refs of a datalist file relative to its folder, as ``monai.data.load_decathlon_datalist`` reads
    them (its check on other keys, which rewrites a ``case`` that happens to name a folder, is not wanted here)."""
    if isinstance(value, list):
        return [_absolute(base, v) for v in value]
    return os.path.normpath(base / value) if isinstance(value, str) and not os.path.isabs(value) else value


def load_datalist(datalist: str | os.PathLike | Mapping) -> dict:
    """A datalist as a dict: ``datalist`` itself, or the JSON file it names with relative ``image`` / ``label``
    refs made absolute against the file's folder.

    Raises:
        ValueError: the file is missing or not a JSON object, naming it.
    """
    if isinstance(datalist, Mapping):
        return dict(datalist)
    path = Path(datalist).expanduser()
    if not path.is_file():
        raise ValueError(f"datalist file '{path}' does not exist.")
    try:
        content = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"datalist file '{path}' is not valid JSON: {err}.") from None
    if not isinstance(content, dict):
        raise ValueError(f"datalist file '{path}' must hold a JSON object, got {type(content).__name__}.")
    for items in content.values():
        for item in items if isinstance(items, list) else []:
            for key in ("image", "label"):
                if isinstance(item, dict) and key in item:
                    item[key] = _absolute(path.parent, item[key])
    return content


def _item_refs(item, where: str) -> tuple[str, list[str], list[str], bool]:
    """(case, image refs, label refs, is a video) of a datalist item, checked."""
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected a dict with 'case', 'image' and 'label', got {type(item).__name__}.")
    missing = [k for k in ("case", "image", "label") if k not in item]
    if missing:
        name = f" (case '{item['case']}')" if "case" in item else ""
        raise ValueError(f"{where}{name}: no {', '.join(repr(k) for k in missing)}: nothing to score against.")
    image, label = item["image"], item["label"]
    is_video = isinstance(image, list)
    images, labels = (image, label) if is_video else ([image], [label])
    if not isinstance(labels, list) or len(images) != len(labels) or not images:
        raise ValueError(f"{where} (case '{item['case']}'): 'image' and 'label' must be paths or lists of one length.")
    if not all(isinstance(r, str) for r in images + labels):
        raise ValueError(f"{where} (case '{item['case']}'): 'image' and 'label' must hold paths (strings).")
    return str(item["case"]), images, labels, is_video


def ground_truth_videos(datalist: Mapping, data_list_key: str) -> list[GTVideo]:
    """The scored units of ``datalist[data_list_key]``: one per video case; the single images of a source form one.

    Raises:
        ValueError: the key is missing or empty, an item has no label, or the key mixes videos and single images.
    """
    items = datalist.get(data_list_key)
    if not isinstance(items, list) or not items:
        keys = sorted(k for k, v in datalist.items() if isinstance(v, list))
        raise ValueError(f"the datalist has no items under data_list_key={data_list_key!r} (lists: {keys}).")
    videos: dict[tuple[str, str], GTVideo] = {}
    kinds = set()
    for i, item in enumerate(items):
        case, images, labels, is_video = _item_refs(item, f"datalist key '{data_list_key}' item {i}")
        kinds.add(is_video)
        set_name = str(item.get("source", "default"))
        if is_video:
            video = videos.setdefault((set_name, case), GTVideo(set_name, case, True))
            if video.frames:
                raise ValueError(f"case '{case}' appears twice under datalist key '{data_list_key}'.")
            video.frames = [GTFrame(t, g, Path(case, f"{frame_stem(f)}.png")) for t, (f, g) in
                            enumerate(zip(images, labels))]
        else:
            group = videos.setdefault((set_name, set_name), GTVideo(set_name, set_name, False))
            group.frames.append(GTFrame(len(group.frames), labels[0], Path(case, f"{frame_stem(images[0])}.png")))
    if len(kinds) > 1:
        raise ValueError(f"datalist key '{data_list_key}' mixes videos and single images: score them separately.")
    return list(videos.values())


def select_frames(
    videos: Sequence[GTVideo], frames: Mapping[str, Collection[int]], skip_first_last: bool = True
) -> list[GTVideo]:
    """The scored units restricted to some of their frames, to score a subset (e.g. the frames with a polyp, or
    the frames that are ambiguous alone) with the protocol's averaging: frames -> videos -> set.

    Args:
        videos: the scored units (:func:`ground_truth_videos`).
        frames: per unit (``GTVideo.video``: the case, or the source of a group of single images), the indices of
            the frames kept (``GTFrame.index``: 0-based positions in the video). Units not named keep no frame.
        skip_first_last: drop the first and last frame of every video (not of a group of single images) whatever
            ``frames`` says, as the protocol does; score the result with ``skip_first_last=False``.

    Returns:
        the units that keep at least one frame, in their order, with only those frames.

    Raises:
        ValueError: ``frames`` names a unit that is not in ``videos`` or an index that is not one of its frames.

    Examples::

        >>> videos = ground_truth_videos(datalist, "test")
        >>> polyp = select_frames(videos, {"Synthetic-Test/1": [0, 1, 2], "Synthetic-Test/2": range(24)})
        >>> evaluate_models(polyp, ["runs/pred/PNSNet"], skip_first_last=False)["evaluators"]["PNSNet"].set_results()
    """
    units = {v.video: v for v in videos}
    unknown = sorted(set(frames) - set(units))
    if unknown:
        raise ValueError(f"frames name units that are not scored: {unknown} (units: {sorted(units)}).")
    selected = []
    for video in videos:
        indices = {int(i) for i in frames.get(video.video, ())}
        known = {f.index for f in video.frames}
        if not indices <= known:
            raise ValueError(
                f"case '{video.video}' has no frame {sorted(indices - known)} (frames 0..{len(known) - 1})."
            )
        if skip_first_last and video.is_video:
            indices -= {min(known), max(known)}
        kept = [f for f in video.frames if f.index in indices]
        if kept:
            selected.append(GTVideo(video.set_name, video.video, video.is_video, kept))
    return selected


def _read_masks(refs: Sequence[str]):
    """Yield the masks of ``refs`` in order, read ``_CHUNK`` at a time."""
    for start in range(0, len(refs), _CHUNK):
        yield from read_frames(refs[start : start + _CHUNK], mask=True)


def _model_names(pred_roots: Sequence[Path]) -> list[str]:
    names = [p.resolve().name for p in pred_roots]
    return names if len(set(names)) == len(names) else [str(p) for p in pred_roots]


def evaluate_models(
    videos: Sequence[GTVideo],
    pred_roots: Sequence[str | os.PathLike],
    mode: str = "matlab",
    skip_first_last: bool = True,
    allow_missing: bool = False,
    progress: bool = True,
) -> dict:
    """Score every prediction root against the ground truth of ``videos`` (see :func:`ground_truth_videos`).

    Args:
        videos: the scored units with their frames.
        pred_roots: one prediction root per model (the model name is the folder name).
        mode: metric mode of ``frame_metrics``: "matlab" or "sunseg".
        skip_first_last: drop the first and last frame of every video (never of a group of single images).
        allow_missing: score a missing prediction as an all-zero map (counted) instead of raising.
        progress: show a progress bar.

    Returns:
        dict with ``mode``, ``models`` (names), ``evaluators`` (name -> ``VPSEvaluator``), ``missing`` and
        ``resized`` (name -> prediction paths missing, or of another size than their ground truth) and ``counts``
        (name -> set -> {"missing": n, "resized": n}).

    Raises:
        FileNotFoundError: a prediction is missing and ``allow_missing`` is False (names the first ones).
        ValueError: a prediction root is not a folder, a mask or prediction is unreadable or truncated.
    """
    mode = look_up_option(mode, EVAL_MODES)
    if not pred_roots:
        raise ValueError("give at least one prediction root.")
    roots = [Path(p) for p in pred_roots]
    for root in roots:
        if not root.is_dir():
            raise ValueError(f"prediction root '{root}' is not a folder.")
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
    evaluators = {n: VPSEvaluator(mode, skip_first_last and all(v.is_video for v in videos)) for n in names}
    resized: dict[str, list[str]] = {n: [] for n in names}
    counts = {n: {v.set_name: {"missing": 0, "resized": 0} for v in videos} for n in names}
    total = sum(len(v.frames) for v in videos)
    with tqdm(total=total, desc="scoring frames", unit="frame", disable=not progress) as bar:
        for video in videos:
            for frame, gt in zip(video.frames, _read_masks([f.gt_ref for f in video.frames])):
                for name, root in zip(names, roots):
                    path = root / frame.pred_rel
                    if path.is_file():
                        pred = read_image(path, mask=True)
                    else:
                        pred = np.zeros_like(gt)
                        counts[name][video.set_name]["missing"] += 1
                    if pred.shape != gt.shape:
                        resized[name].append(str(path))
                        counts[name][video.set_name]["resized"] += 1
                    evaluators[name].add_frame(pred, gt, video.video, frame.index, video.set_name)
                bar.update(1)
    for name, paths in resized.items():
        if paths:
            warnings.warn(
                f"model {name!r}: {len(paths)} prediction(s) of another size than their ground truth were resized to "
                f"it, e.g. '{paths[0]}' (counted as 'resized' in the reports).",
                stacklevel=2,
            )
    return {
        "mode": mode, "models": names, "evaluators": evaluators, "missing": missing, "resized": resized,
        "counts": counts,
    }


def _csv(rows: list[dict], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()})
    return buffer.getvalue()


def _markdown(summary: dict) -> str:
    mode = summary["mode"]
    columns = PAPER_COLUMNS[mode]
    lines = [f"# VPS evaluation ({mode} toolbox protocol)", ""]
    for set_name in summary["sets"]:
        lines += [f"## {set_name}", "", "| Model | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
        for model in summary["models"]:
            values = summary["results"][model][set_name]
            lines.append(f"| {model} | " + " | ".join(f"{values[c]:.3f}" for c in columns) + " |")
        lines.append("")
    for key, text in (("missing", "Missing predictions scored as all-zero maps"),
                      ("resized", "Predictions of another size than their ground truth, resized to it")):
        found = {m: len(p) for m, p in summary[key].items() if p}
        if found:
            lines += [f"{text}: " + ", ".join(f"{m}: {n}" for m, n in found.items()), ""]
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
    return figure_png(fig)


def write_reports(result: dict, out_dir: str | os.PathLike) -> dict:
    """Write the CSV / JSON / markdown reports and the curve plots of :func:`evaluate_models`' result into
    ``out_dir``, remove curve plots there that this result does not have (a previous run's), and return the
    summary (the content of ``summary.json``; ``reports`` lists the files written)."""
    out = Path(out_dir)
    models, evaluators, counts = result["models"], result["evaluators"], result["counts"]
    per_video, summary_rows, results, sets = [], [], {}, []
    for model in models:
        ev = evaluators[model]
        per_video += [{"model": model, **row} for row in ev.video_results()]
        results[model] = ev.set_results()
        for set_name, values in results[model].items():
            sets += [set_name] if set_name not in sets else []
            summary_rows.append({"model": model, "set": set_name, **counts[model][set_name], **values})
    summary = {
        "mode": result["mode"],
        "layout": result.get("layout"),
        "data_list_key": result.get("data_list_key"),
        "skip_first_last": evaluators[models[0]].skip_first_last,
        "models": models,
        "sets": sets,
        "results": results,
        "missing": result["missing"],
        "resized": result["resized"],
    }
    plots = {f"curves_{re.sub(r'[^A-Za-z0-9._-]+', '_', s)}.png": s for s in sets}
    summary["reports"] = ["per_video.csv", "summary.csv", "summary.json", "summary.md", *plots]
    write_atomic(out / "per_video.csv", _csv(per_video, ["model", "set", "video", "frames", *SUMMARY_KEYS]))
    summary_cols = ["model", "set", "videos", "frames", "missing", "resized", *SUMMARY_KEYS]
    write_atomic(out / "summary.csv", _csv(summary_rows, summary_cols))
    write_atomic(out / "summary.json", json.dumps(summary, indent=2))
    write_atomic(out / "summary.md", _markdown(summary))
    for name, set_name in plots.items():
        curves = {m: evaluators[m].set_curves()[set_name] for m in models if set_name in results[m]}
        write_atomic(out / name, _plot(curves, set_name))
    for stale in out.glob("curves_*.png"):
        if stale.name not in plots:
            stale.unlink()
    return summary


def evaluate_predictions(
    pred_roots: str | os.PathLike | Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    datalist: str | os.PathLike | Mapping | None = None,
    data_list_key: str | None = None,
    layout: str | None = None,
    gt_root: str | os.PathLike | None = None,
    masks: str | os.PathLike | None = None,
    mode: str | None = None,
    skip_first_last: bool = True,
    allow_missing: bool = False,
    progress: bool = False,
) -> dict:
    """Score prediction folders against a datalist's ground truth and write the reports (the module docstring
    describes paths and outputs); usable in-process, e.g. from a bundle config:
    ``"$monai_pns.evaluate.evaluate_predictions(@pred_dir, @eval_dir, datalist=@datalist)"``.

    Args:
        pred_roots: one prediction folder, or one per model (a model is named by its folder).
        out_dir: folder of the reports; checked before any work.
        datalist: the ground truth as a datalist dict or JSON file (``monai_pns.data.datalist``); or None with
            ``layout`` and ``gt_root``.
        data_list_key: the datalist key scored; default ``pretraining`` for the ``kvasir`` layout, else ``test``.
        layout: with ``gt_root``: one of ``monai_pns.data.LAYOUTS``, the datalist is built by ``build_datalist``.
        gt_root: the dataset folder (for ``folders``: the folder of case folders).
        masks: ``folders`` layout only: the folder of per-case mask folders (default ``gt_root``: the case folders
            hold the masks themselves).
        mode: "matlab" or "sunseg" metric definitions; default "sunseg" for a sunseg datalist, else "matlab".
        skip_first_last: drop the first and last frame of every video (protocol default).
        allow_missing: score a missing prediction as an all-zero map (counted) instead of raising.
        progress: show a progress bar.

    Returns:
        the summary written to ``summary.json``: ``mode``, ``layout``, ``data_list_key``, ``skip_first_last``,
        ``models``, ``sets``, ``results`` (model -> set -> ``SUMMARY_KEYS`` values, ``videos``, ``frames``),
        ``missing`` and ``resized`` (model -> prediction paths) and ``reports`` (file names in ``out_dir``).

    Raises:
        ValueError: bad arguments or data (unreadable or truncated files, missing folders), naming what is wrong;
            nothing is written then.
        FileNotFoundError: predictions missing without ``allow_missing``.

    Examples::

        >>> summary = evaluate_predictions("runs/pred", "runs/eval", datalist=synthetic_datalist())
        >>> summary["results"]["pred"]["Synthetic-Test"]["maxDice"]
    """
    check_output_dir(out_dir, "evaluation output folder")
    if (datalist is None) == (gt_root is None):
        raise ValueError("give the ground truth as datalist=..., or as layout=... with gt_root=... (not both).")
    if datalist is not None:
        if layout is not None or masks is not None:
            raise ValueError(f"layout and masks describe gt_root, not a datalist: layout={layout!r}, masks={masks!r}.")
        content = load_datalist(datalist)
        layout = content.get("layout")
    else:
        if layout is None:
            raise ValueError(f"gt_root needs its layout: one of {LAYOUTS}, got layout=None.")
        layout = look_up_option(layout, LAYOUTS)
        if layout == "folders":
            content = build_datalist(layout, gt_root, masks=gt_root if masks is None else masks)
        else:
            content = build_datalist(layout, gt_root, masks=masks)
    key = data_list_key or default_data_list_key(layout)
    videos = ground_truth_videos(content, key)
    mode = look_up_option(mode or ("sunseg" if layout == "sunseg" else "matlab"), EVAL_MODES)
    roots = [pred_roots] if isinstance(pred_roots, (str, os.PathLike)) else list(pred_roots)
    result = evaluate_models(videos, roots, mode, skip_first_last, allow_missing, progress)
    return write_reports({**result, "layout": layout, "data_list_key": key}, out_dir)


def main(argv: Sequence[str] | None = None) -> dict:
    """The command line (module docstring); prints the tables and where the reports are."""
    parser = argparse.ArgumentParser(prog="python -m monai_pns.evaluate", description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--gt-root", help="dataset folder in --layout")
    source.add_argument("--datalist", help="datalist JSON file (python -m monai_pns.data.datalist)")
    parser.add_argument("--layout", choices=LAYOUTS, help="layout of --gt-root")
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
