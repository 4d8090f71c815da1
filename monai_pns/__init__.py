"""monai_pns: PNS-Net and PNS+ video polyp segmentation as a MONAI plugin."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
