"""The input normalisation of the PNS-Net protocol."""

from __future__ import annotations

__all__ = ["PNS_MEAN", "PNS_STD"]

#: the channel-wise mean and std the released PNS-Net code intends to normalise with (RGB, images in [0, 1]); the
#: bundle's ``pixel_mean`` / ``pixel_std`` and the inference of a checkpoint without its definition use them
PNS_MEAN = (0.4733, 0.4487, 0.3949)
PNS_STD = (0.2267, 0.2201, 0.2238)
