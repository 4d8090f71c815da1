"""Network utilities: checkpoint reading, checked state-dict loading, the converter of the released PNS-Net / PNS+
checkpoints, and the frames <-> clip reshapes shared by the networks."""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from collections.abc import Mapping

import torch
import torch.nn as nn
from monai.utils import look_up_option

__all__ = [
    "clip_to_frames",
    "convert_official_state_dict",
    "frames_to_clip",
    "load_checkpoint_file",
    "load_state_dict_checked",
    "resolve_state_dict",
]

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


def clip_to_frames(x: torch.Tensor) -> torch.Tensor:
    """(B, C, T, H, W) -> (B*T, C, H, W): every frame of every clip as one image batch, clip-major."""
    b, c, t, h, w = x.shape
    return x.transpose(1, 2).reshape(b * t, c, h, w)


def frames_to_clip(x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(B*T, C, H, W) -> (B, C, T, H, W), the inverse of :func:`clip_to_frames` (a view: no copy is made)."""
    _, c, h, w = x.shape
    return x.view(batch_size, -1, c, h, w).transpose(1, 2)


def _archive_damage(path: str) -> str | None:
    """Why a file in PyTorch's zip format is damaged: cut short, or a record failing its CRC-32 (``torch.load``
    does not check them: a flipped byte in a tensor loads silently). None for a whole archive or another format."""
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":
            return None
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError):
        return f"the zip archive has no directory at its end: cut short ({os.path.getsize(path)} bytes)"
    return None if bad is None else f"record '{bad}' fails its CRC-32 check"


def load_checkpoint_file(path: str | os.PathLike) -> object:
    """``torch.load(path, map_location="cpu", weights_only=True)`` with one clear error for a file that is not one.

    A file in PyTorch's (zip) format has its records' CRC-32 checked first.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ValueError: naming ``path`` when it is truncated or corrupt, or is not a PyTorch checkpoint (or holds objects
            ``weights_only`` refuses).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint file not found: '{path}'.")
    damage = _archive_damage(path)
    if damage is not None:
        raise ValueError(f"checkpoint '{path}' is truncated or corrupt: {damage}.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except EOFError:
        raise ValueError(
            f"checkpoint '{path}' is truncated or corrupt: it ends early ({os.path.getsize(path)} bytes)."
        ) from None
    except (pickle.UnpicklingError, RuntimeError, ValueError, AttributeError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"'{path}' is not a PyTorch checkpoint that loads with weights_only=True ({reason})."
        ) from None


def resolve_state_dict(
    weights: str | os.PathLike | Mapping[str, torch.Tensor], what: str = "weights"
) -> tuple[Mapping[str, torch.Tensor], str]:
    """A path (loaded with :func:`load_checkpoint_file`) or a state dict -> ``(state dict, how to name it)``.

    Args:
        weights: a checkpoint file holding a state dict, or the state dict itself.
        what: what the weights are, for the error message.

    Raises:
        ValueError: when the file does not hold a mapping (naming the file and the type found).
    """
    if isinstance(weights, (str, os.PathLike)):
        source = f"'{os.fspath(weights)}'"
        weights = load_checkpoint_file(weights)
    else:
        source = "the given state dict"
    if not isinstance(weights, Mapping):
        raise ValueError(f"{what} in {source} must be a state dict, got {type(weights).__name__}.")
    return weights, source


def load_state_dict_checked(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """``model.load_state_dict(state, strict=True)`` raising one ValueError that lists every key at fault.

    ``num_batches_tracked`` buffers may be absent from ``state`` (checkpoints of older PyTorch versions); they keep the
    model's value. Any other missing key, any unexpected key and any shape mismatch is an error.

    Args:
        model: the network to load into.
        state: the state dict.
        source: how to name ``state`` in the error message (e.g. its file).

    Raises:
        ValueError: listing missing keys, unexpected keys and shape mismatches.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k}: {tuple(state[k].shape)} vs {tuple(expected[k].shape)}"
        for k in state
        if k in expected and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or mismatched:
        raise ValueError(
            f"cannot load {source} into {type(model).__name__}: missing keys {missing}, unexpected keys {unexpected}, "
            f"shape mismatches (checkpoint vs model) {mismatched}."
        )
    model.load_state_dict({**{k: v for k, v in expected.items() if k not in state}, **state}, strict=True)


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
