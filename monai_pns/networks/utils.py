"""Network utilities: checkpoint reading, checked state-dict loading and the frames <-> clip reshapes shared by the
networks."""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Mapping

import torch
import torch.nn as nn

__all__ = [
    "clip_to_frames",
    "frames_to_clip",
    "load_checkpoint_file",
    "load_state_dict_checked",
    "resolve_state_dict",
]

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
