"""Low-level operations of the PNS networks."""

from __future__ import annotations

from .ns_ops import relevance_measuring, spatial_temporal_aggregation
from .tracing import is_exporting

__all__ = ["is_exporting", "relevance_measuring", "spatial_temporal_aggregation"]
