"""Complete networks: PNS-Net, PNS+ and their Res2Net backbone (also a MONAI FlexibleUNet encoder); the released
PNS-Net / PNS+ checkpoints are read by :mod:`.official_weights`."""

from __future__ import annotations

from .pnsnet import PNSBase, PNSNet, PNSPlusNet
from .res2net import Res2Net, Res2NetBottleneck, Res2NetEncoder, load_res2net_weights

__all__ = ["PNSBase", "PNSNet", "PNSPlusNet", "Res2Net", "Res2NetBottleneck", "Res2NetEncoder", "load_res2net_weights"]
