"""Reusable blocks of the PNS networks."""

from __future__ import annotations

from .ns_block import NSBlock

__all__ = ["NSBlock"]
