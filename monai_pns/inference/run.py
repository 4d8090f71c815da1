"""The inference job behind ``python -m monai_pns.infer`` and the bundle's inference config: a checkpoint and an input
(video, folder of frames, datalist or volume) in, masks, overlay videos and NIfTI volumes out."""

from __future__ import annotations

import os
import shutil
import time
import warnings
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import torch
from monai.utils import look_up_option
from tqdm import tqdm

from monai_pns.inference.checkpoint import NetworkSpec, load_network
from monai_pns.inference.fast import PRECISIONS as FAST_PRECISIONS, optimize_network, resolve_precision
from monai_pns.inference.onnx_backend import OnnxClipModel
from monai_pns.inference.pipeline import prefetch
from monai_pns.inference.predictor import VideoPredictor, calibration_frames, frame_preprocessing
from monai_pns.inference.sources import FrameSource, open_sources
from monai_pns.inference.writers import PredictionWriter
from monai_pns.transforms import PNS_MEAN, PNS_STD
from monai_pns.utils import check_output_dir

__all__ = ["BACKENDS", "DEFAULT_CLIP_LENGTH", "PRECISIONS", "run_inference"]

BACKENDS = ("torch", "onnxruntime")
#: the fast path's precisions, and int8: its encoder quantized on calibration frames
PRECISIONS = (*FAST_PRECISIONS, "int8")
DEFAULT_CLIP_LENGTH = 5
_STRIDE = 16


def _clip_length(spec: NetworkSpec, requested: int | None, ckpt: str) -> int:
    if requested is not None and spec.clip_length is not None and requested != spec.clip_length:
        raise ValueError(
            f"checkpoint '{ckpt}' is for clips of {spec.clip_length} frames (network_config clip_length), "
            f"got clip_length={requested}."
        )
    length = requested if requested is not None else spec.clip_length or DEFAULT_CLIP_LENGTH
    if length < 1:
        raise ValueError(f"clip_length must be >= 1, got clip_length={length}.")
    return length


def _spatial_size(spec: NetworkSpec, requested: Sequence[int] | None, ckpt: str) -> tuple[int, int]:
    norm_shape = spec.kwargs.get("norm_shape")
    bound = None if norm_shape is None else (norm_shape[0] * _STRIDE, norm_shape[1] * _STRIDE)
    if requested is not None and bound is not None and tuple(requested) != bound:
        raise ValueError(
            f"checkpoint '{ckpt}' has the size-bound NS norm of {bound[0]}x{bound[1]} inputs, got "
            f"spatial_size={tuple(requested)}."
        )
    trained = spec.spatial_size
    if requested is not None and trained is not None and tuple(requested) != tuple(trained):
        raise ValueError(
            f"checkpoint '{ckpt}' was trained on {trained[0]}x{trained[1]} inputs (network_config spatial_size), "
            f"got spatial_size={tuple(requested)}."
        )
    size = tuple(int(s) for s in (requested if requested is not None else trained or bound or (256, 448)))
    if len(size) != 2 or min(size) < _STRIDE or size[0] % _STRIDE or size[1] % _STRIDE:
        raise ValueError(f"spatial_size must be two positive multiples of {_STRIDE}, got spatial_size={size}.")
    return size  # type: ignore[return-value]


