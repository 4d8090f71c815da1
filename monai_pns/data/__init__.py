"""Datasets on disk: the layouts registry and their scanners, datalists, frame/video reading, the embedded synthetic
set, and the per-frame metadata keys every later stage reads."""

from __future__ import annotations

import importlib

__all__ = [
    "FRAME_INDEX",
    "FRAME_META_KEYS",
    "FRAME_PATH",
    "FRAME_WRITE",
    "IMAGE_EXTENSIONS",
    "LAYOUTS",
    "VIDEO_EXTENSIONS",
    "VIDEO_ID",
    "DatasetLayout",
    "batch_frame_ids",
    "build_datalist",
    "check_image_complete",
    "count_video_frames",
    "default_cache_dir",
    "frame_stem",
    "generate_synthetic_dataset",
    "get_layout",
    "image_cases",
    "inference_cases",
    "is_video_file",
    "layout_names",
    "load_datalist",
    "natural_key",
    "pair_frames",
    "parse_frame_ref",
    "probability_to_uint8",
    "read_frames",
    "read_image",
    "read_video_frames",
    "register_layout",
    "save_preview",
    "sunseg_frame_key",
    "synthetic_datalist",
    "video_case",
    "video_frame_ref",
    "write_datalist",
]

_MODULES = {
    "image_io": ("IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "check_image_complete", "count_video_frames", "frame_stem",
                 "is_video_file", "parse_frame_ref", "probability_to_uint8", "read_frames", "read_image",
                 "read_video_frames", "video_frame_ref"),
    "datalist": ("build_datalist", "inference_cases", "load_datalist", "write_datalist"),
    "layouts": ("LAYOUTS", "DatasetLayout", "get_layout", "layout_names", "register_layout"),
    "scanners": ("image_cases", "natural_key", "pair_frames", "sunseg_frame_key", "video_case"),
    "synthetic": ("default_cache_dir", "generate_synthetic_dataset", "save_preview", "synthetic_datalist"),
    "frame_keys": ("FRAME_INDEX", "FRAME_META_KEYS", "FRAME_PATH", "FRAME_WRITE", "VIDEO_ID", "batch_frame_ids"),
}
_ORIGIN = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str):
    # imported on first use, so that `python -m monai_pns.data.datalist` (or `.synthetic`) runs its module
    # without it having been imported already by this package
    if name not in _ORIGIN:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_ORIGIN[name]}"), name)
