"""Live inference: one frame in, the newest frame's mask out, from a causal window of the last T frames."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import torch

from monai_pns.inference.predictor import FramePredictor, probabilities_at
from monai_pns.networks import PNSBase

__all__ = ["StreamingPredictor"]


class StreamingPredictor(FramePredictor):
    """Segment a live video frame by frame with PNS-Net or PNS+, from a causal window of the last T frames.

    Each new frame goes through the backbone and the reducers once; their outputs are cached for the next T - 1
    frames. The NS blocks then run on the window's cached features, the last block for the newest query frame only
    (:meth:`~monai_pns.networks.PNSNet.refine` with ``last_only=True``), and the decoder on the newest frame. The
    result equals the offline network run on the same window, ``network(window)[:, :, -1]``: at the start of a
    stream the window holds the frames seen so far (1, 2, ..., T). For a network that takes an anchor
    (``takes_anchor``: PNS+) the first frame pushed after :meth:`reset` is the anchor (it is predicted too, as the
    only local frame of its own window).

    Args:
        network: a :class:`~monai_pns.networks.PNSNet` or :class:`~monai_pns.networks.PNSPlusNet` in eval mode, or
            its :func:`~monai_pns.inference.optimize_network` form.
        kwargs: ``spatial_size``, ``clip_length`` (T, the window length: local frames for PNS+), ``normalize``,
            ``mean``, ``std``, as in :class:`~monai_pns.inference.predictor.FramePredictor`.

    Examples::

        >>> stream = StreamingPredictor(PNSNet().eval(), spatial_size=(64, 112))
        >>> stream(np.zeros((48, 80, 3), np.uint8)).shape  # probability of the newest frame
        (48, 80)
    """

    def __init__(self, network: PNSBase, **kwargs: Any) -> None:
        if not isinstance(network, PNSBase):
            raise ValueError(f"network must be a PNSNet or PNSPlusNet, got {type(network).__name__}.")
        super().__init__(network, **kwargs)
        self.dtype = next(network.parameters()).dtype
        self._features: deque[torch.Tensor] = deque(maxlen=self.clip_length)
        self._anchor: torch.Tensor | None = None

    def reset(self) -> None:
        """Forget the cached frames (a new video starts; for PNS+ the next frame is its anchor)."""
        self._features.clear()
        self._anchor = None

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """RGB ``uint8`` (H, W, 3) frame -> its foreground probability, ``float32`` (H, W)."""
        net = self.network
        x = self.preprocess(frame)[None].to(self.dtype)
        with torch.inference_mode():
            low, high = net.encode(x)
            if net.takes_anchor and self._anchor is None:
                self._anchor = high
            self._features.append(high)
            clip = torch.stack(list(self._features), dim=2)  # (1, C', T, h', w')
            if self._anchor is not None:
                clip = torch.cat([self._anchor[:, :, None], clip], dim=2)
            refined = net.refine(clip, last_only=True)[:, :, 0]
            logits = net.decoder(low, refined, x.shape[-2:])
        return probabilities_at(logits, frame.shape[:2])[0]
