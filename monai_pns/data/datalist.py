"""Scan a polyp dataset on disk and write a MONAI-style datalist JSON.

The datalist holds one list per split (``"pretraining"``: single images; ``"training"`` and ``"test"``: videos),
readable with :func:`monai.data.load_decathlon_datalist` (``data_list_key="training"``, ...). A video *case* is::

    {"case": "CVC-ClinicDB-612-Test/1", "source": "CVC-ClinicDB-612-Test", "split": "test",
     "image": [frame refs in temporal order], "label": [mask paths, same order],  # "label" absent without masks
     "num_frames": 60, "padded": false}

``"padded"`` is True when the case has fewer frames than the datalist's ``clip_length``: the clip transforms
then repeat its edge frames. A single image (phase-1 data) is ``{"case", "source", "split", "image": path,
"label": path}``. Frame refs are absolute image paths, or ``"<video>#<index>"`` for frames of a video file.

Command line::

    python -m monai_pns.data.datalist --layout pnsnet --root /data/PNS-Net --out datalist.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from monai.utils import look_up_option

from monai_pns.data.image_io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, count_video_frames, video_frame_ref
from monai_pns.utils import check_output_file, run_cli, write_atomic

__all__ = ["LAYOUTS", "build_datalist", "inference_cases", "main", "natural_key", "sunseg_frame_key", "write_datalist"]

LAYOUTS = ("pnsnet", "sunseg", "kvasir", "folders")

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


def _pair(
    case: str, frame_dir: Path, mask_dir: Path | None, key: Callable[[str], tuple], integer_names: bool = False
) -> tuple[list[str], list[str] | None]:
    """Frames of ``frame_dir`` in order and their masks in ``mask_dir`` (matched by file stem); with
    ``integer_names``, every frame must be named by an integer."""
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


def _case(
    case: str, source: str, split: str, image: list[str], label: list[str] | None, clip_length: int
) -> dict:
    entry: dict = {"case": case, "source": source, "split": split, "image": image}
    if label is not None:
        entry["label"] = label
    entry["num_frames"] = len(image)
    entry["padded"] = len(image) < clip_length
    return entry


def _images(source: str, frame_dir: Path, mask_dir: Path, split: str) -> list[dict]:
    frames, masks = _pair(source, frame_dir, mask_dir, natural_key)
    return [
        {"case": f"{source}/{Path(f).stem}", "source": source, "split": split, "image": f, "label": m}
        for f, m in zip(frames, masks or [])
    ]


def _scan_pnsnet(root: Path, clip_length: int) -> dict[str, list[dict]]:
    parts = {"IVPS-TrainSet", "VPS-TrainSet", "VPS-TestSet"}
    if not any((root / p).is_dir() for p in parts):
        raise ValueError(f"layout 'pnsnet': expected one of {sorted(parts)} in '{root}'.")
    out: dict[str, list[dict]] = {}
    ivps = root / "IVPS-TrainSet"
    if ivps.is_dir():
        out["pretraining"] = _images("IVPS-TrainSet", ivps / "Frame", ivps / "GT", "pretraining")
    train = root / "VPS-TrainSet"
    if train.is_dir():
        cases = out.setdefault("training", [])
        for source in _subfolders(train):
            case_root = source / "Train"
            if not case_root.is_dir():
                raise ValueError(f"layout 'pnsnet': expected '{case_root}' (VPS-TrainSet/<set>/Train/<case>/Frame).")
            for case_dir in _subfolders(case_root):
                case = f"{source.name}/{case_dir.name}"
                image, label = _pair(case, case_dir / "Frame", case_dir / "GT", natural_key, integer_names=True)
                cases.append(_case(case, source.name, "training", image, label, clip_length))
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
                image, label = _pair(case, case_dir, mask_dir, natural_key, integer_names=True)
                cases.append(_case(case, source.name, "test", image, label, clip_length))
    return out


def _scan_sunseg(root: Path, clip_length: int) -> dict[str, list[dict]]:
    sources = [("TrainDataset", "training")]
    for difficulty in ("TestEasyDataset", "TestHardDataset"):
        sub = [f"{difficulty}/{s}" for s in ("Seen", "Unseen") if (root / difficulty / s).is_dir()]
        sources += [(s, "test") for s in (sub or [difficulty])]
    found = [(s, split) for s, split in sources if (root / s / "Frame").is_dir()]
    if not found:
        raise ValueError(
            f"layout 'sunseg': expected '<TrainDataset|TestEasyDataset/Seen|...>/Frame/case<N>_<M>/' in '{root}'."
        )
    out: dict[str, list[dict]] = {}
    for source, split in found:
        mask_root = root / source / "GT"
        for case_dir in _subfolders(root / source / "Frame"):
            case = f"{source}/{case_dir.name}"
            mask_dir = mask_root / case_dir.name if mask_root.is_dir() else None
            image, label = _pair(case, case_dir, mask_dir, sunseg_frame_key)
            out.setdefault(split, []).append(_case(case, source, split, image, label, clip_length))
    return out


def _scan_kvasir(root: Path, clip_length: int) -> dict[str, list[dict]]:
    if not (root / "images").is_dir():
        raise ValueError(f"layout 'kvasir': expected '{root / 'images'}' and '{root / 'masks'}'.")
    return {"pretraining": _images("Kvasir-SEG", root / "images", root / "masks", "pretraining")}


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


def _scan_folders(root: Path, clip_length: int, masks: Path | None, split: str) -> dict[str, list[dict]]:
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
            image, label = _pair(case, entry, mask_dir, natural_key)
        else:
            case = entry.stem
            image = [video_frame_ref(entry.resolve(), i) for i in range(count_video_frames(entry))]
            label = None if masks is None else _video_masks(case, entry, masks)
        cases.append(_case(case, root.name, split, image, label, clip_length))
    return {split: cases}


def inference_cases(path: str | os.PathLike, clip_length: int = 5) -> list[dict]:
    """The videos of an inference input as datalist cases without masks (split ``"test"``).

    ``path`` is a video file (one case, named by the file's stem), a folder of frames (one case, named by the folder)
    or a folder of such videos: frame folders or video files, one case each (layout ``"folders"``).

    Raises:
        ValueError: naming ``path`` when it does not exist or holds neither frames nor videos.

    Examples::

        >>> [case] = inference_cases("procedure.mp4")  # doctest: +SKIP
        >>> case["case"], case["image"][:2]  # ('procedure', ['/abs/procedure.mp4#0', '/abs/procedure.mp4#1'])
    """
    path = Path(path).expanduser()
    if path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS:
        image = [video_frame_ref(path.resolve(), i) for i in range(count_video_frames(path))]
        return [_case(path.stem, path.parent.name, "test", image, None, clip_length)]
    if not path.is_dir():
        raise ValueError(
            f"input '{path}': expected a video file ({', '.join(VIDEO_EXTENSIONS)}), a folder of frames or a folder "
            "of videos."
        )
    if any(p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS for p in path.iterdir()):
        image, _ = _pair(path.name, path, None, natural_key)
        return [_case(path.name, path.parent.name, "test", image, None, clip_length)]
    return _scan_folders(path, clip_length, None, "test")["test"]


def build_datalist(
    layout: str,
    root: str | os.PathLike,
    masks: str | os.PathLike | None = None,
    split: str = "test",
    clip_length: int = 5,
) -> dict:
    """Scan a dataset in one of ``LAYOUTS`` and return its datalist (see the module docstring).

    Args:
        layout: ``"pnsnet"``, ``"sunseg"``, ``"kvasir"`` or ``"folders"``.
        root: the dataset folder (for ``"folders"``: the folder holding one frame folder or video per case).
        masks: ``"folders"`` only: the parallel folder of per-case mask folders or mask videos (None: no masks).
        split: ``"folders"`` only: the datalist key the cases go to.
        clip_length: cases with fewer frames are marked ``"padded": true``.

    Raises:
        ValueError: unknown layout, missing folders, empty case folders, frames without masks, count mismatches;
            the message names the case and what was expected.
    """
    layout = look_up_option(layout, LAYOUTS)
    if clip_length < 1:
        raise ValueError(f"clip_length must be >= 1, got clip_length={clip_length}.")
    root_path = Path(root).expanduser()
    if not root_path.is_dir():
        raise ValueError(f"dataset root '{root_path}' is not a folder.")
    if layout != "folders" and masks is not None:
        raise ValueError(f"masks is only used by layout 'folders', got masks='{masks}' for layout '{layout}'.")
    if layout == "pnsnet":
        splits = _scan_pnsnet(root_path, clip_length)
    elif layout == "sunseg":
        splits = _scan_sunseg(root_path, clip_length)
    elif layout == "kvasir":
        splits = _scan_kvasir(root_path, clip_length)
    else:
        splits = _scan_folders(root_path, clip_length, None if masks is None else Path(masks).expanduser(), split)
    return {
        "description": f"monai_pns datalist, layout '{layout}'",
        "layout": layout,
        "root": str(root_path.resolve()),
        "clip_length": clip_length,
        **splits,
    }


def write_datalist(datalist: dict, path: str | os.PathLike) -> Path:
    """Write ``datalist`` as JSON to ``path`` atomically: a temporary file in the same folder, then ``os.replace``,
    so an existing datalist is only replaced by a completely written one."""
    return write_atomic(path, json.dumps(datalist, indent=1) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    """The command line (module docstring). Exit codes: 0 written, 1 bad data or unwritable ``--out`` (one
    ``error: ...`` line), 2 bad usage (argparse)."""
    parser = argparse.ArgumentParser(
        prog="python -m monai_pns.data.datalist", description="Scan a polyp dataset and write a datalist JSON."
    )
    parser.add_argument("--layout", required=True, choices=LAYOUTS, help="dataset layout")
    parser.add_argument("--root", required=True, help="dataset folder")
    parser.add_argument("--out", required=True, help="datalist JSON to write")
    parser.add_argument("--masks", default=None, help="layout 'folders': folder of mask folders or mask videos")
    parser.add_argument("--split", default="test", help="layout 'folders': datalist key (default: test)")
    parser.add_argument("--clip-length", type=int, default=5, help="frames per clip; shorter cases are flagged")
    args = parser.parse_args(argv)
    check_output_file(args.out, "--out")
    datalist = build_datalist(args.layout, args.root, args.masks, args.split, args.clip_length)
    out = write_datalist(datalist, args.out)
    for key, items in datalist.items():
        if isinstance(items, list):
            frames = sum(item.get("num_frames", 1) for item in items)
            print(f"{key}: {len(items)} items, {frames} frames")
    print(f"wrote {out}")


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
