"""Write the predicted probability maps of a video segmentation run as 8-bit PNGs, each frame once."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import cv2
import torch
from monai.data import decollate_batch
from monai.handlers import from_engine
from monai.transforms import Resize
from monai.utils import CommonKeys, IgniteInfo, MetaKeys, look_up_option, min_version, optional_import

from monai_pns.data.frame_keys import FRAME_PATH, FRAME_WRITE, VIDEO_ID
from monai_pns.data.image_io import frame_stem, probability_to_uint8
from monai_pns.utils import check_output_dir, write_atomic

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["VPSPredictionWriter"]

_MODES = ("bilinear", "bicubic", "nearest", "nearest-exact", "area")


def _video_folder(video_id: str) -> PurePosixPath:
    """The relative folder of a video id (``"CVC-300/1"`` -> ``CVC-300/1``); absolute or ``..`` ids are refused."""
    parts = str(video_id).replace("\\", "/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"video_id={video_id!r} cannot name a folder under the output folder.")
    return PurePosixPath(*parts)


def _items(value: Any) -> list:
    """Per-item entries of a batch: decollated when batched (a tensor or a dict of collated meta), else as is.
    ``monai.handlers.from_engine`` gives a batch's key as a 1-tuple and a decollated batch's as a list."""
    if isinstance(value, tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, (torch.Tensor, Mapping)):
        return decollate_batch(value, detach=True)
    return list(value)


class VPSPredictionWriter:
    """Ignite handler writing, for every frame flagged for writing, its probability map as an 8-bit PNG.

    Files go to ``<output_dir>/<video_id>/<stem>.png``, the layout of the evaluation toolboxes that
    ``python -m monai_pns.evaluate`` reads: the PNS-Net test case ``"CVC-ClinicDB-612-Test/1"`` gives
    ``<output_dir>/CVC-ClinicDB-612-Test/1/<n>.png`` (``--layout pnsnet``) and the SUN-SEG case
    ``"TestEasyDataset/Seen/case1_1"`` gives ``<output_dir>/TestEasyDataset/Seen/case1_1/<name>.png``
    (``--layout sunseg``). The stem is that of the frame's file, or the frame index for a frame of a video file
    (:func:`frame_stem`).

    Per item, the prediction is (1, T, H, W) for clips or (1, H, W) for images, logits (``sigmoid=True``) or
    probabilities; the metadata is what :class:`monai_pns.transforms.LoadFramesd` records: ``video_id``,
    ``frame_write`` (frames flagged False, such as the overlap of the shifted last test clip or the PNS+ anchor,
    are not written), ``frame_path`` and ``spatial_shape``. With ``resample`` the probability map is resized
    (``mode``) to the frame's original size from ``spatial_shape`` before rounding; otherwise it is written at the
    network's size, as the released code does (256x448). Codes are ``floor(255 * p + 0.5)``: rounded to the
    nearest, halves up (:func:`probability_to_uint8`); the release truncates (``uint8(255 * p)``), at most one
    code lower. Each file is written to a temporary name and renamed, with the umask's mode. A frame written
    twice in one epoch is an error naming it.

    Args:
        output_dir: root folder of the predictions; checked at construction.
        sigmoid: the predictions are logits; otherwise probabilities in [0, 1] (anything else is an error).
        resample: resize to the original frame size recorded in ``spatial_shape``.
        mode: interpolation of the resize: "bilinear", "bicubic", "nearest", "nearest-exact" or "area".
        output_transform: extracts the predictions from ``engine.state.output`` (a batch or a list of items).
        batch_transform: extracts the metadata from ``engine.state.batch``: ``MetaTensor`` (s) or meta dict (s).
        video_key, write_key, path_key: metadata keys of the video id, write flags and frame refs.
        name: logger name; default the engine's logger.

    Examples::

        >>> writer = VPSPredictionWriter(output_dir="runs/pred/PNSNet")
        >>> writer.attach(evaluator)  # a SupervisedEvaluator over expand_sequential_clips + LoadFramesd ...
        >>> evaluator.run()  # runs/pred/PNSNet/<set>/<case>/<n>.png, every test frame once
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        sigmoid: bool = True,
        resample: bool = True,
        mode: str = "bilinear",
        output_transform: Callable = from_engine(CommonKeys.PRED),
        batch_transform: Callable = from_engine(CommonKeys.IMAGE),
        video_key: str = VIDEO_ID,
        write_key: str = FRAME_WRITE,
        path_key: str = FRAME_PATH,
        name: str | None = None,
    ) -> None:
        self.output_dir = check_output_dir(output_dir, "prediction folder")
        self.sigmoid = sigmoid
        self.resample = resample
        self.mode = look_up_option(mode, _MODES)
        self.output_transform = output_transform
        self.batch_transform = batch_transform
        self.video_key = video_key
        self.write_key = write_key
        self.path_key = path_key
        self.logger = logging.getLogger(name)
        self._name = name
        self._written: set[Path] = set()

    def attach(self, engine: Engine) -> None:
        """Write at every ``ITERATION_COMPLETED``; the written set is reset at ``EPOCH_STARTED``."""
        if self._name is None:
            self.logger = engine.logger
        if not engine.has_event_handler(self.reset, Events.EPOCH_STARTED):
            engine.add_event_handler(Events.EPOCH_STARTED, self.reset)
        if not engine.has_event_handler(self, Events.ITERATION_COMPLETED):
            engine.add_event_handler(Events.ITERATION_COMPLETED, self)
        if not engine.has_event_handler(self._report, Events.EPOCH_COMPLETED):
            engine.add_event_handler(Events.EPOCH_COMPLETED, self._report)

    def reset(self, engine: Engine | None = None) -> None:
        self._written = set()

    def _report(self, engine: Engine) -> None:
        self.logger.info(f"wrote {len(self._written)} prediction maps under '{self.output_dir}'.")

    def __call__(self, engine: Engine) -> None:
        self.write(self.output_transform(engine.state.output), self.batch_transform(engine.state.batch))

    def write(self, preds: torch.Tensor | Sequence[torch.Tensor], meta: Any) -> list[Path]:
        """Write the flagged frames of a batch (or a list of items) of predictions; returns the files written.

        Args:
            preds: (B, 1, T, H, W) / (B, 1, H, W) batch, or a list of (1, T, H, W) / (1, H, W) items.
            meta: per item its metadata: a batched ``MetaTensor`` or collated meta dict, or a list of
                ``MetaTensor`` s or meta dicts.
        """
        items, metas = _items(preds), _items(meta)
        if len(items) != len(metas):
            raise ValueError(f"got {len(items)} predictions but metadata for {len(metas)} items.")
        written = []
        for pred, item_meta in zip(items, metas):
            written += self._write_item(pred, getattr(item_meta, "meta", item_meta))
        return written

    def _probabilities(self, pred: torch.Tensor) -> torch.Tensor:
        pred = pred.as_tensor() if hasattr(pred, "as_tensor") else torch.as_tensor(pred)
        if pred.ndim not in (3, 4) or pred.shape[0] != 1:
            raise ValueError(f"a prediction must be (1, T, H, W) or (1, H, W), got shape {tuple(pred.shape)}.")
        pred = pred.detach().float().cpu()
        if self.sigmoid:
            return torch.sigmoid(pred)
        low, high = float(pred.min()), float(pred.max())
        if not 0.0 <= low <= high <= 1.0:  # also catches NaN
            raise ValueError(
                f"probabilities must lie in [0, 1], got range [{low}, {high}] (sigmoid=True for logits)."
            )
        return pred

    def _claim(self, path: Path) -> Path:
        if path in self._written:
            raise ValueError(f"prediction '{path}' would be written twice in one run: check the 'frame_write' flags.")
        self._written.add(path)
        return path

    def _write_item(self, pred: torch.Tensor, meta: Mapping) -> list[Path]:
        for key in (self.video_key, self.path_key):
            if key not in meta:
                raise ValueError(
                    f"metadata key '{key}' is missing: load the items with monai_pns.transforms.LoadFramesd."
                )
        prob = self._probabilities(pred)
        frames = prob[0] if prob.ndim == 4 else prob  # (T, H, W)
        refs = [meta[self.path_key]] if isinstance(meta[self.path_key], str) else list(meta[self.path_key])
        flags = meta.get(self.write_key, [True] * len(frames))
        writes = torch.as_tensor(flags, dtype=torch.bool).reshape(-1).tolist()
        if len(refs) != len(frames) or len(writes) != len(frames):
            raise ValueError(
                f"video '{meta[self.video_key]}': {len(frames)} predicted frames but {len(refs)} '{self.path_key}' "
                f"and {len(writes)} '{self.write_key}' values."
            )
        size = self._original_size(meta, tuple(frames.shape[-2:]))
        folder = self.output_dir / _video_folder(meta[self.video_key])
        written = []
        for frame, ref, write in zip(frames, refs, writes):
            if not write:
                continue
            if size != tuple(frame.shape):
                frame = Resize(spatial_size=size, mode=self.mode)(frame[None])[0]
            ok, png = cv2.imencode(".png", probability_to_uint8(frame))
            if not ok:
                raise ValueError(f"cannot encode the prediction of frame '{ref}' as PNG.")
            written.append(write_atomic(self._claim(folder / f"{frame_stem(str(ref))}.png"), png.tobytes()))
        return written

    def _original_size(self, meta: Mapping, size: tuple[int, ...]) -> tuple[int, ...]:
        if not self.resample:
            return size
        if MetaKeys.SPATIAL_SHAPE not in meta:
            raise ValueError(
                f"resample=True needs the original size in metadata key '{MetaKeys.SPATIAL_SHAPE}' (recorded by "
                "LoadFramesd); use resample=False to write at the network's size."
            )
        return tuple(int(s) for s in torch.as_tensor(meta[MetaKeys.SPATIAL_SHAPE]).reshape(-1)[-2:].tolist())
