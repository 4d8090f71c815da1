"""Tiny dataset trees in each layout, written by the tests (no real data may be used)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from monai_pns.data import layouts
from monai_pns.data.layouts import DatasetLayout, register_layout
from monai_pns.data.scanners import pair_frames, video_case


def frame_value(index: int) -> int:
    """The grey level of frame ``index`` (1-based), so that a loaded frame tells which file it came from."""
    return 10 * index


def write_frame(path: Path, value: int, size: tuple[int, int] = (12, 16)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.full((*size, 3), value, np.uint8)
    img[..., 0] = value // 2  # distinct channels: B = value / 2 (R after conversion to RGB is the value)
    assert cv2.imwrite(str(path), img)
    return path


def write_mask(path: Path, on: bool, size: tuple[int, int] = (12, 16)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    mask = np.zeros(size, np.uint8)
    if on:
        mask[2:6, 3:9] = 255
    assert cv2.imwrite(str(path), mask)
    return path


def write_case(frame_dir: Path, mask_dir: Path | None, num_frames: int = 12, ext: str = ".png") -> None:
    """Frames ``1<ext> .. <num_frames><ext>`` (integer names, not zero-padded) and masks ``<i>.png``."""
    for i in range(1, num_frames + 1):
        write_frame(frame_dir / f"{i}{ext}", frame_value(i))
        if mask_dir is not None:
            write_mask(mask_dir / f"{i}.png", on=i % 2 == 0)


def make_pnsnet(root: Path, num_frames: int = 12) -> Path:
    for i in (1, 2, 3):
        write_frame(root / "IVPS-TrainSet" / "Frame" / f"{i}.jpg", 100)
        write_mask(root / "IVPS-TrainSet" / "GT" / f"{i}.png", True)
    for case in ("1", "2", "10"):
        case_dir = root / "VPS-TrainSet" / "SetA" / "Train" / case
        write_case(case_dir / "Frame", case_dir / "GT", num_frames, ".jpg")
    for case in ("2", "1"):
        test = root / "VPS-TestSet" / "SetB"
        write_case(test / "Frame" / case, test / "GT" / case, num_frames)
    return root


def write_video(path: Path, values: list[int], size: tuple[int, int] = (48, 64), grey_mask: bool = False) -> Path:
    """A lossless (FFV1) .avi or an .mp4 (mp4v) video whose frame i is uniformly ``values[i]``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if path.suffix == ".mp4" else "FFV1"))
    writer = cv2.VideoWriter(str(path), fourcc, 10, (size[1], size[0]))
    assert writer.isOpened()
    for value in values:
        frame = np.full((*size, 3), value, np.uint8)
        if grey_mask:
            frame[:] = 0
            frame[: size[0] // 2] = value
        writer.write(frame)
    writer.release()
    return path


def scan_tiny(root: Path, masks: Path | None, split: str) -> dict[str, list[dict]]:
    """Layout 'tiny', all a new layout needs: ``<root>/<case>/{img,mask}/<n>.png``, every case a test video."""
    cases = []
    for case_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        image, label = pair_frames(case_dir.name, case_dir / "img", case_dir / "mask")
        cases.append(video_case(f"{root.name}/{case_dir.name}", root.name, "test", image, label))
    return {"test": cases}


def make_tiny(root: Path, num_frames: int = 6) -> Path:
    """A dataset in layout 'tiny': cases ``a`` and ``b`` of ``num_frames`` frames."""
    for case in ("a", "b"):
        write_case(root / case / "img", root / case / "mask", num_frames)
    return root


def register_tiny(monkeypatch: pytest.MonkeyPatch) -> DatasetLayout:
    """Register layout 'tiny' (scored in "sunseg" mode) for one test: the registry is restored after it."""
    monkeypatch.setattr(layouts, "_REGISTRY", dict(layouts._REGISTRY))
    return register_layout(DatasetLayout("tiny", scan_tiny, splits=("test",), metric_mode="sunseg"))
