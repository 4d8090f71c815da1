"""Inference: the fast CPU form of a trained network, offline and streaming predictors, frame sources, writers, the
threads that overlap them and the job behind ``python -m monai_pns.infer``."""

from __future__ import annotations

from .checkpoint import (
    DEFAULT_NETWORK_CONFIG,
    NetworkSpec,
    check_network_config,
    checkpoint_network_config,
    load_network,
    network_config,
    read_network_config,
)
from .fast import cpu_bf16_support, optimize_network, resolve_precision
from .onnx_backend import OnnxClipModel
from .pipeline import prefetch
from .predictor import FramePrediction, VideoPredictor, calibration_frames, frame_preprocessing
from .run import run_inference
from .sources import FrameSource, open_sources
from .streaming import StreamingPredictor
from .writers import PredictionWriter

__all__ = [
    "DEFAULT_NETWORK_CONFIG",
    "FramePrediction",
    "FrameSource",
    "NetworkSpec",
    "OnnxClipModel",
    "PredictionWriter",
    "StreamingPredictor",
    "VideoPredictor",
    "calibration_frames",
    "check_network_config",
    "checkpoint_network_config",
    "cpu_bf16_support",
    "frame_preprocessing",
    "load_network",
    "network_config",
    "open_sources",
    "optimize_network",
    "prefetch",
    "read_network_config",
    "resolve_precision",
    "run_inference",
]
