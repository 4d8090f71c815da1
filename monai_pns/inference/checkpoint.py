"""Build the network a checkpoint file holds: MONAI model-zoo state dicts, Ignite/MONAI checkpoints, released files.

Rules, in order:

1. ``official=True``: a released PNS-Net or PNS+ checkpoint; the architecture is PNS+ when it holds ``NSB_global``
   keys, PNS-Net otherwise, built in the released configuration (as ``from_official`` builds it).
2. Otherwise the file holds a state dict of a monai_pns network, either at the top level (``torch.save(
   net.state_dict(), ...)``, the model zoo's ``models/model.pt``) or under ``"network"`` or ``"model"`` (a MONAI
   ``CheckpointSaver`` file saved with ``save_dict={"network": net, "optimizer": ...}``).
3. The architecture is ``network_config`` when the file holds one (a top-level entry ``{"name": "PNSNet" |
   "PNSPlusNet", "kwargs": {...}, "clip_length": T, "spatial_size": [H, W], "intensity": {"mean": [...], "std":
   [...]}}``, every field optional; the bundle's saved models hold all of them, see :func:`network_config`, with the
   weights under ``"model"``); otherwise it is
   read from the state dict as far as the weights show it: PNS+ when it holds ``ns_global.*`` keys, the number of NS
   blocks, the released size-bound norm (``norm_shape``) or none (``use_norm=False``), the input and output
   channels. Everything else takes the constructor defaults (``radius=3``, default dilations, raw-score
   aggregation, ...): a network trained with other values needs ``network_config``.
4. Loading is strict: missing, unexpected and mis-shaped keys are listed in one error.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn as nn
from monai.utils import look_up_option

from monai_pns.networks import PNSBase, PNSNet, PNSPlusNet
from monai_pns.networks.nets.official_weights import OFFICIAL_NORM_SHAPE, load_official_state_dict
from monai_pns.networks.utils import load_checkpoint_file, load_state_dict_checked
from monai_pns.transforms.normalization import PNS_MEAN, PNS_STD

__all__ = [
    "DEFAULT_NETWORK_CONFIG",
    "NETWORKS",
    "NetworkSpec",
    "check_network_config",
    "checkpoint_network_config",
    "load_network",
    "network_config",
    "network_spec_from_state_dict",
    "read_network_config",
]

#: the architectures a checkpoint's ``network_config["name"]`` may name
NETWORKS: dict[str, type[PNSBase]] = {"PNSNet": PNSNet, "PNSPlusNet": PNSPlusNet}
_CONFIG_FIELDS = ("name", "kwargs", "clip_length", "spatial_size", "intensity")
#: the bundle setting behind each ``network_config`` field whose name differs
_SETTING_NAMES = {"name": "network", "kwargs": "network_kwargs", "intensity": "pixel_mean / pixel_std"}
#: where a MONAI ``CheckpointSaver`` file holding several objects keeps the network (``save_dict`` keys)
_STATE_KEYS = ("network", "model")


@dataclass
class NetworkSpec:
    """What a checkpoint says about its network: the class name, constructor arguments and, optionally, the clip
    length (local frames, the PNS+ anchor not counted), the input size (H, W) and the per-channel intensity
    normalisation (``{"mean": [...], "std": [...]}``) it was trained with."""

    name: str = "PNSNet"
    kwargs: dict = field(default_factory=dict)
    clip_length: int | None = None
    spatial_size: tuple[int, int] | None = None
    intensity: dict | None = None

    @property
    def uses_anchor(self) -> bool:
        """Whether the network takes the video's first frame as an anchor before the clip: its class's
        ``takes_anchor`` (PNS+)."""
        return NETWORKS[self.name].takes_anchor

    def build(self) -> nn.Module:
        return NETWORKS[self.name](**self.kwargs)


def _ns_block_indices(state: Mapping[str, torch.Tensor]) -> set[int]:
    return {int(m.group(1)) for k in state if (m := re.match(r"ns_blocks\.(\d+)\.", k))}


def network_spec_from_state_dict(state: Mapping[str, torch.Tensor]) -> NetworkSpec:
    """The architecture as far as a monai_pns state dict shows it (rule 3 of this module).

    Examples::

        >>> network_spec_from_state_dict(PNSNet(num_blocks=1, norm_shape=(16, 28)).state_dict()).kwargs
        {'in_channels': 3, 'out_channels': 1, 'num_blocks': 1, 'norm_shape': (16, 28)}
    """
    kwargs: dict = {}
    if "backbone.conv1.0.weight" in state:
        kwargs["in_channels"] = int(state["backbone.conv1.0.weight"].shape[1])
    if "decoder.head.weight" in state:
        kwargs["out_channels"] = int(state["decoder.head.weight"].shape[0])
    plus = any(k.startswith("ns_global.") for k in state)
    blocks = ("ns_global", "ns_local") if plus else tuple(f"ns_blocks.{i}" for i in sorted(_ns_block_indices(state)))
    if not plus:
        kwargs["num_blocks"] = len(blocks)
    if blocks:
        norm = state.get(f"{blocks[0]}.norm.weight")
        if norm is None:
            kwargs["use_norm"] = False
        elif norm.ndim == 3:  # the released LayerNorm, (C/N, h, w)
            kwargs["norm_shape"] = (int(norm.shape[1]), int(norm.shape[2]))
    return NetworkSpec(name="PNSPlusNet" if plus else "PNSNet", kwargs=kwargs)


def _check_config(config: object, source: str) -> Mapping:
    """``config`` when it has the form of a ``network_config`` (any network name), else a ValueError naming
    ``source`` and the field at fault."""
    if not isinstance(config, Mapping) or not set(config) <= set(_CONFIG_FIELDS):
        raise ValueError(
            f"'network_config' in {source} must be a dict with keys among {list(_CONFIG_FIELDS)}, got {config!r}."
        )
    kwargs = config.get("kwargs", {})
    clip_length = config.get("clip_length")
    size = config.get("spatial_size")
    intensity = config.get("intensity")
    if not isinstance(kwargs, Mapping):
        raise ValueError(f"'network_config' in {source}: 'kwargs' must be a dict, got {kwargs!r}.")
    if clip_length is not None and (not isinstance(clip_length, int) or clip_length < 1):
        raise ValueError(f"'network_config' in {source}: 'clip_length' must be a positive int, got {clip_length!r}.")
    if size is not None and (not isinstance(size, (list, tuple)) or len(size) != 2):
        raise ValueError(f"'network_config' in {source}: 'spatial_size' must be [H, W], got {size!r}.")
    if intensity is not None and (not isinstance(intensity, Mapping) or set(intensity) != {"mean", "std"}):
        raise ValueError(
            f"'network_config' in {source}: 'intensity' must be {{'mean': [...], 'std': [...]}}, got {intensity!r}."
        )
    return config


def _spec_from_config(config: object, source: str) -> NetworkSpec:
    config = _check_config(config, source)
    name = look_up_option(config.get("name", "PNSNet"), tuple(NETWORKS))
    size, intensity = config.get("spatial_size"), config.get("intensity")
    return NetworkSpec(
        name=name, kwargs=dict(config.get("kwargs", {})), clip_length=config.get("clip_length"),
        spatial_size=None if size is None else tuple(size),
        intensity=None if intensity is None else dict(intensity),
    )


def _plain(value: object, where: str) -> object:
    """``value`` as the plain types a ``weights_only`` load accepts (tuples become lists), or a ValueError naming
    ``where``."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return {k: _plain(v, f"{where}.{k}") for k, v in value.items()}
    raise ValueError(
        f"{where}={value!r} cannot be stored in a checkpoint: use str, int, float, bool, None, lists and dicts."
    )


