"""Scanners: the functions that read one dataset layout on disk into datalist items, and the pieces they share.

A scanner is called as ``scan(root, masks, split)`` (``root`` and ``masks`` resolved ``Path`` s, ``masks`` None
unless the layout takes a mask folder; ``split`` the key asked for, used by layouts without fixed splits) and returns
``{split: [item, ...]}``. A video item is ``{"case", "source", "split", "image": [frame refs in temporal order],
"label": [mask refs, same order], "num_frames"}`` (:func:`video_case`, ``"label"`` absent without masks); a single
image is ``{"case", "source", "split", "image": path, "label": path}`` (:func:`image_cases`). The layouts that use
them are registered in :mod:`monai_pns.data.layouts`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from monai_pns.data.image_io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, count_video_frames, video_frame_ref

__all__ = [
    "image_cases",
    "natural_key",
    "pair_frames",
    "scan_folders",
    "scan_kvasir",
    "scan_pnsnet",
    "scan_sunseg",
    "sunseg_frame_key",
    "video_case",
]

_DIGITS = re.compile(r"(\d+)")
_SUNSEG_INDEX = re.compile(r"_image(\d+)$")


def natural_key(name: str) -> tuple:
    """Sort key ordering embedded integers numerically: ``1, 2, ..., 10`` rather than ``1, 10, 2``."""
    parts = _DIGITS.split(name)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in parts if p != "")


def sunseg_frame_key(name: str) -> tuple:
    """SUN-SEG frame order: the number after ``_image`` in the file stem (natural order as a fallback)."""
    match = _SUNSEG_INDEX.search(Path(name).stem)
    return (0, int(match.group(1)), "") if match else (1, 0, natural_key(name))


def _images_in(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise ValueError(f"{what}: expected a folder at '{folder}'.")
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    if not files:
        raise ValueError(f"{what}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in '{folder}'.")
    return files


def _subfolders(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: natural_key(p.name))


def _check_integer_names(case: str, frames: list[Path]) -> None:
    """Layout 'pnsnet' orders a video's frames by their integer names: any other name is an error naming it."""
    bad = next((p for p in sorted(frames) if not (p.stem.isascii() and p.stem.isdigit())), None)
    if bad is not None:
        raise ValueError(
            f"case '{case}': frame '{bad}' is not named by an integer (layout 'pnsnet' orders a video's frames by "
            "their integer names: 1.jpg, 2.jpg, ...)."
        )


def pair_frames(
    case: str,
    frame_dir: Path,
    mask_dir: Path | None,
    key: Callable[[str], tuple] = natural_key,
    integer_names: bool = False,
) -> tuple[list[str], list[str] | None]:
    """The image files of ``frame_dir`` in ``key`` order and their masks in ``mask_dir``, matched by file stem.

    Args:
        case: the case name, for the messages.
        frame_dir: the folder of the frames (image files).
        mask_dir: the folder of the masks (``<frame stem>.<ext>``), or None: no masks.
        key: sort key of a frame file name (:func:`natural_key`, :func:`sunseg_frame_key`).
        integer_names: every frame must be named by an integer (``1.jpg, 2.jpg, ...``).

    Returns:
        (frame paths, mask paths in the same order or None): N absolute paths each.

    Raises:
        ValueError: a missing or empty folder, a frame without its mask, a mask without its frame, naming them.
    """
    frames = _images_in(frame_dir, f"case '{case}'")
    if integer_names:
        _check_integer_names(case, frames)
    frames = sorted(frames, key=lambda p: key(p.name))
    if mask_dir is None:
        return [str(p.resolve()) for p in frames], None
    masks = {p.stem: p for p in _images_in(mask_dir, f"case '{case}' (masks)")}
    labels = []
    for frame in frames:
        if frame.stem not in masks:
            raise ValueError(
                f"case '{case}': no mask for frame '{frame.name}' (expected '{frame.stem}.<ext>' in '{mask_dir}')."
            )
        labels.append(str(masks.pop(frame.stem).resolve()))
    if masks:
        extra = sorted(masks, key=natural_key)[0]
        raise ValueError(
            f"case '{case}': {len(frames)} frames in '{frame_dir}' but {len(frames) + len(masks)} masks in "
            f"'{mask_dir}' (mask '{masks[extra].name}' has no frame)."
        )
    return [str(p.resolve()) for p in frames], labels


