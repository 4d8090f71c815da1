"""Test-time clips: cover a whole video with consecutive clips so that every frame is predicted exactly once."""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable, Mapping, Sequence

from monai.config import KeysCollection
from monai.transforms import MapTransform

from monai_pns.data.frame_keys import FRAME_INDEX, FRAME_PATH, FRAME_WRITE
from monai_pns.transforms.window import count_frames, clip_window, select_frames

__all__ = ["SequentialClipsd", "expand_frames", "expand_sequential_clips", "sequential_windows"]


def sequential_windows(num_frames: int, clip_length: int) -> list[tuple[list[int], list[bool]]]:
    """Consecutive non-overlapping windows covering ``num_frames`` frames, the last one shifted to end at the final
    frame (the released PNS-Net testing). Each window comes with its write flags: True where the output frame is
    that frame's first appearance, so every frame is written exactly once. A video shorter than ``clip_length``
    gives one window repeating its edge frames.

    Example: 12 frames, clip_length 5 -> frames 0-4, 5-9 and 7-11 with only 10 and 11 written by the last clip.
    """
    if num_frames < 1 or clip_length < 1:
        raise ValueError(f"need num_frames, clip_length >= 1, got {num_frames=}, {clip_length=}.")
    if num_frames < clip_length:
        starts = [-((clip_length - num_frames) // 2)]
    else:
        starts = list(range(0, num_frames - clip_length + 1, clip_length))
        if starts[-1] + clip_length < num_frames:
            starts.append(num_frames - clip_length)
    seen: set[int] = set()
    windows = []
    for start in starts:
        indices = clip_window(start, num_frames, clip_length)
        writes = []
        for i in indices:
            writes.append(i not in seen)
            seen.add(i)
        windows.append((indices, writes))
    return windows


class SequentialClipsd(MapTransform):
    """Split a case into the consecutive clips of :func:`sequential_windows`: returns a list of dicts.

    Each output dict is a copy of the input with ``keys`` cut to the clip (lists of frame refs, or (C, N, H, W)
    tensors along N), plus, per output frame: ``index_key`` (the frame's index in the case), ``write_key`` (True
    where this clip is the one whose prediction of that frame must be written) and ``path_key`` (the frame ref of
    the first key, when it holds refs). With ``anchor`` (PNS+) frame 0 is put first in every clip with write flag
    False: clips have ``1 + clip_length`` frames.

    MONAI's ``Compose`` applies the following transforms to each clip and ``list_data_collate`` flattens the
    lists; :func:`expand_sequential_clips` gives the same clips as a flat datalist instead. On loaded
    ``MetaTensor`` cases the per-frame metadata is cut likewise (see :func:`select_frames`); otherwise
    :class:`LoadFramesd` records these keys, and the item's ``"case"``, in the loaded tensors' metadata.

    Args:
        keys: keys holding the case's frames; all must have the same number of frames.
        clip_length: frames per clip (T), the anchor not counted.
        anchor: prepend frame 0 of the case to every clip.
        index_key, write_key, path_key: keys of the per-frame bookkeeping lists.
        allow_missing_keys: don't raise when a key is missing (no labels at inference).

    Examples::

        >>> split = SequentialClipsd(keys=("image", "label"), clip_length=5)
        >>> clips = split({"image": [f"{i}.jpg" for i in range(12)], "label": [f"{i}.png" for i in range(12)]})
        >>> [c["frame_index"] for c in clips]  # [[0..4], [5..9], [7..11]]
        >>> clips[-1]["frame_write"]  # [False, False, False, True, True]
    """

    def __init__(
        self,
        keys: KeysCollection,
        clip_length: int = 5,
        anchor: bool = False,
        index_key: str = FRAME_INDEX,
        write_key: str = FRAME_WRITE,
        path_key: str = FRAME_PATH,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        if clip_length < 1:
            raise ValueError(f"clip_length must be >= 1, got clip_length={clip_length}.")
        self.clip_length = clip_length
        self.anchor = anchor
        self.index_key = index_key
        self.write_key = write_key
        self.path_key = path_key

    def __call__(self, data: Mapping[Hashable, object]) -> list[dict[Hashable, object]]:  # type: ignore[override]
        keys = list(self.key_iterator(data))
        if not keys:
            raise ValueError(f"none of the keys {self.keys} is in the data.")
        num_frames = count_frames(data, keys)
        refs = data[keys[0]]
        has_refs = isinstance(refs, (list, tuple)) and all(isinstance(r, (str, os.PathLike)) for r in refs)
        clips = []
        for indices, writes in sequential_windows(num_frames, self.clip_length):
            if self.anchor:
                indices, writes = [0] + indices, [False] + writes
            clip = dict(data)
            for key in keys:
                clip[key] = select_frames(data[key], indices, writes)
            clip[self.index_key] = indices
            clip[self.write_key] = writes
            if has_refs:
                clip[self.path_key] = [os.fspath(refs[i]) for i in indices]  # type: ignore[index]
            clips.append(clip)
        return clips


def expand_sequential_clips(
    cases: Iterable[Mapping[Hashable, object]],
    keys: Sequence[str] = ("image", "label"),
    clip_length: int = 5,
    anchor: bool = False,
) -> list[dict[Hashable, object]]:
    """The clips of every case of a datalist split, as one flat list (a ``monai.data.Dataset`` over clips).

    Keys absent from a case (e.g. no ``"label"`` at inference) are skipped.

    Examples::

        >>> cases = monai.data.load_decathlon_datalist("datalist.json", data_list_key="test")
        >>> clips = expand_sequential_clips(cases, clip_length=5)
    """
    split = SequentialClipsd(keys, clip_length=clip_length, anchor=anchor, allow_missing_keys=True)
    return [clip for case in cases for clip in split(case)]


def expand_frames(cases: Iterable[Mapping[Hashable, object]], keys: Sequence[str] = ("image", "label")) -> list[dict]:
    """Every frame of every case of a datalist split as a single-image item, in order.

    Each item holds one frame ref under each of ``keys`` (so that :class:`LoadFramesd` gives (C, H, W) tensors),
    and the scalars ``frame_index``, ``frame_write`` (True) and ``frame_path``, besides the case's other keys:
    phase-1 models validated frame by frame on the videos, with the same per-video protocol as clips.

    Examples::

        >>> items = expand_frames([{"case": "v", "image": ["0.jpg", "1.jpg"], "label": ["0.png", "1.png"]}])
        >>> [(i["image"], i["frame_index"]) for i in items]  # [('0.jpg', 0), ('1.jpg', 1)]
    """
    items = []
    for clip in expand_sequential_clips(cases, keys, clip_length=1):
        for key in (*keys, FRAME_INDEX, FRAME_WRITE, FRAME_PATH):
            if key in clip:
                value = clip[key]
                clip[key] = value[:, 0] if hasattr(value, "ndim") else value[0]  # type: ignore[index]
        items.append(clip)
    return items
