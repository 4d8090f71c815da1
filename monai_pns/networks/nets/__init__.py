"""PNS network nets."""

from __future__ import annotations

__all__: list[str] = []
