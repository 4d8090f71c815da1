"""Ground truth and predictions written by the evaluation tests (generated, never real data)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from monai_pns.metrics import VPSEvaluator


def blob(i: int, shape=(36, 44)) -> np.ndarray:
    gt = np.zeros(shape, np.uint8)
    gt[8 + i % 5 : 22 + i % 5, 10:30] = 255
    return gt


def noisy(gt: np.ndarray, seed: int, size=None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pred = np.clip(cv2.GaussianBlur(gt.astype(np.float64), (0, 0), 2) + rng.normal(0, 60, gt.shape), 0, 255)
    pred = pred.astype(np.uint8)
    return cv2.resize(pred, size, interpolation=cv2.INTER_AREA) if size else pred


def write(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


def make_pnsnet_tree(tmp_path: Path) -> tuple[Path, Path, Path, dict]:
    """<root>/VPS-TestSet/<set>/{Frame,GT}/<case>/<n>.png with 11 integer-named frames (1..11: 10 sorts after 9)."""
    root, perfect, model = tmp_path / "PNS-Net", tmp_path / "res" / "Perfect", tmp_path / "res" / "Noisy"
    frames = {}
    for set_name, cases in (("CVC-300", ("1", "2")), ("CVC-612-T", ("7",))):
        for case in cases:
            for n in range(1, 12):
                gt = blob(n + int(case))
                write(root / "VPS-TestSet" / set_name / "GT" / case / f"{n}.png", gt)
                write(root / "VPS-TestSet" / set_name / "Frame" / case / f"{n}.jpg", gt)  # images are not read
                write(perfect / set_name / case / f"{n}.png", gt)
                pred = noisy(gt, n * 7 + int(case), size=(30, 25))  # another size: resized to the GT
                write(model / set_name / case / f"{n}.png", pred)
                frames[(set_name, case, n)] = (gt, pred)
    return root, perfect, model, frames


def expected_results(frames: dict, mode: str = "matlab", skip_first_last: bool = True, replace=None) -> dict:
    """The set results of ``frames`` ((set, case, n) -> (gt, pred)) scored by ``VPSEvaluator`` directly."""
    expected = VPSEvaluator(mode, skip_first_last)
    for (set_name, case, n), (gt, pred) in frames.items():
        pred = replace(set_name, case, n, gt, pred) if replace else pred
        expected.add_frame(pred, gt, case, n, set_name)
    return expected.set_results()


def assert_results(actual: dict, expected: dict) -> None:
    """``actual`` has the sets of ``expected`` in order with every value equal (1e-12)."""
    assert list(actual) == list(expected)
    for set_name, values in expected.items():
        for key, value in values.items():
            assert actual[set_name][key] == pytest.approx(value, abs=1e-12), (set_name, key)