def video_case(case: str, source: str, split: str, image: list[str], label: list[str] | None) -> dict:
    """The datalist item of a video: ``image`` its N frame refs in order, ``label`` its N mask refs or None."""
    entry: dict = {"case": case, "source": source, "split": split, "image": image}
    if label is not None:
        entry["label"] = label
    entry["num_frames"] = len(image)
    return entry


def image_cases(source: str, frame_dir: Path, mask_dir: Path, split: str) -> list[dict]:
    """The datalist items of a folder of single images and its folder of masks (any names), case
    ``<source>/<stem>``."""
    frames, masks = pair_frames(source, frame_dir, mask_dir)
    return [
        {"case": f"{source}/{Path(f).stem}", "source": source, "split": split, "image": f, "label": m}
        for f, m in zip(frames, masks or [])
    ]


def scan_pnsnet(root: Path, masks: Path | None = None, split: str = "test") -> dict[str, list[dict]]:
    """The PNS-Net release: ``IVPS-TrainSet/{Frame,GT}/`` (``pretraining``),
    ``VPS-TrainSet/<set>/Train/<case>/{Frame,GT}/`` (``training``), ``VPS-TestSet/<set>/{Frame,GT}/<case>/``
    (``test``, no ``GT``: no labels). ``masks`` and ``split`` are not used."""
    parts = {"IVPS-TrainSet", "VPS-TrainSet", "VPS-TestSet"}
    if not any((root / p).is_dir() for p in parts):
        raise ValueError(f"layout 'pnsnet': expected one of {sorted(parts)} in '{root}'.")
    out: dict[str, list[dict]] = {}
    ivps = root / "IVPS-TrainSet"
    if ivps.is_dir():
        out["pretraining"] = image_cases("IVPS-TrainSet", ivps / "Frame", ivps / "GT", "pretraining")
    train = root / "VPS-TrainSet"
    if train.is_dir():
        cases = out.setdefault("training", [])
        for source in _subfolders(train):
            case_root = source / "Train"
            if not case_root.is_dir():
                raise ValueError(f"layout 'pnsnet': expected '{case_root}' (VPS-TrainSet/<set>/Train/<case>/Frame).")
            for case_dir in _subfolders(case_root):
                case = f"{source.name}/{case_dir.name}"
                image, label = pair_frames(case, case_dir / "Frame", case_dir / "GT", integer_names=True)
                cases.append(video_case(case, source.name, "training", image, label))
    test = root / "VPS-TestSet"
    if test.is_dir():
        cases = out.setdefault("test", [])
        for source in _subfolders(test):
            frame_root, mask_root = source / "Frame", source / "GT"
            if not frame_root.is_dir():
                raise ValueError(f"layout 'pnsnet': expected '{frame_root}' (VPS-TestSet/<set>/Frame/<case>).")
            for case_dir in _subfolders(frame_root):
                case = f"{source.name}/{case_dir.name}"
                mask_dir = mask_root / case_dir.name if mask_root.is_dir() else None
                image, label = pair_frames(case, case_dir, mask_dir, integer_names=True)
                cases.append(video_case(case, source.name, "test", image, label))
    return out


