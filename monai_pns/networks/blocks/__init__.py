"""PNS network blocks."""

from __future__ import annotations

__all__: list[str] = []
