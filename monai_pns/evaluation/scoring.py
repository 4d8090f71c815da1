"""Scoring prediction folders against the ground truth of :mod:`monai_pns.evaluation.ground_truth` with the
protocol's aggregation (:class:`~monai_pns.metrics.VPSEvaluator`).

Frames of a video are scored in datalist order, the first and the last skipped unless ``skip_first_last`` is False;
the single images of a source are averaged with equal weights and none is skipped. Masks are read as the training
reads them (:func:`monai_pns.data.image_io.read_frames` with ``mask=True``: grey, a colour mask by its brightest
channel). Predictions of another size than their ground truth are resized to it (as the toolboxes do), counted per
model and set, with a warning.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from monai.utils import look_up_option
from tqdm import tqdm

from monai_pns.data.image_io import read_frames, read_image
from monai_pns.evaluation.ground_truth import GTVideo
from monai_pns.metrics import EVAL_MODES, VPSEvaluator

__all__ = ["evaluate_models"]

#: GT frames read at once: one opening per mask video and chunk, bounded memory for long videos
_CHUNK = 32


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
