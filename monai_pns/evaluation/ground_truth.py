"""The ground truth of an evaluation: the scored units (videos, or the single images of a source) of a datalist key,
and their restriction to chosen frames.

Prediction of a frame: ``<pred-root>/<case>/<frame stem>.png`` (``case`` as in the datalist, e.g. ``CVC-300/1``,
``TestEasyDataset/Seen/case1_1`` or, for a single image, ``Kvasir-SEG/<id>``; the frame stem is the frame file's
name without extension, or the frame index for a frame of a video file, see
:func:`~monai_pns.data.image_io.frame_stem`), where ``monai_pns.handlers.VPSPredictionWriter`` writes it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from monai_pns.data.image_io import frame_stem

__all__ = ["GTFrame", "GTVideo", "ground_truth_videos", "select_frames"]


@dataclass
class GTFrame:
    """One ground-truth frame: its position in the video, mask ref and prediction path relative to a pred root."""

    index: int
    gt_ref: str
    pred_rel: Path


@dataclass
class GTVideo:
    """The frames of one scored unit: a video case, or all single images of a source (``is_video`` False)."""

    set_name: str
    video: str
    is_video: bool
    frames: list[GTFrame] = field(default_factory=list)


def _item_refs(item, where: str) -> tuple[str, list[str], list[str], bool]:
    """(case, image refs, label refs, is a video) of a datalist item, checked."""
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected a dict with 'case', 'image' and 'label', got {type(item).__name__}.")
    missing = [k for k in ("case", "image", "label") if k not in item]
    if missing:
        name = f" (case '{item['case']}')" if "case" in item else ""
        raise ValueError(f"{where}{name}: no {', '.join(repr(k) for k in missing)}: nothing to score against.")
    image, label = item["image"], item["label"]
    is_video = isinstance(image, list)
    images, labels = (image, label) if is_video else ([image], [label])
    if not isinstance(labels, list) or len(images) != len(labels) or not images:
        raise ValueError(f"{where} (case '{item['case']}'): 'image' and 'label' must be paths or lists of one length.")
    if not all(isinstance(r, str) for r in images + labels):
        raise ValueError(f"{where} (case '{item['case']}'): 'image' and 'label' must hold paths (strings).")
    return str(item["case"]), images, labels, is_video


def ground_truth_videos(datalist: Mapping, data_list_key: str) -> list[GTVideo]:
    """The scored units of ``datalist[data_list_key]``: one per video case; the single images of a source form one.

    Raises:
        ValueError: the key is missing or empty, an item has no label, or the key mixes videos and single images.
    """
    items = datalist.get(data_list_key)
    if not isinstance(items, list) or not items:
        keys = sorted(k for k, v in datalist.items() if isinstance(v, list))
        raise ValueError(f"the datalist has no items under data_list_key={data_list_key!r} (lists: {keys}).")
    videos: dict[tuple[str, str], GTVideo] = {}
    kinds = set()
    for i, item in enumerate(items):
        case, images, labels, is_video = _item_refs(item, f"datalist key '{data_list_key}' item {i}")
        kinds.add(is_video)
        set_name = str(item.get("source", "default"))
        if is_video:
            video = videos.setdefault((set_name, case), GTVideo(set_name, case, True))
            if video.frames:
                raise ValueError(f"case '{case}' appears twice under datalist key '{data_list_key}'.")
            video.frames = [GTFrame(t, g, Path(case, f"{frame_stem(f)}.png")) for t, (f, g) in
                            enumerate(zip(images, labels))]
        else:
            group = videos.setdefault((set_name, set_name), GTVideo(set_name, set_name, False))
            group.frames.append(GTFrame(len(group.frames), labels[0], Path(case, f"{frame_stem(images[0])}.png")))
    if len(kinds) > 1:
        raise ValueError(f"datalist key '{data_list_key}' mixes videos and single images: score them separately.")
    return list(videos.values())


def select_frames(
    videos: Sequence[GTVideo], frames: Mapping[str, Collection[int]], skip_first_last: bool = True
) -> list[GTVideo]:
    """The scored units restricted to some of their frames, to score a subset (e.g. the frames with a polyp, or
    the frames that are ambiguous alone) with the protocol's averaging: frames -> videos -> set.

    Args:
        videos: the scored units (:func:`ground_truth_videos`).
        frames: per unit (``GTVideo.video``: the case, or the source of a group of single images), the indices of
            the frames kept (``GTFrame.index``: 0-based positions in the video). Units not named keep no frame.
        skip_first_last: drop the first and last frame of every video (not of a group of single images) whatever
            ``frames`` says, as the protocol does; score the result with ``skip_first_last=False``.

    Returns:
        the units that keep at least one frame, in their order, with only those frames.

    Raises:
        ValueError: ``frames`` names a unit that is not in ``videos`` or an index that is not one of its frames.

    Examples::

        >>> videos = ground_truth_videos(datalist, "test")
        >>> polyp = select_frames(videos, {"Synthetic-Test/1": [0, 1, 2], "Synthetic-Test/2": range(24)})
        >>> evaluate_models(polyp, ["runs/pred/PNSNet"], skip_first_last=False)["evaluators"]["PNSNet"].set_results()
    """
    units = {v.video: v for v in videos}
    unknown = sorted(set(frames) - set(units))
    if unknown:
        raise ValueError(f"frames name units that are not scored: {unknown} (units: {sorted(units)}).")
    selected = []
    for video in videos:
        indices = {int(i) for i in frames.get(video.video, ())}
        known = {f.index for f in video.frames}
        if not indices <= known:
            raise ValueError(
                f"case '{video.video}' has no frame {sorted(indices - known)} (frames 0..{len(known) - 1})."
            )
        if skip_first_last and video.is_video:
            indices -= {min(known), max(known)}
        kept = [f for f in video.frames if f.index in indices]
        if kept:
            selected.append(GTVideo(video.set_name, video.video, video.is_video, kept))
    return selected