def scan_sunseg(root: Path, masks: Path | None = None, split: str = "test") -> dict[str, list[dict]]:
    """SUN-SEG: ``TrainDataset/{Frame,GT}/case<N>_<M>/`` (``training``) and
    ``Test{Easy,Hard}Dataset/[{Seen,Unseen}/]{Frame,GT}/case<N>_<M>/`` (``test``), frames ordered by the number
    after ``_image``. ``masks`` and ``split`` are not used."""
    sources = [("TrainDataset", "training")]
    for difficulty in ("TestEasyDataset", "TestHardDataset"):
        sub = [f"{difficulty}/{s}" for s in ("Seen", "Unseen") if (root / difficulty / s).is_dir()]
        sources += [(s, "test") for s in (sub or [difficulty])]
    found = [(s, key) for s, key in sources if (root / s / "Frame").is_dir()]
    if not found:
        raise ValueError(
            f"layout 'sunseg': expected '<TrainDataset|TestEasyDataset/Seen|...>/Frame/case<N>_<M>/' in '{root}'."
        )
    out: dict[str, list[dict]] = {}
    for source, key in found:
        mask_root = root / source / "GT"
        for case_dir in _subfolders(root / source / "Frame"):
            case = f"{source}/{case_dir.name}"
            mask_dir = mask_root / case_dir.name if mask_root.is_dir() else None
            image, label = pair_frames(case, case_dir, mask_dir, sunseg_frame_key)
            out.setdefault(key, []).append(video_case(case, source, key, image, label))
    return out


def scan_kvasir(root: Path, masks: Path | None = None, split: str = "test") -> dict[str, list[dict]]:
    """Kvasir-SEG: ``images/<id>.jpg`` and ``masks/<id>.jpg``, all single images (``pretraining``). ``masks`` and
    ``split`` are not used."""
    if not (root / "images").is_dir():
        raise ValueError(f"layout 'kvasir': expected '{root / 'images'}' and '{root / 'masks'}'.")
    return {"pretraining": image_cases("Kvasir-SEG", root / "images", root / "masks", "pretraining")}


def _video_masks(case: str, video: Path, mask_root: Path) -> list[str]:
    num_frames = count_video_frames(video)
    mask_videos = [mask_root / f"{case}{ext}" for ext in VIDEO_EXTENSIONS]
    mask_videos += [p.with_suffix(p.suffix.upper()) for p in mask_videos]
    mask_video = next((p for p in mask_videos if p.is_file()), None)
    if mask_video is not None:
        masks = [video_frame_ref(mask_video.resolve(), i) for i in range(count_video_frames(mask_video))]
    elif (mask_root / case).is_dir():
        files = sorted(_images_in(mask_root / case, f"case '{case}' (masks)"), key=lambda p: natural_key(p.name))
        masks = [str(p.resolve()) for p in files]
    else:
        raise ValueError(f"case '{case}': no mask video '{case}.mp4' (or .avi, ...) nor mask folder in '{mask_root}'.")
    if len(masks) != num_frames:
        raise ValueError(f"case '{case}': video '{video}' has {num_frames} frames but there are {len(masks)} masks.")
    return masks


def scan_folders(root: Path, masks: Path | None = None, split: str = "test") -> dict[str, list[dict]]:
    """Plain folders: ``<root>/<case>/`` frame folders or ``<root>/<case>.mp4`` (``.avi``, ...) videos, one case
    each, all under the key ``split``; ``masks``: a folder of ``<case>/`` mask folders or ``<case>.mp4`` mask
    videos (None: no labels)."""
    if masks is not None and not masks.is_dir():
        raise ValueError(f"layout 'folders': mask folder '{masks}' does not exist.")
    entries = sorted(
        (p for p in root.iterdir() if p.is_dir() or p.suffix.lower() in VIDEO_EXTENSIONS),
        key=lambda p: natural_key(p.name),
    )
    if not entries:
        raise ValueError(f"layout 'folders': expected one folder of frames or one video file per case in '{root}'.")
    cases = []
    for entry in entries:
        if entry.is_dir():
            case = entry.name
            mask_dir = None if masks is None else masks / case
            if mask_dir is not None and not mask_dir.is_dir():
                raise ValueError(f"case '{case}': expected its mask folder at '{mask_dir}'.")
            image, label = pair_frames(case, entry, mask_dir)
        else:
            case = entry.stem
            image = [video_frame_ref(entry.resolve(), i) for i in range(count_video_frames(entry))]
            label = None if masks is None else _video_masks(case, entry, masks)
        cases.append(video_case(case, root.name, split, image, label))
    return {split: cases}
