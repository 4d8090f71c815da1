"""Frame sources for inference: a video file, a folder of frames, a datalist, or a 2-D+time medical volume.

Each source yields RGB ``uint8`` (H, W, 3) frames one at a time, in temporal order, with a name per frame (the output
file stem): only the frames being processed are in memory, except for volumes, which MONAI's readers load whole.
Every frame of one source must have the size of the first one. :func:`open_sources` checks what it can before any
frame is segmented: a video file must open and decode its first frame, a volume is read and its shape checked.

Video files are decoded by OpenCV until its decoder stops. A file cut short (an interrupted copy or recording)
decodes fewer frames than its header states, and its last decoded frame is the one the cut went through: OpenCV
does not tell whether it decoded whole (FFmpeg prints its errors on stderr; such frames come out grey or smeared).
So a video that falls short of its header's frame count is flagged (``FrameSource.short``) and its last decoded frame
is not yielded. A frame damaged in a video whose count adds up cannot be told apart from a good one.

Volumes (NIfTI, NRRD, MHA, ...) are read with MONAI's ``LoadImage`` (nibabel or ITK) and reoriented with MONAI's
``Orientation`` to the axis codes ``VOLUME_AXCODES`` ("PLS": rows run posterior, columns to the patient's left,
time is the third axis), the orientation :mod:`monai_pns.inference.writers` writes its volumes in; frame t is the
slice ``[:, :, t]``. A grey volume gives grey frames (copied to RGB); an RGB volume (NIfTI RGB24, read by MONAI's
ITKReader: it needs the ``itk`` package) gives colour frames; other intensity ranges than 0-255 are rescaled
linearly from the volume's minimum and maximum.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import nibabel as nib
import numpy as np
from monai.data import load_decathlon_datalist
from monai.transforms import EnsureChannelFirst, LoadImage, Orientation, ScaleIntensity

from monai_pns.data.scanners import natural_key
from monai_pns.data.image_io import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    is_video_file,
    parse_frame_ref,
    read_frames,
    read_image,
    to_rgb_uint8,
)

__all__ = ["VOLUME_AXCODES", "VOLUME_EXTENSIONS", "FrameSource", "open_sources"]

#: the orientation of frame volumes, read and written: (rows, columns, time) -> (posterior, left, superior)
VOLUME_AXCODES = "PLS"
VOLUME_EXTENSIONS = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")
_DEFAULT_FPS = 25.0


@dataclass
class FrameSource:
    """One video to segment: where it comes from, its case name (output sub-folder, "" for a single input) and a
    way to iterate over its ``(frame name, RGB uint8 (H, W, 3) frame)`` pairs.

    ``fps`` is the frame rate of a video file (``25`` for other sources); ``num_frames`` is known up front for
    folders, datalists and volumes, and is what the header states for a video file (None when it states nothing).
    ``volume`` holds a volume's frames once :func:`open_sources` has read them. After a video has been iterated,
    ``decoded_frames`` is the number of frames its decoder gave (None before, and for other sources).
    """

    path: str
    kind: str
    case: str = ""
    fps: float = _DEFAULT_FPS
    num_frames: int | None = None
    refs: Sequence[str] = field(default=(), repr=False)
    volume: np.ndarray | None = field(default=None, repr=False)
    decoded_frames: int | None = None

    @property
    def short(self) -> bool:
        """Whether the video decoded fewer frames than its header states (its last decoded frame was then dropped)."""
        stated, decoded = self.num_frames, self.decoded_frames
        return stated is not None and decoded is not None and decoded < stated

    def __iter__(self) -> Iterator[tuple[str, np.ndarray]]:
        reader = {"video": self._iter_video, "volume": self._iter_volume}.get(self.kind, self._iter_refs)
        count, size = 0, None
        for name, frame in reader():
            if size is None:
                size = frame.shape[:2]
            elif frame.shape[:2] != size:
                raise ValueError(
                    f"frame {count} ('{name}') of '{self.path}' is {frame.shape[1]}x{frame.shape[0]}, the first frame "
                    f"{size[1]}x{size[0]}: every frame of one video must have one size."
                )
            count += 1
            yield name, frame
        if count == 0:
            short = f" (its header states {self.num_frames} frames, 1 decoded and dropped)" if self.short else ""
            raise ValueError(f"cannot read any frame from '{self.path}': empty or corrupt{short}.")

    def _iter_video(self) -> Iterator[tuple[str, np.ndarray]]:
        capture = cv2.VideoCapture(self.path)
        if not capture.isOpened():
            capture.release()
            raise ValueError(f"cannot open video file '{self.path}': corrupt or unsupported codec.")
        self.decoded_frames, last = 0, None
        try:
            while True:  # each frame is yielded once the next one decodes: the last one waits for the count
                ok, frame = capture.read()
                if not ok:
                    break
                if last is not None:
                    yield last
                index = self.decoded_frames
                last = f"{index:05d}", to_rgb_uint8(frame, f"{self.path}#{index}")
                self.decoded_frames += 1
        finally:
            capture.release()
        if last is not None and not self.short:
            yield last

    def _iter_refs(self) -> Iterator[tuple[str, np.ndarray]]:
        chunk = 16  # frames of a video are read in runs, one decoder pass per run
        for start in range(0, len(self.refs), chunk):
            refs = self.refs[start : start + chunk]
            for ref, frame in zip(refs, read_frames(refs) if self.kind == "datalist" else map(read_image, refs)):
                yield _frame_name(ref), frame

    def _iter_volume(self) -> Iterator[tuple[str, np.ndarray]]:
        frames = load_volume_frames(self.path) if self.volume is None else self.volume
        for t in range(frames.shape[0]):
            yield f"{t:05d}", frames[t]


def _frame_name(ref: str) -> str:
    path, _, index = ref.rpartition("#")
    if path and index.isdigit() and is_video_file(path):
        return f"{Path(path).stem}_{int(index):05d}"
    return Path(ref).stem


def is_volume_file(path: str | os.PathLike) -> bool:
    return os.fspath(path).lower().endswith(VOLUME_EXTENSIONS)


def _volume_reader(path: str) -> str | None:
    """MONAI's ITKReader for RGB NIfTI files (nibabel gives them as structured arrays), MONAI's choice otherwise."""
    if not path.lower().endswith((".nii", ".nii.gz")):
        return None
    try:
        rgb = nib.load(path).header.get_data_dtype().names is not None
    except Exception:  # not a NIfTI file nibabel can parse: LoadImage reports it
        return None
    return "ITKReader" if rgb else None


def load_volume_frames(path: str | os.PathLike) -> np.ndarray:
    """A 2-D+time volume -> RGB ``uint8`` frames (T, H, W, 3) in the orientation ``VOLUME_AXCODES``.

    Raises:
        ValueError: naming the file when it cannot be read or is not a 2-D+time (grey or RGB) volume.
    """
    path = os.fspath(path)
    try:
        volume = LoadImage(reader=_volume_reader(path), image_only=True)(path)
    except Exception as err:  # MONAI raises RuntimeError/TypeError/OptionalImportError depending on the reader
        raise ValueError(f"cannot read volume '{path}': {str(err).splitlines()[0] if str(err) else err!r}") from None
    shape = tuple(volume.shape)  # the file's own, before the channel is moved first
    volume = EnsureChannelFirst()(volume)
    if volume.ndim != 4 or volume.shape[0] not in (1, 3):
        raise ValueError(
            f"volume '{path}' must be 2-D+time, grey or RGB: shape (H, W, T) or (H, W, T, 1 or 3), got {shape}."
        )
    volume = Orientation(axcodes=VOLUME_AXCODES, labels=None)(volume)
    array = np.asarray(volume.numpy())
    if array.min() < 0 or array.max() > 255 or not np.array_equal(array, np.rint(array)):
        array = np.asarray(ScaleIntensity(minv=0.0, maxv=255.0)(array))
    frames = np.broadcast_to(np.rint(array), (3, *array.shape[1:])).transpose(3, 1, 2, 0)  # (T, H, W, 3)
    return np.ascontiguousarray(frames.astype(np.uint8))


def _folder_frames(folder: Path) -> list[str]:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    if not files:
        raise ValueError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in folder '{folder}'.")
    return [str(p) for p in sorted(files, key=lambda p: natural_key(p.name))]


def _datalist_sources(path: Path, key: str) -> list[FrameSource]:
    try:
        with open(path) as f:
            keys = list(json.load(f))
        cases = load_decathlon_datalist(str(path), data_list_key=key)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"datalist '{path}' is not valid JSON: {err}.") from None
    except (KeyError, ValueError):
        raise ValueError(f"datalist '{path}' has no list {key!r} (it has {keys}).") from None
    sources = []
    for i, case in enumerate(cases):
        refs = case.get("image")
        if not isinstance(refs, list) or not refs:
            raise ValueError(f"datalist '{path}', {key}[{i}]: 'image' must be a non-empty list of frames (a video).")
        name = str(case.get("case", f"case_{i:04d}"))
        absent = next((ref for ref in refs if not os.path.isfile(parse_frame_ref(ref)[0])), None)
        if absent is not None:
            raise FileNotFoundError(f"datalist '{path}', {key}[{i}] (case '{name}'): frame file not found: '{absent}'.")
        sources.append(FrameSource(str(path), "datalist", case=name, num_frames=len(refs), refs=list(refs)))
    return sources


def open_sources(path: str | os.PathLike, datalist_key: str = "test") -> list[FrameSource]:
    """The videos an inference input holds: one for a video file, a folder of frames or a volume; one per case for
    a datalist JSON (its list ``datalist_key``, cases with an ``"image"`` list of frame refs).

    The input is checked here, before any work: a video file must open and decode its first frame (its frame rate
    and frame count are read from its header), a volume is read whole and its shape checked, the files a datalist
    names must exist. Frames are decoded when the sources are iterated.

    Raises:
        FileNotFoundError: when ``path``, or a file a datalist names, does not exist.
        ValueError: naming ``path`` for an unknown file type, an unreadable video or volume, an empty folder or a
            datalist without that list.

    Examples::

        >>> [source] = open_sources("procedure.mp4")  # doctest: +SKIP
        >>> for name, frame in source: ...            # name "00000", frame (H, W, 3) uint8
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"input not found: '{path}'.")
    if path.is_dir():
        frames = _folder_frames(path)
        return [FrameSource(str(path), "folder", num_frames=len(frames), refs=frames)]
    if is_video_file(path):
        capture = cv2.VideoCapture(str(path))
        try:
            if not capture.isOpened():
                raise ValueError(f"cannot open video file '{path}': corrupt or unsupported codec.")
            if not capture.read()[0]:
                raise ValueError(f"cannot read any frame from '{path}': empty or corrupt.")
            fps, count = capture.get(cv2.CAP_PROP_FPS), int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        finally:
            capture.release()
        fps, count = fps if fps > 0 else _DEFAULT_FPS, count if count > 0 else None
        return [FrameSource(str(path), "video", fps=fps, num_frames=count)]
    if is_volume_file(path):
        frames = load_volume_frames(path)
        return [FrameSource(str(path), "volume", num_frames=len(frames), volume=frames)]
    if path.suffix.lower() == ".json":
        return _datalist_sources(path, datalist_key)
    raise ValueError(
        f"input '{path}': expected a video ({', '.join(VIDEO_EXTENSIONS)}), a folder of frames, "
        f"a datalist (.json) or a volume ({', '.join(VOLUME_EXTENSIONS)})."
    )