def run_inference(
    ckpt: str | os.PathLike,
    input: str | os.PathLike,
    out: str | os.PathLike,
    official: bool = False,
    backend: str = "torch",
    precision: str = "auto",
    device: str | None = None,
    clip_length: int | None = None,
    spatial_size: Sequence[int] | None = None,
    normalize: bool | None = None,
    threshold: float = 0.5,
    nifti: bool = False,
    overlay: bool = True,
    probabilities: bool = False,
    datalist_key: str = "test",
    fast: bool = True,
    progress: bool = True,
    allow_short: bool = False,
    calibration: str | os.PathLike | None = None,
    overlap: bool = True,
) -> list[dict]:
    """Segment every frame of every video of ``input`` with the network of ``ckpt`` and write the results to ``out``.

    ``out`` (one video) or ``out/<case>`` (each case of a datalist) receives the outputs of
    :class:`~monai_pns.inference.PredictionWriter` and ``summary.json``, the video's summary (below). With
    ``overlap`` decoding, the network and writing run in three threads joined by queues of two clips' frames
    (:func:`~monai_pns.inference.pipeline.prefetch`): the same outputs, in the same order. The output
    folder is checked before any work, then the input (:func:`~monai_pns.inference.open_sources`), then the
    checkpoint is loaded. A failure removes the output folders the run created (earlier outputs in existing folders
    are left as they were, see :class:`~monai_pns.inference.PredictionWriter`).

    A video file that decodes fewer frames than its header states (cut short or damaged) loses its last decoded
    frame (see :mod:`monai_pns.inference.sources`) and is an error, or with ``allow_short`` a warning naming both
    counts, its outputs written and its summary recording it.

    Args:
        ckpt: checkpoint file (rules in :mod:`monai_pns.inference.checkpoint`).
        input: a video file, a folder of frames, a datalist JSON or a 2-D+time volume.
        out: output folder.
        official: ``ckpt`` is a released PNS-Net / PNS+ checkpoint (256 x 448 inputs, no input normalisation).
        backend: ``"torch"`` or ``"onnxruntime"`` (the clip model exported to ONNX, float32).
        precision: ``"fp32"``, ``"bf16"`` or ``"auto"`` for the torch backend (see
            :func:`~monai_pns.inference.resolve_precision`), or ``"int8"``: the CPU fast path with its encoder
            quantized to int8 on 32 frames of ``calibration`` (``encoder="onnxruntime-int8"`` of
            :func:`~monai_pns.inference.optimize_network`).
        device: ``"cpu"``, ``"cuda"``, ...; by default CUDA when available.
        clip_length: T; by default the checkpoint's ``network_config`` value, else 5.
        spatial_size: the network's input (H, W); by default the checkpoint's ``network_config`` value, else the size
            a size-bound norm needs, else 256 x 448.
        normalize: normalise inputs with the mean and std of the checkpoint's ``network_config`` (the training
            defaults without one); by default True, False with ``official``.
        threshold: mask where the probability is greater than this.
        nifti: also write ``masks.nii.gz`` and ``frames.nii.gz``.
        overlay: write ``overlay.mp4``.
        probabilities: also write the probability maps as PNGs.
        datalist_key: the list of a datalist to segment.
        fast: use :func:`~monai_pns.inference.optimize_network` (torch backend); False runs the network as loaded.
        progress: show a progress bar with frames per second (on a terminal only).
        allow_short: segment the frames a short video file gives instead of raising.
        calibration: with ``precision="int8"``: frames to calibrate on, any input form (a video of the training set,
            say); by default ``input`` itself (its first frames, every fifth).
        overlap: decode and write in threads of their own, alongside the network; False runs all three in turn.

    Returns:
        one summary per video: ``{"input", "case", "out", "frames", "seconds", "fps", "backend", "precision",
        "header_frames", "decoded_frames", "short"}``: ``frames`` segmented; for a video file the frame count its
        header states, the frames its decoder gave and whether they fell short (None, None, False for other inputs).

    Raises:
        ValueError: naming the file for an unreadable input or checkpoint, a short video without ``allow_short``.

    Examples::

        >>> run_inference("model.pt", "procedure.mp4", "out", nifti=True)  # doctest: +SKIP
        [{'input': 'procedure.mp4', 'case': '', 'out': 'out', 'frames': 1200, ...}]
    """
    backend = look_up_option(backend, BACKENDS)
    precision = look_up_option(precision, PRECISIONS)
    if precision == "int8" and (backend != "torch" or not fast or device not in (None, "cpu")):
        raise ValueError(f"precision='int8' is the CPU fast path of the torch backend, got {backend=}, {fast=}, "
                         f"{device=}.")
    out = check_output_dir(out)
    sources = open_sources(input, datalist_key=datalist_key)
    calibration_sources = open_sources(calibration or input, datalist_key=datalist_key) if precision == "int8" else []
    network, spec = load_network(ckpt, official=official)
    length = _clip_length(spec, clip_length, os.fspath(ckpt))
    size = _spatial_size(spec, spatial_size, os.fspath(ckpt))
    device = device or ("cuda" if torch.cuda.is_available() and precision != "int8" else "cpu")
    intensity = spec.intensity or {"mean": PNS_MEAN, "std": PNS_STD}
    normalize = (not official) if normalize is None else normalize
    if backend == "onnxruntime":
        precision, device = "fp32", "cpu"
        model = OnnxClipModel(network, (1, network.in_channels, length + spec.uses_anchor, *size))
    elif precision == "int8":
        preprocessing = frame_preprocessing(size, normalize, mean=intensity["mean"], std=intensity["std"])
        frames = calibration_frames(calibration_sources, preprocessing)
        model = optimize_network(network, "fp32", device, encoder="onnxruntime-int8", calibration=frames)
    else:
        precision = resolve_precision(precision, device)
        model = optimize_network(network, precision, device) if fast else network.to(device)
    predictor = VideoPredictor(
        model, size, length, anchor=spec.uses_anchor, normalize=normalize, mean=intensity["mean"],
        std=intensity["std"], device=device,
    )
    summaries, created = [], []
    try:
        for source in sources:
            target = out / source.case if source.case else out
            missing = [p for p in (target, *target.parents) if not p.exists()]
            created += missing[-1:]  # the topmost folder the writer creates: removed if the run fails
            start = time.perf_counter()
            queued = 2 * length
            predictions = prefetch(predictor(prefetch(source, queued)), queued) if overlap else predictor(source)
            # closing: a failed write stops the threads before the writer discards its files
            with PredictionWriter(target, source.fps, threshold, overlay, nifti, probabilities) as writer, \
                    closing(predictions):
                bar = tqdm(predictions, total=source.num_frames, unit="frame",
                           desc=source.case or Path(source.path).name,
                           disable=None if progress else True)  # None: on a terminal only
                writer.write_all(bar)
                if source.short and not allow_short:
                    raise ValueError(
                        f"{_short_message(source)}: nothing written (use --allow-short to segment the "
                        f"{writer.count} before it)."
                    )
                seconds = time.perf_counter() - start
                summary = {
                    "input": source.path, "case": source.case, "out": str(target), "frames": writer.count,
                    "seconds": round(seconds, 3), "fps": round(writer.count / seconds, 2), "backend": backend,
                    "precision": precision, "header_frames": source.num_frames if source.kind == "video" else None,
                    "decoded_frames": source.decoded_frames, "short": source.short,
                }
                writer.write_summary(summary)
            if source.short:
                warnings.warn(f"{_short_message(source)}: {writer.count} frames segmented.", stacklevel=2)
            summaries.append(summary)
    except BaseException:
        for folder in created:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return summaries


def _short_message(source: FrameSource) -> str:
    return (
        f"video '{source.path}' is short: its header states {source.num_frames} frames but {source.decoded_frames} "
        "decode (a cut or damaged file; the last decoded one, where it breaks off, is not segmented)"
    )
