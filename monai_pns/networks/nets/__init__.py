"""Complete networks: PNS-Net, PNS+ and their Res2Net backbone (also a MONAI FlexibleUNet encoder)."""

from __future__ import annotations

from .pnsnet import PNSNet, PNSPlusNet
from .res2net import Res2Net, Res2NetBottleneck, Res2NetEncoder, load_res2net_weights

__all__ = ["PNSNet", "PNSPlusNet", "Res2Net", "Res2NetBottleneck", "Res2NetEncoder", "load_res2net_weights"]
