"""Evaluation in one call: the ground truth from a datalist (a dict, a JSON file, or a dataset root scanned in a
registered layout), every prediction folder scored, the reports written; what ``python -m monai_pns.evaluate`` runs.

Sets are the items' ``source`` (one table per set: ``CVC-300``, ``TestEasyDataset/Seen``, ...); models are named by
their prediction folder. What a layout means for its evaluation (the key scored, the metric mode, where the masks
are) is declared by its :class:`~monai_pns.data.layouts.DatasetLayout`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from monai.utils import look_up_option

from monai_pns.data.datalist import build_datalist, load_datalist
from monai_pns.data.layouts import get_layout, layout_names
from monai_pns.evaluation.ground_truth import ground_truth_videos
from monai_pns.evaluation.reports import write_reports
from monai_pns.evaluation.scoring import evaluate_models
from monai_pns.metrics import EVAL_MODES
from monai_pns.utils import check_output_dir

__all__ = ["default_data_list_key", "default_metric_mode", "evaluate_predictions"]


def default_data_list_key(layout: str | None) -> str:
    """The datalist key scored by default: the registered layout's ``eval_key`` (``pretraining`` for ``kvasir``,
    whose images all sit there), else (no layout, or a datalist file's layout that is not registered) ``test``."""
    return get_layout(layout).eval_key if layout in layout_names() else "test"


def default_metric_mode(layout: str | None) -> str:
    """The metric mode by default: the registered layout's ``metric_mode`` (``sunseg`` for ``sunseg``), else
    ``matlab``."""
    return get_layout(layout).metric_mode if layout in layout_names() else "matlab"


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
    """Score prediction folders against a datalist's ground truth and write the reports (prediction paths:
    :mod:`~monai_pns.evaluation.ground_truth`, files: :mod:`~monai_pns.evaluation.reports`); usable in-process, e.g.
    from a bundle config:
    ``"$monai_pns.evaluation.evaluate_predictions(@pred_dir, @eval_dir, datalist=@datalist)"``.

    Args:
        pred_roots: one prediction folder, or one per model (a model is named by its folder).
        out_dir: folder of the reports; checked before any work.
        datalist: the ground truth as a datalist dict or JSON file (``monai_pns.data.datalist``); or None with
            ``layout`` and ``gt_root``.
        data_list_key: the datalist key scored; default: the layout's ``eval_key`` (:func:`default_data_list_key`).
        layout: with ``gt_root``: one of ``monai_pns.data.LAYOUTS``, the datalist is built by ``build_datalist``.
        gt_root: the dataset folder (for ``folders``: the folder of case folders).
        masks: layouts that take a mask folder only (``folders``): the folder of per-case mask folders (default
            ``gt_root`` where the layout says its root holds the masks, ``masks_in_root``: the case folders hold the
            masks themselves).
        mode: "matlab" or "sunseg" metric definitions; default: the layout's ``metric_mode``
            (:func:`default_metric_mode`).
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
            raise ValueError(f"gt_root needs its layout: one of {layout_names()}, got layout=None.")
        spec = get_layout(layout)
        layout = spec.name
        content = build_datalist(layout, gt_root, masks=gt_root if masks is None and spec.masks_in_root else masks)
    key = data_list_key or default_data_list_key(layout)
    videos = ground_truth_videos(content, key)
    mode = look_up_option(mode or default_metric_mode(layout), EVAL_MODES)
    roots = [pred_roots] if isinstance(pred_roots, (str, os.PathLike)) else list(pred_roots)
    result = evaluate_models(videos, roots, mode, skip_first_last, allow_missing, progress)
    return write_reports({**result, "layout": layout, "data_list_key": key}, out_dir)
