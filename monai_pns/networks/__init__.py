"""Network components: the NS operations, the NS block, the PNS networks and their checkpoint utilities.

Importing this package registers the Res2Net-50 v1b backbone with MONAI's FlexibleUNet (one entry,
``"res2net50_v1b_26w_4s"``, in ``monai.networks.nets.FLEXUNET_BACKBONE``; see :mod:`monai_pns.networks.nets.res2net`).
"""

from __future__ import annotations

from .blocks import LightRFB, NSBlock, PNSDecoder, ns_parameter_groups
from .layers import relevance_measuring, spatial_temporal_aggregation
from .nets import PNSBase, PNSNet, PNSPlusNet, Res2Net, Res2NetBottleneck, Res2NetEncoder, load_res2net_weights
from .nets.official_weights import convert_official_state_dict
from .utils import load_state_dict_checked

__all__ = [
    "LightRFB",
    "NSBlock",
    "PNSBase",
    "PNSDecoder",
    "PNSNet",
    "PNSPlusNet",
    "Res2Net",
    "Res2NetBottleneck",
    "Res2NetEncoder",
    "convert_official_state_dict",
    "load_res2net_weights",
    "load_state_dict_checked",
    "ns_parameter_groups",
    "relevance_measuring",
    "spatial_temporal_aggregation",
]
