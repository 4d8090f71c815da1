"""The released PNS-Net and PNS+ checkpoints: their configuration, the renaming of their keys to monai_pns's, and
their strict loading."""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
import torch.nn as nn
from monai.utils import look_up_option

from monai_pns.networks.utils import load_state_dict_checked

__all__ = ["OFFICIAL_NORM_SHAPE", "convert_official_state_dict", "load_official_state_dict"]

# The released models were trained on 256 x 448 inputs; their NS LayerNorm is bound to that size at stride 16.
OFFICIAL_NORM_SHAPE = (16, 28)
# Top-level modules of the released networks that forward() never reaches (README of shared/reference).
_UNUSED_PREFIXES = ("feature_extractor.layer4.", "feature_extractor.fc.", "squeeze.")
_SHARED_MODULES = ("feature_extractor", "High_RFB", "Low_RFB", "squeeze", "decoder", "SegNIN")
_NS_BLOCKS = {
    "pnsnet": {"NSB_1": "ns_blocks.0", "NSB_2": "ns_blocks.1"},
    "pnsplus": {"NSB_global": "ns_global", "NSB_local": "ns_local"},
}
# Official name -> monai_pns name, applied in order to every kept key (regular expressions anchored at the start).
_RENAMES = (
    (r"feature_extractor\.", "backbone."),
    (r"High_RFB\.", "high_rfb."),
    (r"Low_RFB\.", "low_rfb."),
    (r"(\w+_rfb)\.global_se\.fc\.", r"\1.excitation."),
    (r"(\w+_rfb\.reduce)\.0\.", r"\1.conv."),
    (r"(\w+_rfb\.reduce)\.1\.", r"\1.adn.N."),
    (r"(\w+_rfb\.reduce)\.2\.", r"\1.adn.A."),
    (r"(\w+_rfb)\.br(\d)\.(\d)\.", r"\1.branches.\2.\3."),
    (r"(\w+_rfb)\.point_global\.", r"\1.fuse."),
    (r"(\w+_rfb\.(?:branches\.\d\.\d|fuse))\.bn\.", r"\1.adn.N."),
    (r"(\w+_rfb\.(?:branches\.\d\.\d|fuse))\.relu\.", r"\1.adn.A."),
    (r"decoder\.up2_high\.conv0\.", "decoder.high_reduce."),
    (r"decoder\.up2_high\.conv1\.", "decoder.high_convs.0."),
    (r"decoder\.up2_high\.conv2\.", "decoder.high_convs.1."),
    (r"decoder\.up2_high\.bn\.", "decoder.high_norm."),
    (r"decoder\.up2_low\.", "decoder.low_reduce."),
    (r"decoder\.up2_bn2\.", "decoder.low_norm."),
    (r"decoder\.up2_act\.", "decoder.act."),
    (r"decoder\.refine\.0\.", "decoder.refine.conv."),
    (r"decoder\.refine\.1\.", "decoder.refine.adn.N."),
    (r"decoder\.refine\.2\.", "decoder.refine.adn.A."),
    (r"SegNIN\.1\.", "decoder.head."),
    (r"(NSB_\w+)\.query_conv\.", r"\1.query."),
    (r"(NSB_\w+)\.key_conv\.", r"\1.key."),
    (r"(NSB_\w+)\.value_conv\.", r"\1.value."),
    (r"(NSB_\w+)\.output_Linear\.", r"\1.out_proj."),
    (r"(NSB_\w+)\.bn\.", r"\1.norm."),
)


def convert_official_state_dict(
    state_dict: Mapping[str, torch.Tensor], arch: str = "pnsnet"
) -> dict[str, torch.Tensor]:
    """Rename a released PNS-Net or PNS+ state dict to the parameter names of monai_pns.

    The ``module.`` prefix of ``nn.DataParallel`` checkpoints is removed; the modules the released forward never
    reaches (backbone stage 4 and classifier, ``squeeze``) are dropped; every other key is renamed, e.g.
    ``High_RFB.point_global.bn.weight`` -> ``high_rfb.fuse.adn.N.weight``, ``NSB_1.query_conv.weight`` ->
    ``ns_blocks.0.query.weight`` (``arch="pnsnet"``) and ``NSB_global.bn.weight`` -> ``ns_global.norm.weight``
    (``arch="pnsplus"``). ``num_batches_tracked`` entries are kept when present. Tensors are not copied.

    Args:
        state_dict: the released checkpoint's state dict.
        arch: ``"pnsnet"`` (GewelsJI/PNS-Net) or ``"pnsplus"`` (GewelsJI/VPS).

    Returns:
        a state dict for :class:`~monai_pns.networks.nets.PNSNet` (``pnsnet``) or
        :class:`~monai_pns.networks.nets.PNSPlusNet` (``pnsplus``) built in the released configuration.

    Raises:
        ValueError: listing the keys that belong to no module of the chosen architecture.

    Examples::

        >>> state = {"module.NSB_1.output_Linear.weight": torch.zeros(32, 32, 1, 1, 1),
        ...          "squeeze.0.bias": torch.zeros(32)}
        >>> list(convert_official_state_dict(state, arch="pnsnet"))
        ['ns_blocks.0.out_proj.weight']
    """
    converted, unknown = _convert_official(state_dict, arch)
    if unknown:
        raise ValueError(f"keys that belong to no module of the released {arch!r} network: {unknown}.")
    return converted


def _convert_official(
    state_dict: Mapping[str, torch.Tensor], arch: str
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The renamed state dict and the keys that belong to no module of ``arch`` (see convert_official_state_dict)."""
    blocks = _NS_BLOCKS[look_up_option(arch, tuple(_NS_BLOCKS))]
    known = (*_SHARED_MODULES, *blocks)
    converted, unknown = {}, []
    for key, value in state_dict.items():
        name = key[len("module."):] if key.startswith("module.") else key
        if "." not in name or name.split(".", 1)[0] not in known:
            unknown.append(key)
            continue
        if name.startswith(_UNUSED_PREFIXES):
            continue
        for pattern, replacement in _RENAMES:
            name = re.sub("^" + pattern, replacement, name)
        top, rest = name.split(".", 1)
        converted[f"{blocks.get(top, top)}.{rest}"] = value
    return converted, unknown


def load_official_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], arch: str, source: str) -> None:
    """Convert a released state dict and load it strictly, listing missing keys as well as keys foreign to ``arch``."""
    converted, unknown = _convert_official(state_dict, arch)
    foreign = {key: state_dict[key] for key in unknown}  # reported as unexpected, next to the missing keys
    load_state_dict_checked(model, {**converted, **foreign}, f"{source} (a released {arch!r} checkpoint)")
