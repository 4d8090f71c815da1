"""Video polyp segmentation metrics computed exactly as the MATLAB (PNS-Net/PraNet) and SUN-SEG toolboxes."""

from __future__ import annotations

from monai_pns.metrics.aggregation import (
    SUMMARY_KEYS,
    SUMMARY_SOURCES,
    VPSEvaluator,
    required_frame_keys,
    summarise_curves,
)
from monai_pns.metrics.emeasure import compute_adaptive_emeasure, compute_emeasure_from_counts
from monai_pns.metrics.frame import (
    CURVE_KEYS,
    FRAME_KEYS,
    SCALAR_KEYS,
    compute_mae,
    frame_metrics,
    metrics_from_prepared,
)
from monai_pns.metrics.preprocess import (
    CENTROID_ROUNDING,
    EVAL_MODES,
    THRESHOLDS,
    PreparedFrame,
    code_histogram,
    gt_centroid,
    prepare_frame,
    quadrant_code_histogram,
    threshold_levels,
)
from monai_pns.metrics.smeasure import compute_smeasure, smeasure_from_quadrant_hist
from monai_pns.metrics.threshold_curves import ThresholdCounts, compute_count_curves, counts_from_level_hist
from monai_pns.metrics.vps_metric import VPSMetric
from monai_pns.metrics.weighted_fmeasure import compute_weighted_fmeasure, gaussian_kernel_1d

__all__ = [
    "CENTROID_ROUNDING",
    "CURVE_KEYS",
    "EVAL_MODES",
    "FRAME_KEYS",
    "PreparedFrame",
    "SCALAR_KEYS",
    "SUMMARY_KEYS",
    "SUMMARY_SOURCES",
    "THRESHOLDS",
    "ThresholdCounts",
    "VPSEvaluator",
    "VPSMetric",
    "compute_adaptive_emeasure",
    "compute_count_curves",
    "compute_emeasure_from_counts",
    "compute_mae",
    "compute_smeasure",
    "code_histogram",
    "compute_weighted_fmeasure",
    "counts_from_level_hist",
    "frame_metrics",
    "gaussian_kernel_1d",
    "gt_centroid",
    "metrics_from_prepared",
    "prepare_frame",
    "quadrant_code_histogram",
    "required_frame_keys",
    "smeasure_from_quadrant_hist",
    "summarise_curves",
    "threshold_levels",
]
