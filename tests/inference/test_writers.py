from __future__ import annotations

import os

import cv2
import nibabel as nib
import numpy as np
import pytest

from monai_pns.inference import FramePrediction, PredictionWriter
from monai_pns.inference.sources import load_volume_frames
from monai_pns.inference.writers import overlay_frame, volume_affine
from tests.inference.media import count_frames, synthetic_frame

SIZE = (24, 40)


def _predictions(n: int) -> list[FramePrediction]:
    out = []
    for i in range(n):
        prob = np.zeros(SIZE, np.float32)
        prob[2 + i, 3:9] = 0.75  # a row that moves with the frame index
        prob[0, 0], prob[0, 1], prob[0, 2] = 0.5, np.nextafter(np.float32(0.5), np.float32(1)), 1 / 255 * 127.5
        out.append(FramePrediction(i, f"{i:05d}", synthetic_frame(i, SIZE), prob))
    return out


def test_outputs_of_one_video(tmp_path):
    predictions = _predictions(4)
    with PredictionWriter(tmp_path, fps=5, nifti=True, probabilities=True) as writer:
        writer.write_all(predictions)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "frames.nii.gz", "masks", "masks.nii.gz", "overlay.mp4", "probabilities"
    ]
    for p in predictions:
        mask = cv2.imread(str(tmp_path / "masks" / f"{p.name}.png"), cv2.IMREAD_UNCHANGED)
        expected = np.where(p.probability > 0.5, 255, 0)
        np.testing.assert_array_equal(mask, expected)
        assert mask[0, 0] == 0 and mask[0, 1] == 255  # exactly 0.5 is background, the next float up foreground
        prob = cv2.imread(str(tmp_path / "probabilities" / f"{p.name}.png"), cv2.IMREAD_UNCHANGED)
        assert prob[2 + p.index, 3] == 191 and prob[0, 2] == 128  # round(255 * 0.75) = 191; 127.5 rounds to even
    assert count_frames(tmp_path / "overlay.mp4") == 4
    masks, frames = nib.load(tmp_path / "masks.nii.gz"), nib.load(tmp_path / "frames.nii.gz")
    assert masks.shape == frames.shape == (*SIZE, 4)
    np.testing.assert_array_equal(masks.affine, volume_affine())
    np.testing.assert_array_equal(frames.affine, masks.affine)
    assert nib.aff2axcodes(masks.affine) == ("P", "L", "S")
    data = np.asanyarray(masks.dataobj)
    for p in predictions:
        np.testing.assert_array_equal(data[:, :, p.index], p.probability > 0.5)  # [row, column, frame]
    rgb = np.asanyarray(frames.dataobj)
    for p in predictions:
        np.testing.assert_array_equal(np.stack([rgb[..., p.index][c] for c in "RGB"], axis=-1), p.frame)


def test_frames_volume_reads_back_as_the_frames(tmp_path):
    pytest.importorskip("itk", reason="RGB NIfTI volumes are read by MONAI's ITKReader")
    predictions = _predictions(3)
    with PredictionWriter(tmp_path, nifti=True, overlay=False) as writer:
        writer.write_all(predictions)
    frames = load_volume_frames(tmp_path / "frames.nii.gz")
    np.testing.assert_array_equal(frames, np.stack([p.frame for p in predictions]))


def test_failure_leaves_earlier_outputs(tmp_path):
    with PredictionWriter(tmp_path) as writer:
        writer.write_all(_predictions(2))
    before = {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    with pytest.raises(RuntimeError, match="decoder died"):
        with PredictionWriter(tmp_path, nifti=True) as writer:
            writer.write(_predictions(3)[2])
            raise RuntimeError("decoder died")
    after = {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    assert after == before  # no temporary left, nothing replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["masks", "overlay.mp4"]


def test_new_outputs_replace_old_ones_whole(tmp_path):
    with PredictionWriter(tmp_path, overlay=False) as writer:
        writer.write_all(_predictions(3))
    with PredictionWriter(tmp_path, overlay=False) as writer:
        writer.write_all(_predictions(2))
    assert sorted(p.name for p in (tmp_path / "masks").iterdir()) == ["00000.png", "00001.png"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_files_honour_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with PredictionWriter(tmp_path / "out", nifti=True) as writer:
            writer.write_all(_predictions(1))
    finally:
        os.umask(old)
    assert (tmp_path / "out" / "masks").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "out" / "masks.nii.gz").stat().st_mode & 0o777 == 0o644


def test_frame_of_another_size_and_empty_video(tmp_path):
    first = _predictions(1)[0]
    other = FramePrediction(1, "00001", np.zeros((20, 40, 3), np.uint8), np.zeros((20, 40), np.float32))
    with pytest.raises(ValueError, match="frame 1 is 40x20, the video 40x24"):
        with PredictionWriter(tmp_path) as writer:
            writer.write(first)
            writer.write(other)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="no frame was written"):
        with PredictionWriter(tmp_path):
            pass
    assert list(tmp_path.iterdir()) == []


def test_overlay_frame():
    frame = np.full((30, 40, 3), 100, np.uint8)
    mask = np.zeros((30, 40), bool)
    mask[10:20, 10:30] = True
    bgr = overlay_frame(frame, mask, index=7, alpha=0.5)
    assert bgr.shape == (30, 40, 3) and bgr.dtype == np.uint8
    np.testing.assert_array_equal(bgr[15, 20], [50, 178, 50])  # inside: half green (BGR), 0.5 * 100 + 0.5 * 255
    # the tints 177.5 and 178.5 round half to even alike: 178
    np.testing.assert_array_equal(overlay_frame(frame + 2, mask, index=7, alpha=0.5)[15, 20], [51, 178, 51])
    np.testing.assert_array_equal(bgr[10, 20], [0, 255, 0])  # the contour
    np.testing.assert_array_equal(bgr[25, 35], [100, 100, 100])  # outside, away from the text
    assert (bgr[:12, :12] == 255).any()  # the frame number, white


def test_ill_threshold(tmp_path):
    with pytest.raises(ValueError, match="threshold=1.0"):
        PredictionWriter(tmp_path, threshold=1.0)


def test_threshold_0_masks_every_probability_above_0(tmp_path):
    prediction = _predictions(1)[0]
    with PredictionWriter(tmp_path, threshold=0.0, overlay=False) as writer:
        writer.write(prediction)
    mask = cv2.imread(str(tmp_path / "masks" / "00000.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(mask, np.where(prediction.probability > 0, 255, 0))
    assert mask[0, 0] == 255 and mask[1, 0] == 0  # 0.5 is polyp now, 0 stays background
