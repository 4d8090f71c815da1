"""Random training clips: a window of T frames (optionally after an anchor frame) drawn from a case."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, Randomizable

from monai_pns.data.frame_keys import FRAME_INDEX
from monai_pns.transforms.frame_meta import with_frame_meta

__all__ = ["RandClipWindowd", "clip_window", "count_frames", "select_frames", "window_starts"]


def _span(clip_length: int, stride: int) -> int:
    return (clip_length - 1) * stride + 1


def window_starts(num_frames: int, clip_length: int, stride: int = 1, exclude_ends: bool = True) -> range:
    """The admissible first frames of a window of ``clip_length`` frames ``stride`` apart.

    With ``exclude_ends`` the window never contains the first or the last frame of the case (the released PNS-Net
    fine-tuning; the evaluation skips those frames too), when the case is long enough for that. A case shorter
    than the window has the single start that centres it; :func:`clip_window` then repeats the edge frames.
    """
    if num_frames < 1 or clip_length < 1 or stride < 1:
        raise ValueError(f"need num_frames, clip_length, stride >= 1, got {num_frames=}, {clip_length=}, {stride=}.")
    span = _span(clip_length, stride)
    if exclude_ends and num_frames - 2 >= span:
        return range(1, num_frames - span)
    if num_frames >= span:
        return range(0, num_frames - span + 1)
    start = -((span - num_frames) // 2)
    return range(start, start + 1)


def clip_window(start: int, num_frames: int, clip_length: int, stride: int = 1) -> list[int]:
    """Frame indices ``start, start + stride, ...`` (``clip_length`` of them), clamped to ``[0, num_frames - 1]``
    so that a window reaching past either end repeats the edge frame."""
    return [min(max(start + i * stride, 0), num_frames - 1) for i in range(clip_length)]


def _length(value: object, key: Hashable) -> int:
    if isinstance(value, (list, tuple)):
        return len(value)
    if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 4:
        return int(value.shape[1])
    raise ValueError(f"key '{key}': expected a list of frames or a (C, T, H, W) array, got {type(value).__name__}.")


def select_frames(value: object, indices: Sequence[int], writes: Sequence[bool] | None = None) -> object:
    """Frames ``indices`` of a list of frame refs, or of a (C, T, H, W) tensor/array along T.

    A loaded ``MetaTensor`` gets its per-frame metadata (``frame_index``, ``frame_path``, ...) cut likewise, with
    ``writes`` as its new ``frame_write`` flags when given.
    """
    if isinstance(value, (list, tuple)):
        return [value[i] for i in indices]
    if isinstance(value, torch.Tensor):
        selected = value[:, torch.as_tensor(list(indices), dtype=torch.long, device=value.device)]
        return with_frame_meta(selected, indices, writes)
    return value[:, list(indices)]  # type: ignore[index]


def count_frames(data: Mapping[Hashable, object], keys: Sequence[Hashable]) -> int:
    """The number of frames N shared by ``keys`` (lists of N refs or (C, N, H, W) arrays); ValueError otherwise."""
    lengths = {key: _length(data[key], key) for key in keys}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"keys have different numbers of frames: {lengths}.")
    return next(iter(lengths.values()))


class RandClipWindowd(Randomizable, MapTransform):
    """Draw a random window of ``clip_length`` frames from a case (one draw for all ``keys``).

    Works before loading (on the lists of frame refs of a datalist case: only the window is then read) or after
    it (on (C, N, H, W) tensors: the case can be cached whole; a loaded ``MetaTensor``'s frame metadata is cut to
    the window too). The window's frame indices are stored under ``index_key``. Draws come from ``self.R`` (MONAI
    ``Randomizable``), so ``set_random_state`` on the transform or its ``Compose``, and
    ``monai.utils.set_determinism`` with a MONAI ``DataLoader``, make them reproducible.

    With ``anchor`` (PNS+) frame 0 of the case is put before the window: T becomes ``1 + clip_length``.

    Args:
        keys: keys holding the case's frames (lists or (C, N, H, W)); all must have N frames.
        clip_length: frames in the window (T).
        stride: step between window frames.
        exclude_ends: keep the first and the last frame of the case out of the window (see :func:`window_starts`).
        anchor: prepend frame 0 of the case (PNS+ anchor frame).
        index_key: key receiving the list of case frame indices of the output frames.
        allow_missing_keys: don't raise when a key is missing.

    Examples::

        >>> sample = RandClipWindowd(keys=("image", "label"), clip_length=5)
        >>> sample.set_random_state(0)
        >>> d = sample({"image": [f"{i}.jpg" for i in range(12)], "label": [f"{i}.png" for i in range(12)]})
        >>> len(d["image"]), d["frame_index"]  # 5, five consecutive indices within 1..10
    """

    def __init__(
        self,
        keys: KeysCollection,
        clip_length: int = 5,
        stride: int = 1,
        exclude_ends: bool = True,
        anchor: bool = False,
        index_key: str = FRAME_INDEX,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        if clip_length < 1:
            raise ValueError(f"clip_length must be >= 1, got clip_length={clip_length}.")
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got stride={stride}.")
        self.clip_length = clip_length
        self.stride = stride
        self.exclude_ends = exclude_ends
        self.anchor = anchor
        self.index_key = index_key
        self._start = 0

    def randomize(self, num_frames: int) -> None:
        starts = window_starts(num_frames, self.clip_length, self.stride, self.exclude_ends)
        self._start = starts[int(self.R.randint(len(starts)))]

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        keys = list(self.key_iterator(d))
        if not keys:
            raise ValueError(f"none of the keys {self.keys} is in the data.")
        num_frames = count_frames(d, keys)
        self.randomize(num_frames)
        indices = clip_window(self._start, num_frames, self.clip_length, self.stride)
        if self.anchor:
            indices = [0] + indices
        for key in keys:
            d[key] = select_frames(d[key], indices)
        d[self.index_key] = indices
        return d
