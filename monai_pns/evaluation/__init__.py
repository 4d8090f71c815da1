"""Evaluation of prediction PNG folders against a datalist's ground truth, as the MATLAB / SUN-SEG toolboxes score
them: the ground truth (``ground_truth``), the scoring (``scoring``), the reports (``reports``) and the one call that
does all three (``run``, what ``python -m monai_pns.evaluate`` runs)."""

from __future__ import annotations

from .ground_truth import GTFrame, GTVideo, ground_truth_videos, select_frames
from .reports import PAPER_COLUMNS, write_reports
from .run import default_data_list_key, default_metric_mode, evaluate_predictions
from .scoring import evaluate_models

__all__ = [
    "PAPER_COLUMNS",
    "GTFrame",
    "GTVideo",
    "default_data_list_key",
    "default_metric_mode",
    "evaluate_models",
    "evaluate_predictions",
    "ground_truth_videos",
    "select_frames",
    "write_reports",
]
