"""The dataset layouts that :func:`~monai_pns.data.build_datalist` and ``python -m monai_pns.evaluate`` know, in
one registry.

A layout declares its scanner, the datalist keys it writes, and what evaluating it means: the key scored by
default, the metric mode and whether a dataset root without a separate mask folder holds the masks itself.
Adding a layout is one scanner function and one :func:`register_layout` call (plus a
``configs/datasets/<name>.json`` for the bundle)::

    def scan_mine(root: Path, masks: Path | None, split: str) -> dict[str, list[dict]]:
        cases = []
        for case_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            image, label = pair_frames(case_dir.name, case_dir / "img", case_dir / "mask")
            cases.append(video_case(case_dir.name, root.name, "test", image, label))
        return {"test": cases}

    register_layout(DatasetLayout("mine", scan_mine, splits=("test",)))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from monai.utils import look_up_option

from monai_pns.data.scanners import scan_folders, scan_kvasir, scan_pnsnet, scan_sunseg

__all__ = ["LAYOUTS", "DatasetLayout", "get_layout", "layout_names", "register_layout"]


@dataclass(frozen=True)
class DatasetLayout:
    """One dataset layout.

    Args:
        name: the name given as ``layout`` / ``--layout``.
        scan: ``scan(root, masks, split) -> {key: [item, ...]}`` (see :mod:`monai_pns.data.scanners`): ``root``
            the dataset folder and ``masks`` the mask folder or None (resolved ``Path`` s), ``split`` the key asked
            for by a layout without fixed keys.
        splits: the datalist keys the scanner may write; empty: the one key named by ``split``.
        eval_key: the key scored by default when evaluating (one of ``splits``; with no ``splits``, the default
            ``split``).
        metric_mode: the metric definitions it is scored with by default: "matlab" or "sunseg" (checked when
            evaluating, so that scanning never imports the metrics).
        separate_masks: the scanner takes a mask folder (``masks``); other layouts refuse one.
        masks_in_root: when evaluating without a mask folder, the dataset root holds the masks themselves (a
            folder of mask folders), so ``masks`` defaults to the root.

    Examples::

        >>> layout = DatasetLayout("mine", scan_mine, splits=("test",))
        >>> layout.scan(Path("/data/mine"), None, "test")["test"][0]["case"]
    """

    name: str
    scan: Callable[[Path, Path | None, str], dict[str, list[dict]]]
    splits: tuple[str, ...] = ()
    eval_key: str = "test"
    metric_mode: str = "matlab"
    separate_masks: bool = False
    masks_in_root: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a layout needs a name (a non-empty string), got name={self.name!r}.")
        if not callable(self.scan):
            raise ValueError(f"layout '{self.name}': scan must be a function scan(root, masks, split), got "
                             f"{self.scan!r}.")
        if self.splits and self.eval_key not in self.splits:
            raise ValueError(f"layout '{self.name}': eval_key={self.eval_key!r} is not one of its splits "
                             f"{self.splits}: add it to splits or pick one of them.")
        if self.masks_in_root and not self.separate_masks:
            raise ValueError(f"layout '{self.name}': masks_in_root needs separate_masks=True (masks default to the "
                             "root only where a mask folder is taken).")


_BUILT_IN = (
    DatasetLayout("pnsnet", scan_pnsnet, splits=("pretraining", "training", "test")),
    DatasetLayout("sunseg", scan_sunseg, splits=("training", "test"), metric_mode="sunseg"),
    DatasetLayout("kvasir", scan_kvasir, splits=("pretraining",), eval_key="pretraining"),
    DatasetLayout("folders", scan_folders, separate_masks=True, masks_in_root=True),
)
_REGISTRY: dict[str, DatasetLayout] = {layout.name: layout for layout in _BUILT_IN}


def register_layout(layout: DatasetLayout, replace: bool = False) -> DatasetLayout:
    """Make ``layout`` known to ``build_datalist``, the datalist and evaluation command lines (``--layout``) and
    the bundle's ``layout`` setting, under ``layout.name``; returns it.

    Raises:
        ValueError: a layout of that name is registered already and ``replace`` is False.
    """
    if not isinstance(layout, DatasetLayout):
        raise ValueError(f"register_layout takes a DatasetLayout, got {type(layout).__name__}.")
    if layout.name in _REGISTRY and not replace:
        raise ValueError(f"layout '{layout.name}' is registered already: pick another name, or pass replace=True.")
    _REGISTRY[layout.name] = layout
    return layout


def layout_names() -> tuple[str, ...]:
    """The names of the registered layouts, built-in first (``pnsnet``, ``sunseg``, ``kvasir``, ``folders``)."""
    return tuple(_REGISTRY)


def get_layout(name: str) -> DatasetLayout:
    """The registered layout ``name``.

    Raises:
        ValueError: no layout of that name (the message lists the names and suggests the closest one).
    """
    return look_up_option(name, _REGISTRY)


def __getattr__(name: str):
    # LAYOUTS is read when it is used, so that a layout registered later is in it
    if name == "LAYOUTS":
        return layout_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
