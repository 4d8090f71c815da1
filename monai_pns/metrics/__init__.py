"""Video polyp segmentation metrics computed exactly as the MATLAB (PNS-Net/PraNet) and SUN-SEG toolboxes.

The public names are the documented metrics (``docs/metrics.md``): every per-frame metric at once
(``frame_metrics``) and each one alone (``compute_*``, on float maps: their readable definitions), the protocol
aggregation (``VPSEvaluator``) and the MONAI metric (``VPSMetric``). The 8-bit fast path of ``frame_metrics``
(histograms of codes, ``_histogram``) and the distance transform (``distance``) are internal.
"""

from __future__ import annotations

from monai_pns.metrics.aggregation import SUMMARY_KEYS, VPSEvaluator
from monai_pns.metrics.emeasure import compute_adaptive_emeasure, compute_emeasure_from_counts
from monai_pns.metrics.frame import CURVE_KEYS, FRAME_KEYS, SCALAR_KEYS, compute_mae, frame_metrics
from monai_pns.metrics.preprocess import EVAL_MODES, THRESHOLDS
from monai_pns.metrics.smeasure import compute_smeasure
from monai_pns.metrics.threshold_curves import ThresholdCounts, compute_count_curves
from monai_pns.metrics.vps_metric import VPSMetric
from monai_pns.metrics.weighted_fmeasure import compute_weighted_fmeasure

__all__ = [
    "CURVE_KEYS",
    "EVAL_MODES",
    "FRAME_KEYS",
    "SCALAR_KEYS",
    "SUMMARY_KEYS",
    "THRESHOLDS",
    "ThresholdCounts",
    "VPSEvaluator",
    "VPSMetric",
    "compute_adaptive_emeasure",
    "compute_count_curves",
    "compute_emeasure_from_counts",
    "compute_mae",
    "compute_smeasure",
    "compute_weighted_fmeasure",
    "frame_metrics",
]
