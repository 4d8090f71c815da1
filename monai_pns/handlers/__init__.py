"""Engine glue: Ignite handlers that connect monai_pns to MONAI engines (prediction writing)."""

from __future__ import annotations

from monai_pns.handlers.prediction_writer import VPSPredictionWriter, frame_stem, probability_to_uint8

__all__ = ["VPSPredictionWriter", "frame_stem", "probability_to_uint8"]