def network_config(
    name: str,
    kwargs: Mapping,
    clip_length: int,
    spatial_size: Sequence[int],
    mean: Sequence[float],
    std: Sequence[float],
) -> dict:
    """The definition a trained model carries next to its weights (``"network_config"``, rule 3 of this module):
    everything needed to rebuild the network and feed it, in plain types (``torch.load(..., weights_only=True)``).

    Raises:
        ValueError: naming the setting that holds a value of another type.

    Examples::

        >>> network_config("PNSNet", {"num_blocks": 1}, 5, (128, 224), (0.5,) * 3, (0.25,) * 3)["spatial_size"]
        [128, 224]
    """
    return _plain(
        {"name": name, "kwargs": dict(kwargs), "clip_length": clip_length, "spatial_size": spatial_size,
         "intensity": {"mean": mean, "std": std}},
        "network_config",
    )


#: the bundle's training defaults (train.json), assumed for a checkpoint that holds no ``network_config``
DEFAULT_NETWORK_CONFIG = network_config("PNSNet", {}, 5, (128, 224), PNS_MEAN, PNS_STD)


def read_network_config(path: str | os.PathLike) -> dict | None:
    """The ``network_config`` a checkpoint file holds; None for a file without one (a plain state dict, a released
    checkpoint) or no file at ``path`` (whoever loads the weights reports that).

    Raises:
        ValueError: naming the file when it is not a checkpoint or its ``network_config`` is invalid.
    """
    if not os.path.isfile(path):
        return None
    checkpoint = load_checkpoint_file(path)
    config = checkpoint.get("network_config") if isinstance(checkpoint, Mapping) else None
    if config is None:
        return None
    return dict(_check_config(config, f"'{os.fspath(path)}'"))


