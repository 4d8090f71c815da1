from __future__ import annotations

import json

import cv2
import nibabel as nib
import numpy as np
import pytest

from monai_pns.inference import open_sources
from monai_pns.inference.writers import volume_affine
from tests.inference.media import cut_in_half, index_to_front, read_all_frames, synthetic_frame, write_video


def _frames(source):
    return [(name, frame) for name, frame in source]


def test_video_file(tmp_path):
    [source] = open_sources(write_video(tmp_path / "v.mp4", 7, fps=12))
    assert (source.kind, source.case, source.fps, source.num_frames) == ("video", "", 12.0, 7)  # from its header
    assert source.decoded_frames is None
    frames = _frames(source)
    assert source.decoded_frames == 7 and not source.short
    assert [name for name, _ in frames] == [f"{i:05d}" for i in range(7)]
    for i, (_, frame) in enumerate(frames):
        assert frame.shape == (40, 72, 3) and frame.dtype == np.uint8
        assert np.abs(frame.astype(int) - synthetic_frame(i)).mean() < 4  # mp4 is lossy; the disc moves 3 px a frame


@pytest.mark.parametrize(
    "name, fourcc, last_damaged",
    [("index_first.mp4", "mp4v", True), ("mjpg.avi", "MJPG", False)],  # what a cut at half the bytes gives
)
def test_short_videos_drop_their_last_decoded_frame(tmp_path, name, fourcc, last_damaged):
    path = write_video(tmp_path / name, 24, size=(96, 160), fourcc=fourcc)
    whole = read_all_frames(path)
    if fourcc == "mp4v":
        index_to_front(path)  # so that the cut file still opens: its header states 24 frames
    cut_in_half(path)
    decoded = read_all_frames(path)
    assert 2 < len(decoded) < 24
    # OpenCV's last frame of the cut mp4 decodes with errors (FFmpeg reports them on stderr only)
    assert np.array_equal(decoded[-1], whole[len(decoded) - 1]) != last_damaged
    [source] = open_sources(path)
    assert source.num_frames == 24 and not source.short
    frames = _frames(source)
    assert (source.decoded_frames, source.short) == (len(decoded), True)
    assert [n for n, _ in frames] == [f"{i:05d}" for i in range(len(decoded) - 1)]  # the last decoded one dropped
    for (_, frame), expected in zip(frames, whole):
        np.testing.assert_array_equal(frame, cv2.cvtColor(expected, cv2.COLOR_BGR2RGB))  # those before the cut


def test_folder_in_natural_order_and_size_change(tmp_path):
    for i in (10, 2, 1):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((8, 12, 3), i, np.uint8))
    (tmp_path / "notes.txt").write_text("not a frame")
    [source] = open_sources(tmp_path)
    assert source.num_frames == 3
    assert [(name, int(frame[0, 0, 0])) for name, frame in source] == [("1", 1), ("2", 2), ("10", 10)]
    cv2.imwrite(str(tmp_path / "3.png"), np.zeros((8, 10, 3), np.uint8))
    with pytest.raises(ValueError, match=r"frame 2 \('3'\) of '.*' is 10x8, the first frame 12x8"):
        _frames(open_sources(tmp_path)[0])


def test_datalist_cases(tmp_path):
    video = write_video(tmp_path / "v.mp4", 4)
    image = tmp_path / "f.png"
    cv2.imwrite(str(image), np.zeros((40, 72, 3), np.uint8))
    cases = [{"case": "set/a", "image": [f"{video}#2", f"{video}#3"]}, {"case": "set/b", "image": [str(image)]}]
    datalist = {"test": cases,
                "training": []}
    path = tmp_path / "datalist.json"
    path.write_text(json.dumps(datalist))
    sources = open_sources(path)
    assert [(s.case, s.num_frames) for s in sources] == [("set/a", 2), ("set/b", 1)]
    assert [name for name, _ in sources[0]] == ["v_00002", "v_00003"]
    with pytest.raises(ValueError, match=r"has no list 'validation' \(it has \['test', 'training'\]\)"):
        open_sources(path, datalist_key="validation")
    path.write_text(json.dumps({"test": [{"case": "c", "image": "one.png"}]}))
    with pytest.raises(ValueError, match=r"test\[0\]: 'image' must be a non-empty list"):
        open_sources(path)
    absent = {"case": "set/c", "image": [str(image), f"{tmp_path}/gone.mp4#0"]}
    path.write_text(json.dumps({"test": [cases[1], absent]}))
    with pytest.raises(FileNotFoundError, match=r"datalist '.*', test\[1\] \(case 'set/c'\): frame file not found: "
                       r"'.*gone\.mp4#0'\."):
        open_sources(path)  # checked before any frame is read


def test_volume_in_the_written_orientation(tmp_path):
    frames = np.stack([synthetic_frame(i)[..., 0] for i in range(3)], axis=-1)  # (H, W, T) grey
    nib.save(nib.Nifti1Image(frames, volume_affine()), tmp_path / "v.nii.gz")
    [source] = open_sources(tmp_path / "v.nii.gz")
    read = _frames(source)
    assert [name for name, _ in read] == ["00000", "00001", "00002"]
    for t, (_, frame) in enumerate(read):
        np.testing.assert_array_equal(frame, np.repeat(frames[..., t : t + 1], 3, axis=-1))


