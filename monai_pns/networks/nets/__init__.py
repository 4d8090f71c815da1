"""Complete networks: PNS-Net, PNS+ and their Res2Net backbone (also a MONAI FlexibleUNet encoder), and the
converter of the released PNS-Net / PNS+ checkpoints."""

from __future__ import annotations

from .official_weights import convert_official_state_dict
from .pnsnet import PNSBase, PNSNet, PNSPlusNet
from .res2net import Res2Net, Res2NetBottleneck, Res2NetEncoder, load_res2net_weights

__all__ = [
    "PNSBase",
    "PNSNet",
    "PNSPlusNet",
    "Res2Net",
    "Res2NetBottleneck",
    "Res2NetEncoder",
    "convert_official_state_dict",
    "load_res2net_weights",
]
