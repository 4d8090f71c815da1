"""Scan a polyp dataset on disk into a MONAI-style datalist; write and read datalist JSON files.

The datalist holds one list per split (``"pretraining"``: single images; ``"training"`` and ``"test"``: videos),
readable with :func:`monai.data.load_decathlon_datalist` (``data_list_key="training"``, ...). A video *case* is::

    {"case": "CVC-ClinicDB-612-Test/1", "source": "CVC-ClinicDB-612-Test", "split": "test",
     "image": [frame refs in temporal order], "label": [mask paths, same order],  # "label" absent without masks
     "num_frames": 60}

A single image (phase-1 data) is ``{"case", "source", "split", "image": path, "label": path}``. Frame refs are
absolute image paths, or ``"<video>#<index>"`` for frames of a video file. The layouts are those of
:mod:`monai_pns.data.layouts`.

Command line::

    python -m monai_pns.data.datalist --layout pnsnet --root /data/PNS-Net --out datalist.json
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from monai_pns.data.image_io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, count_video_frames, video_frame_ref
from monai_pns.data.layouts import get_layout, layout_names
from monai_pns.data.scanners import natural_key, pair_frames, scan_folders, video_case
from monai_pns.utils import check_output_file, run_cli, write_atomic

__all__ = ["build_datalist", "inference_cases", "load_datalist", "main", "write_datalist"]


def inference_cases(path: str | os.PathLike) -> list[dict]:
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
        return [video_case(path.stem, path.parent.name, "test", image, None)]
    if not path.is_dir():
        raise ValueError(
            f"input '{path}': expected a video file ({', '.join(VIDEO_EXTENSIONS)}), a folder of frames or a folder "
            "of videos."
        )
    if any(p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS for p in path.iterdir()):
        image, _ = pair_frames(path.name, path, None, natural_key)
        return [video_case(path.name, path.parent.name, "test", image, None)]
    return scan_folders(path, None, "test")["test"]


def build_datalist(
    layout: str, root: str | os.PathLike, masks: str | os.PathLike | None = None, split: str = "test"
) -> dict:
    """Scan a dataset in one of the registered layouts and return its datalist (see the module docstring).

    Args:
        layout: a name of :func:`~monai_pns.data.layouts.layout_names`: ``"pnsnet"``, ``"sunseg"``, ``"kvasir"``,
            ``"folders"`` or one registered with :func:`~monai_pns.data.layouts.register_layout`.
        root: the dataset folder (for ``"folders"``: the folder holding one frame folder or video per case).
        masks: layouts that take a mask folder only (``"folders"``): the parallel folder of per-case mask folders
            or mask videos (None: no masks).
        split: layouts without fixed splits only (``"folders"``): the datalist key the cases go to.

    Returns:
        ``{"description", "layout", "root", <key>: [item, ...], ...}``: the keys the layout's scanner wrote.

    Raises:
        ValueError: unknown layout, missing folders, empty case folders, frames without masks, count mismatches;
            the message names the case and what was expected.
    """
    spec = get_layout(layout)
    root_path = Path(root).expanduser()
    if not root_path.is_dir():
        raise ValueError(f"dataset root '{root_path}' is not a folder.")
    if masks is not None and not spec.separate_masks:
        takers = " or ".join(f"'{name}'" for name in layout_names() if get_layout(name).separate_masks)
        raise ValueError(f"masks is only used by layout {takers}, got masks='{masks}' for layout '{spec.name}'.")
    splits = spec.scan(root_path, None if masks is None else Path(masks).expanduser(), split)
    declared = spec.splits or (split,)
    undeclared = [key for key in splits if key not in declared]
    if undeclared:
        raise ValueError(
            f"layout '{spec.name}': its scanner wrote the keys {undeclared}, not among its splits {declared}: "
            "declare them in its DatasetLayout(splits=...)."
        )
    return {"description": f"monai_pns datalist, layout '{spec.name}'", "layout": spec.name,
            "root": str(root_path.resolve()), **splits}


def write_datalist(datalist: dict, path: str | os.PathLike) -> Path:
    """Write ``datalist`` as JSON to ``path`` atomically: a temporary file in the same folder, then ``os.replace``,
    so an existing datalist is only replaced by a completely written one."""
    return write_atomic(path, json.dumps(datalist, indent=1) + "\n")


def _absolute(base: Path, value):
    """Image/label refs of a datalist file relative to its folder, as ``monai.data.load_decathlon_datalist`` reads
    them (its check on other keys, which rewrites a ``case`` that happens to name a folder, is not wanted here), made
    absolute (a datalist file named by a relative path gives refs that do not depend on the working folder)."""
    if isinstance(value, list):
        return [_absolute(base, v) for v in value]
    return os.path.abspath(base / value) if isinstance(value, str) and not os.path.isabs(value) else value


def load_datalist(datalist: str | os.PathLike | Mapping) -> dict:
    """A datalist as a dict: ``datalist`` itself, or the JSON file it names with relative ``image`` / ``label``
    refs made absolute against the file's folder.

    Raises:
        ValueError: the file is missing or not a JSON object, naming it.
    """
    if isinstance(datalist, Mapping):
        return dict(datalist)
    path = Path(datalist).expanduser()
    if not path.is_file():
        raise ValueError(f"datalist file '{path}' does not exist.")
    try:
        content = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"datalist file '{path}' is not valid JSON: {err}.") from None
    if not isinstance(content, dict):
        raise ValueError(f"datalist file '{path}' must hold a JSON object, got {type(content).__name__}.")
    for items in content.values():
        for item in items if isinstance(items, list) else []:
            for key in ("image", "label"):
                if isinstance(item, dict) and key in item:
                    item[key] = _absolute(path.parent, item[key])
    return content


def main(argv: Sequence[str] | None = None) -> None:
    """The command line (module docstring). Exit codes: 0 written, 1 bad data or unwritable ``--out`` (one
    ``error: ...`` line), 2 bad usage (argparse)."""
    parser = argparse.ArgumentParser(
        prog="python -m monai_pns.data.datalist", description="Scan a polyp dataset and write a datalist JSON."
    )
    parser.add_argument("--layout", required=True, choices=layout_names(), help="dataset layout")
    parser.add_argument("--root", required=True, help="dataset folder")
    parser.add_argument("--out", required=True, help="datalist JSON to write")
    parser.add_argument("--masks", default=None, help="layout 'folders': folder of mask folders or mask videos")
    parser.add_argument("--split", default="test", help="layout 'folders': datalist key (default: test)")
    args = parser.parse_args(argv)
    check_output_file(args.out, "--out")
    datalist = build_datalist(args.layout, args.root, args.masks, args.split)
    out = write_datalist(datalist, args.out)
    for key, items in datalist.items():
        if isinstance(items, list):
            frames = sum(item.get("num_frames", 1) for item in items)
            print(f"{key}: {len(items)} items, {frames} frames")
    print(f"wrote {out}")


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