def test_volume_reoriented_and_rescaled(tmp_path):
    data = np.arange(4 * 5 * 2, dtype=np.float32).reshape(4, 5, 2) * 10.0  # (x, y, t) in RAS, values 0-390
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "ras.nii")
    read = _frames(open_sources(tmp_path / "ras.nii")[0])
    for t, (_, frame) in enumerate(read):
        # rows run posterior (y reversed), columns to the left (x reversed); 0-390 rescaled to 0-255
        expected = np.rint(data[::-1, ::-1, t].T * 255.0 / 390.0).astype(np.uint8)
        np.testing.assert_array_equal(frame[..., 1], expected)


def test_a_rescaled_volume_rounds_halves_to_even(tmp_path):
    data = np.zeros((1, 5, 2), np.float32)
    data[0, :, 0] = [-1, 0, 126, 256, 509]  # -1..509 rescaled to 0..255: (v + 1) / 2 = 0, 0.5, 63.5, 128.5, 255
    nib.save(nib.Nifti1Image(data, volume_affine()), tmp_path / "v.nii.gz")
    [(_, frame), _] = _frames(open_sources(tmp_path / "v.nii.gz")[0])
    assert frame[0, :, 0].tolist() == [0, 0, 64, 128, 255]


@pytest.mark.parametrize("low, high", [(0, 200), (0, 255), (1, 254), (1, 255)])
def test_an_8bit_volume_keeps_its_values(tmp_path, low, high):
    data = np.linspace(low, high, 4 * 5 * 2).round().astype(np.uint8).reshape(4, 5, 2)
    assert (data.min(), data.max()) == (low, high)
    nib.save(nib.Nifti1Image(data, volume_affine()), tmp_path / "v.nii.gz")
    for t, (_, frame) in enumerate(_frames(open_sources(tmp_path / "v.nii.gz")[0])):
        np.testing.assert_array_equal(frame[..., 0], data[..., t])  # not stretched to 0-255


def test_a_header_without_a_frame_count(tmp_path, monkeypatch):
    """A container whose header states 0 frames (a stream) has an unknown count: never reported short. A frame
    rate of 0 is unknown too: 25 frames per second."""
    path = write_video(tmp_path / "v.avi", 5, fourcc="MJPG")

    real = cv2.VideoCapture

    class NoCount:  # a wrapper, not a subclass: subclassing OpenCV's capture crashes later captures
        def __init__(self, *args):
            self.capture = real(*args)

        def get(self, prop):
            return 0.0 if prop in (cv2.CAP_PROP_FRAME_COUNT, cv2.CAP_PROP_FPS) else self.capture.get(prop)

        def __getattr__(self, name):
            return getattr(self.capture, name)

    monkeypatch.setattr(cv2, "VideoCapture", NoCount)
    [source] = open_sources(path)
    assert source.num_frames is None and source.fps == 25.0
    assert len(_frames(source)) == 5 and source.decoded_frames == 5 and not source.short


@pytest.mark.parametrize(
    "name, content, error, match",
    [
        ("empty.mp4", b"", ValueError, r"cannot (open video file|read any frame from) '.*empty\.mp4'"),
        ("noise.mp4", bytes(range(256)) * 8, ValueError, r"'.*noise\.mp4'"),
        ("bad.nii.gz", b"not a volume", ValueError, r"cannot read volume '.*bad\.nii\.gz'"),
        ("clip.xyz", b"", ValueError, r"input '.*clip\.xyz': expected a video"),
    ],
)
def test_unreadable_inputs(tmp_path, name, content, error, match):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(error, match=match):
        for source in open_sources(tmp_path / name):
            _frames(source)


def test_zero_frame_video_and_4d_volume_and_missing_input(tmp_path):
    writer = cv2.VideoWriter(str(tmp_path / "none.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (72, 40))
    writer.release()
    with pytest.raises(ValueError, match=r"none\.avi"):
        _frames(open_sources(tmp_path / "none.avi")[0])
    for shape in ((4, 5, 2, 2), (2, 3, 64, 64), (64, 64)):  # the message gives the file's own shape
        nib.save(nib.Nifti1Image(np.zeros(shape, np.uint8), np.eye(4)), tmp_path / "bad.nii.gz")
        with pytest.raises(ValueError, match=rf"volume '.*bad\.nii\.gz' must be 2-D\+time, grey or RGB: shape \(H, "
                           rf"W, T\) or \(H, W, T, 1 or 3\), got \({', '.join(map(str, shape))}\)\.$"):
            open_sources(tmp_path / "bad.nii.gz")  # read and checked before any frame is segmented
    with pytest.raises(FileNotFoundError, match="absent.mp4"):
        open_sources(tmp_path / "absent.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no image files .* in folder '.*empty'"):
        open_sources(tmp_path / "empty")
