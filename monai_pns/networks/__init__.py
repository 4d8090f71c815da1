"""Network components: the NS operations, the NS block and the PNS networks."""

from __future__ import annotations

__all__: list[str] = []
