"""Engine glue: MLflow tracking of multi-phase runs, resumable training state, gradient clipping, held parameters,
frozen batch norm, progress bars, prediction PNGs and overlays."""

from __future__ import annotations

from .checkpoints import AtomicDiskSaver, BestModelSaver, TrainingState, latest_checkpoint, require_checkpoint
from .evaluation_report import EvaluationReport
from .freeze_batch_norm import FreezeBatchNorm
from .gradient_clipping import GradientClipping
from .hold_parameters import HoldParameters
from .mlflow_tracking import PhaseMLFlowHandler, end_mlflow_run
from .overlay_saver import OverlaySaver
from .prediction_writer import VPSPredictionWriter
from .progress_bar import ProgressBarHandler

__all__ = [
    "AtomicDiskSaver",
    "BestModelSaver",
    "EvaluationReport",
    "FreezeBatchNorm",
    "GradientClipping",
    "HoldParameters",
    "OverlaySaver",
    "PhaseMLFlowHandler",
    "ProgressBarHandler",
    "TrainingState",
    "VPSPredictionWriter",
    "end_mlflow_run",
    "latest_checkpoint",
    "require_checkpoint",
]
