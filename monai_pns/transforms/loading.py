"""Load frames and masks named in a datalist entry into clip tensors."""

from __future__ import annotations

import os
import warnings
from collections.abc import Hashable, Mapping, Sequence

import cv2
import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform
from monai.utils import ensure_tuple

from monai_pns.data.frame_keys import FRAME_INDEX, FRAME_PATH, FRAME_WRITE, VIDEO_ID
from monai_pns.data.image_io import read_frames
from monai_pns.transforms.frame_meta import frame_meta

__all__ = ["LoadFramesd"]


class LoadFramesd(MapTransform):
    """Read the frames named under ``keys`` and stack them into a channel-first tensor.

    A list of frame refs (image paths or ``"<video>#<index>"``) becomes a clip (C, T, H, W); a single path becomes
    an image (C, H, W). Frames are RGB ``float32`` in [0, 1] (C = 3); keys in ``mask_keys`` are masks, read as grey
    and binarised as ``value > mask_threshold`` (C = 1, values 0. and 1.). Greyscale, RGBA and 16-bit files are
    converted. A mask whose size differs from the matching frame of the first image key is resized to it (nearest)
    with a warning naming the file; frames of one clip with different sizes are an error.

    Mask threshold: ``> 128`` is the evaluation toolboxes' rule and Kvasir-SEG's JPEG masks need it; the released
    PNS-Net training counts only pixels equal to 255 (after nearest resizing) as polyp: ``mask_threshold=254``
    reproduces that.

    Every loaded tensor is a ``MetaTensor`` whose ``.meta`` holds the frame metadata of
    :mod:`monai_pns.data.frame_keys`, taken from the item: ``video_id`` from ``case_key`` (left out when
    the item has none), ``frame_index`` from ``index_key`` (default ``0..T-1``, or 0 for a single image),
    ``frame_write`` from ``write_key`` (default all True), ``frame_path`` from ``path_key`` (default the frame refs
    of the first non-mask key) and ``spatial_shape``, the original (T, H, W) or (H, W). The item's own keys are
    left as they are.

    Args:
        keys: keys of the frame refs to load.
        mask_keys: those of ``keys`` holding masks.
        mask_threshold: a mask pixel is foreground when its grey value is greater than this (0-254).
        case_key: item key of the video id (the datalist's case name).
        index_key, write_key, path_key: item keys of the per-frame bookkeeping written by
            :class:`SequentialClipsd` / :class:`RandClipWindowd`.
        allow_missing_keys: don't raise when a key is missing (inference without masks).

    Examples::

        >>> load = LoadFramesd(keys=("image", "label"))
        >>> d = load({"image": ["1.jpg", "2.jpg"], "label": ["1.png", "2.png"], "case": "CVC-300/1"})
        >>> d["image"].shape, d["label"].shape  # (3, 2, H, W), (1, 2, H, W)
        >>> d["label"].meta["video_id"], d["label"].meta["frame_index"]  # 'CVC-300/1', tensor([0, 1])
    """

    def __init__(
        self,
        keys: KeysCollection,
        mask_keys: KeysCollection = ("label",),
        mask_threshold: int = 128,
        case_key: str = "case",
        index_key: str = FRAME_INDEX,
        write_key: str = FRAME_WRITE,
        path_key: str = FRAME_PATH,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.mask_keys = ensure_tuple(mask_keys)
        if not 0 <= mask_threshold < 255:
            raise ValueError(f"mask_threshold must be in [0, 254], got mask_threshold={mask_threshold}.")
        self.mask_threshold = mask_threshold
        self.case_key = case_key
        self.index_key = index_key
        self.write_key = write_key
        self.path_key = path_key

    @staticmethod
    def _check_one_size(key: Hashable, refs: Sequence[str], frames: Sequence[np.ndarray]) -> None:
        first = frames[0].shape[:2]
        bad = next((i for i, f in enumerate(frames) if f.shape[:2] != first), None)
        if bad is not None:
            raise ValueError(
                f"key '{key}': frame '{refs[bad]}' is {frames[bad].shape[:2]} but '{refs[0]}' is {first} "
                "(frames of one clip must have one size)."
            )

    def _item_meta(self, d: Mapping[Hashable, object], refs: list[str], single: bool) -> dict[str, object]:
        """The item's frame metadata (``spatial_shape`` aside), each per-frame value checked against the item."""
        count = len(refs)
        sources = {  # meta key: (item key, default)
            FRAME_INDEX: (self.index_key, 0 if single else list(range(count))),
            FRAME_WRITE: (self.write_key, True if single else [True] * count),
            FRAME_PATH: (self.path_key, refs[0] if single else refs),
        }
        meta: dict[str, object] = {VIDEO_ID: d.get(self.case_key)}
        for name, (key, default) in sources.items():
            value = d.get(key, default)
            array_like = isinstance(value, (torch.Tensor, np.ndarray))
            is_sequence = isinstance(value, (list, tuple)) or (array_like and value.ndim > 0)  # type: ignore[union-attr]
            if is_sequence == single or (not single and len(value) != count):  # type: ignore[arg-type]
                want = "one value" if single else f"{count} values, one per frame"
                raise ValueError(f"item key '{key}' must hold {want}, got {key}={value!r}.")
            meta[name] = value
        return meta

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        reference: list[tuple[int, int]] | None = None
        item_meta: dict[str, object] | None = None
        keys = list(self.key_iterator(d))
        for key in sorted(keys, key=lambda k: k in self.mask_keys):  # frames first: masks are fitted to them
            value = d[key]
            single = isinstance(value, (str, os.PathLike))
            refs = [os.fspath(value)] if single else [os.fspath(v) for v in value]  # type: ignore[attr-defined]
            if not refs:
                raise ValueError(f"key '{key}': empty list of frames.")
            if item_meta is None:
                item_meta = self._item_meta(data, refs, single)
            frames = read_frames(refs, mask=key in self.mask_keys)
            if key in self.mask_keys:
                if reference is not None:
                    if len(reference) != len(frames):
                        raise ValueError(f"key '{key}': {len(frames)} masks for {len(reference)} frames.")
                    frames = [self._fit(m, size, ref) for m, size, ref in zip(frames, reference, refs)]
                self._check_one_size(key, refs, frames)
                array = np.stack(frames)[None] > self.mask_threshold  # (1, T, H, W)
                tensor = torch.from_numpy(array.astype(np.float32))
            else:
                self._check_one_size(key, refs, frames)
                if reference is None:
                    reference = [f.shape[:2] for f in frames]
                array = np.stack(frames).transpose(3, 0, 1, 2)  # (3, T, H, W)
                tensor = torch.from_numpy(np.ascontiguousarray(array)).float().div_(255.0)
            tensor = tensor[:, 0] if single else tensor
            d[key] = MetaTensor(tensor, meta=frame_meta(spatial_shape=tensor.shape[1:], **item_meta))
        return d

    @staticmethod
    def _fit(mask: np.ndarray, size: tuple[int, int], ref: str) -> np.ndarray:
        if mask.shape[:2] == size:
            return mask
        warnings.warn(f"mask '{ref}' is {mask.shape[:2]}, its frame is {size}: resized (nearest) to the frame size.")
        return cv2.resize(mask, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
