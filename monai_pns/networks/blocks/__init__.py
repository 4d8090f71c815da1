"""Reusable blocks of the PNS networks."""

from __future__ import annotations

from .light_rfb import LightRFB
from .ns_block import NSBlock, ns_parameter_groups
from .pns_decoder import PNSDecoder

__all__ = ["LightRFB", "NSBlock", "PNSDecoder", "ns_parameter_groups"]
