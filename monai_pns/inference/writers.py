"""Write one video's predictions: PNG masks, an overlay video, and NIfTI volumes of the masks and the frames.

Everything is written under temporary names inside the output folder while the frames stream in, and renamed into
place by :meth:`PredictionWriter.commit` once the video is complete; :meth:`PredictionWriter.abort` (or an exception
inside ``with PredictionWriter(...)``) removes the temporaries, so earlier outputs are never replaced by partial
ones. Memory stays bounded: the NIfTI volumes are appended frame by frame to raw files (in the volumes' own byte
order) that are memory-mapped when the volumes are written.

Output folder layout::

    masks/<frame name>.png          binary masks, 0 or 255, where the foreground probability is > threshold
    probabilities/<frame name>.png  with ``probabilities=True``: 8-bit codes as the bundle writes them
                                    (``probability_to_uint8``), what the evaluation scores
    overlay.mp4                     the frames with the mask tinted, its contour and the frame number
    masks.nii.gz, frames.nii.gz     with ``nifti=True``: (H, W, T) uint8 masks (0/1) and RGB24 frames, one affine
    summary.json                    when given (:meth:`PredictionWriter.write_summary`): what the run records

The volumes' axes (rows, columns, frames) are oriented "PLS" (:data:`~monai_pns.inference.sources.VOLUME_AXCODES`):
3D Slicer and ITK-SNAP show each frame upright in their axial view, the masks over the frames.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import cv2
import nibabel as nib
import numpy as np

from monai_pns.data.image_io import probability_to_uint8
from monai_pns.inference.predictor import FramePrediction
from monai_pns.utils import umask_mode

__all__ = ["PredictionWriter", "overlay_frame", "volume_affine"]

_RGB24 = np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")])
_TINT = np.array([0, 255, 0], dtype=np.float32)  # RGB


def volume_affine() -> np.ndarray:
    """The affine of the written volumes: row -> posterior, column -> left, frame -> superior, 1 mm apart."""
    return np.array([[0, -1, 0, 0], [-1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float64)


def overlay_frame(frame: np.ndarray, mask: np.ndarray, index: int, alpha: float = 0.4) -> np.ndarray:
    """RGB ``uint8`` (H, W, 3) frame and boolean (H, W) mask -> BGR ``uint8`` frame for OpenCV's video writer: the
    mask tinted green with weight ``alpha``, its contour in green and the frame number in the top-left corner."""
    out = frame.astype(np.float32)
    out[mask] = (1 - alpha) * out[mask] + alpha * _TINT
    bgr = cv2.cvtColor(np.rint(out).astype(np.uint8), cv2.COLOR_RGB2BGR)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(bgr, contours, -1, (0, 255, 0), thickness=max(1, min(frame.shape[:2]) // 200))
    scale = max(0.4, min(frame.shape[:2]) / 500)
    cv2.putText(bgr, str(index), (4, int(24 * scale) + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                max(1, int(2 * scale)), cv2.LINE_AA)
    return bgr


class PredictionWriter:
    """Stream one video's :class:`~monai_pns.inference.predictor.FramePrediction` s into ``out_dir``.

    Args:
        out_dir: the video's output folder (created if needed).
        fps: frame rate of the overlay video.
        threshold: a pixel is in the mask where its probability is greater than this.
        overlay: write ``overlay.mp4``.
        nifti: write ``masks.nii.gz`` and ``frames.nii.gz``.
        probabilities: write ``probabilities/<name>.png`` as well.

    Examples::

        >>> with PredictionWriter("out/case1", fps=25, nifti=True) as writer:  # doctest: +SKIP
        ...     for prediction in predictor(source):
        ...         writer.write(prediction)
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        fps: float = 25.0,
        threshold: float = 0.5,
        overlay: bool = True,
        nifti: bool = False,
        probabilities: bool = False,
    ) -> None:
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f"threshold must be in [0, 1), got {threshold=}.")
        self.out_dir = Path(out_dir).expanduser()
        self.fps, self.threshold = float(fps), threshold
        self.overlay, self.nifti, self.probabilities = overlay, nifti, probabilities
        self.count = 0
        self._size: tuple[int, int] | None = None
        self._tmp: Path | None = None
        self._video: cv2.VideoWriter | None = None
        self._raw: dict[str, object] = {}

    def __enter__(self) -> PredictionWriter:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(dir=self.out_dir, prefix=".partial-"))
        os.chmod(self._tmp, umask_mode(0o777))
        (self._tmp / "masks").mkdir()
        if self.probabilities:
            (self._tmp / "probabilities").mkdir()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def _start(self, height: int, width: int) -> None:
        self._size = (height, width)
        if self.overlay:
            path = str(self._tmp / "overlay.mp4")
            self._video = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height))
            if not self._video.isOpened():
                raise OSError(f"OpenCV cannot write an mp4 video at '{path}' (no mp4v encoder?).")
        if self.nifti:
            self._raw = {name: open(self._tmp / f"{name}.raw", "wb") for name in ("masks", "frames")}

    def _imwrite(self, path: Path, image: np.ndarray) -> None:
        if not cv2.imwrite(str(path), image):
            raise OSError(f"cannot write '{path}'.")

    def write(self, prediction: FramePrediction) -> None:
        """Add the next frame's outputs (frames must come in temporal order, all of one size)."""
        if self._tmp is None:
            raise RuntimeError("use PredictionWriter as a context manager: `with PredictionWriter(...) as w:`.")
        height, width = prediction.frame.shape[:2]
        if self._size is None:
            self._start(height, width)
        elif (height, width) != self._size:
            video = f"{self._size[1]}x{self._size[0]}"
            raise ValueError(f"frame {prediction.index} is {width}x{height}, the video {video}.")
        mask = prediction.probability > self.threshold
        self._imwrite(self._tmp / "masks" / f"{prediction.name}.png", mask.astype(np.uint8) * 255)
        if self.probabilities:
            probability = probability_to_uint8(prediction.probability)
            self._imwrite(self._tmp / "probabilities" / f"{prediction.name}.png", probability)
        if self._video is not None:
            self._video.write(overlay_frame(prediction.frame, mask, prediction.index))
        if self._raw:
            # NIfTI stores (H, W, T) with H fastest: frame t is the C-order bytes of its transpose (W, H)
            self._raw["masks"].write(np.ascontiguousarray(mask.T, dtype=np.uint8).tobytes())
            self._raw["frames"].write(np.ascontiguousarray(prediction.frame.transpose(1, 0, 2)).tobytes())
        self.count += 1

    def write_summary(self, summary: dict) -> None:
        """Add ``summary.json`` (``summary`` as indented JSON), committed with the other outputs."""
        if self._tmp is None:
            raise RuntimeError("use PredictionWriter as a context manager: `with PredictionWriter(...) as w:`.")
        (self._tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

    def _write_volumes(self) -> None:
        height, width = self._size
        for name, dtype in (("masks", np.uint8), ("frames", _RGB24)):
            self._raw[name].close()
            raw = self._tmp / f"{name}.raw"
            data = np.memmap(raw, dtype=dtype, mode="r", shape=(height, width, self.count), order="F")
            image = nib.Nifti1Image(data, volume_affine())
            image.header.set_xyzt_units("mm", "sec")
            nib.save(image, self._tmp / f"{name}.nii.gz")
            del data
            raw.unlink()
        self._raw = {}

    def commit(self) -> list[Path]:
        """Finish the files and rename them into ``out_dir`` (replacing earlier outputs); returns their paths."""
        if self._tmp is None:
            raise RuntimeError("nothing to commit: the writer was not entered or is already closed.")
        if self.count == 0:
            self.abort()
            raise ValueError(f"no frame was written to '{self.out_dir}'.")
        try:
            if self._video is not None:
                self._video.release()
                self._video = None
            if self._raw:
                self._write_volumes()
            names = sorted(p.name for p in self._tmp.iterdir())
            for name in names:
                _replace(self._tmp / name, self.out_dir / name)
        except BaseException:
            self.abort()
            raise
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp = None
        return [self.out_dir / name for name in names]

    def abort(self) -> None:
        """Remove the temporaries; earlier outputs in ``out_dir`` are left as they were."""
        if self._video is not None:
            self._video.release()
            self._video = None
        for f in self._raw.values():
            f.close()
        self._raw = {}
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def write_all(self, predictions: Iterable[FramePrediction]) -> int:
        """Write every prediction and return how many were written."""
        for prediction in predictions:
            self.write(prediction)
        return self.count


def _replace(source: Path, target: Path) -> None:
    """Rename ``source`` (file or folder) to ``target``, replacing whatever ``target`` was."""
    if target.is_dir() and not target.is_symlink():
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=".old-"))
        os.replace(target, old / target.name)
        os.replace(source, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(source, target)
