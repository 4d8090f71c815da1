"""Engine glue: MLflow tracking of multi-phase runs, resumable training state, gradient clipping, progress bars,
prediction overlays."""

from __future__ import annotations

from .checkpoints import TrainingState, latest_checkpoint, require_checkpoint
from .evaluation_report import EvaluationReport
from .gradient_clipping import GradientClipping
from .mlflow_tracking import PhaseMLFlowHandler, end_mlflow_run
from .overlay_saver import OverlaySaver
from .progress_bar import ProgressBarHandler

__all__ = [
    "EvaluationReport",
    "GradientClipping",
    "OverlaySaver",
    "PhaseMLFlowHandler",
    "ProgressBarHandler",
    "TrainingState",
    "end_mlflow_run",
    "latest_checkpoint",
    "require_checkpoint",
]
