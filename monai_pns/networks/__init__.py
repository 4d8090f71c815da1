"""Network components: the NS operations, the NS block and the PNS networks."""

from __future__ import annotations

from .blocks import NSBlock
from .layers import relevance_measuring, spatial_temporal_aggregation

__all__ = ["NSBlock", "relevance_measuring", "spatial_temporal_aggregation"]
