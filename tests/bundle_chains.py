"""The bundle's transform chains for the tests: train.json's named pieces, parsed with settings overridden."""

from __future__ import annotations

from pathlib import Path

from monai.bundle import ConfigParser
from monai.transforms import Compose

TRAIN = Path(__file__).resolve().parents[1] / "bundles" / "pns_net" / "configs" / "train.json"
#: every augmentation of the bundle with probability 1
ALWAYS = {f"transforms#augmentation#{i}#prob": 1.0 for i in range(3)}


def bundle_parser(**settings) -> ConfigParser:
    """train.json with ``settings`` overridden (ids as on the command line, e.g. ``transforms#crop_clip#max_crop``)."""
    parser = ConfigParser()
    parser.read_config(str(TRAIN))
    parser.update(settings)
    return parser


def bundle_chain(section: str, **settings) -> Compose:
    """The preprocessing of ``section``: ``pretrain``, ``train``, ``pretrain_validate`` or ``validate``."""
    return bundle_parser(**settings).get_parsed_content(f"{section}#preprocessing")


def cached_train_chain(**settings) -> Compose:
    """The training pieces in the order whose start a ``CacheDataset`` keeps: the whole case loaded and resized,
    then the window drawn."""
    parser = bundle_parser(**settings)
    names = ("load", "resize_clip", "window", "crop_clip", "augmentation", "frame_corruption", "normalize")
    pieces = [parser.get_parsed_content(f"transforms#{name}") for name in names]
    return Compose([t for piece in pieces for t in (piece if isinstance(piece, list) else [piece])])