def checkpoint_network_config(path: str | os.PathLike, official: bool = False) -> dict:
    """The definition a bundle run uses for a checkpoint: the file's own ``network_config``, each field it lacks
    taken from :data:`DEFAULT_NETWORK_CONFIG`, the bundle's training defaults (all of them for a released checkpoint,
    a plain state dict or no file at ``path``, which whoever loads the weights reports).

    Raises:
        ValueError: naming the file when it is not a checkpoint or its ``network_config`` is invalid.
    """
    stored = None if official else read_network_config(path)
    return copy.deepcopy({**DEFAULT_NETWORK_CONFIG, **(stored or {})})


def check_network_config(path: str | os.PathLike, settings: Mapping) -> None:
    """Check that the settings a model is about to run with agree with the ``network_config`` of its checkpoint (none:
    nothing to check).

    Args:
        path: the checkpoint file.
        settings: a :func:`network_config` built from the run's settings.

    Raises:
        ValueError: naming the file, the field, its value in the checkpoint and in the settings, and the fix.
    """
    stored = read_network_config(path)
    if stored is None:
        return
    wanted = _plain(dict(settings), "settings")
    for key, value in stored.items():
        given = wanted.get(key)  # type: ignore[union-attr]
        if given is not None and given != value:
            setting = _SETTING_NAMES.get(key, key)
            raise ValueError(
                f"checkpoint '{os.fspath(path)}' was trained with {key}={value!r} (its network_config), but the "
                f"settings give {setting}={given!r}: drop that override, or merge the configs the model was trained "
                "with."
            )


def _network_state(checkpoint: object, source: str) -> Mapping[str, torch.Tensor]:
    for key in _STATE_KEYS:
        if isinstance(checkpoint, Mapping) and isinstance(checkpoint.get(key), Mapping):
            return checkpoint[key]
    if isinstance(checkpoint, Mapping) and checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return checkpoint
    if isinstance(checkpoint, Mapping):
        found = [k for k in checkpoint if not isinstance(checkpoint[k], torch.Tensor)][:8]
        raise ValueError(
            f"{source} holds no network state dict: expected tensors at the top level or a state dict under "
            f"{' or '.join(repr(k) for k in _STATE_KEYS)}, found entries {found}."
        )
    raise ValueError(f"{source} holds a {type(checkpoint).__name__}, not a state dict.")


def load_network(path: str | os.PathLike, official: bool = False) -> tuple[nn.Module, NetworkSpec]:
    """Build and load the network of a checkpoint file, following the rules of :mod:`monai_pns.inference.checkpoint`.

    Args:
        path: the checkpoint, loaded with ``torch.load(..., weights_only=True)``.
        official: the file is a released PNS-Net / PNS+ checkpoint.

    Returns:
        the network (in eval mode, on the CPU) and its :class:`NetworkSpec`.

    Raises:
        ValueError: naming the file when it is not a checkpoint, holds no state dict, has an invalid
            ``network_config``, or does not match the architecture (listing the keys at fault).

    Examples::

        >>> net, spec = load_network("models/model.pt")  # doctest: +SKIP
        >>> spec.name, spec.uses_anchor
        ('PNSNet', False)
    """
    source = f"'{os.fspath(path)}'"
    checkpoint = load_checkpoint_file(path)
    if official:
        if not isinstance(checkpoint, Mapping):
            raise ValueError(f"{source} holds a {type(checkpoint).__name__}, not a released state dict.")
        plus = any(k.removeprefix("module.").startswith("NSB_global.") for k in checkpoint)
        spec = NetworkSpec(name="PNSPlusNet" if plus else "PNSNet", kwargs={"norm_shape": OFFICIAL_NORM_SHAPE})
        net = spec.build()
        load_official_state_dict(net, checkpoint, "pnsplus" if plus else "pnsnet", source)
        return net.eval(), spec
    state = _network_state(checkpoint, source)
    config = checkpoint.get("network_config") if isinstance(checkpoint, Mapping) else None
    spec = network_spec_from_state_dict(state) if config is None else _spec_from_config(config, source)
    try:
        net = spec.build()
    except (TypeError, ValueError) as err:
        raise ValueError(f"cannot build {spec.name}(**{spec.kwargs}) from {source}: {err}") from None
    load_state_dict_checked(net, state, f"{source} ({spec.name} with {spec.kwargs})")
    return net.eval(), spec
