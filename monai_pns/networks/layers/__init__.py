"""Low-level operations of the PNS networks."""

from __future__ import annotations

from .ns_ops import relevance_measuring, spatial_temporal_aggregation

__all__ = ["relevance_measuring", "spatial_temporal_aggregation"]
