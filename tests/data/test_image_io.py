from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from monai_pns.data.image_io import (
    check_image_complete,
    count_video_frames,
    frame_stem,
    parse_frame_ref,
    probability_to_uint8,
    read_frames,
    read_image,
    read_video_frames,
    to_grey_uint8,
    to_rgb_uint8,
    video_frame_ref,
)
from tests.data.trees import write_video


def _bgr(h=4, w=5):
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 10, 20, 30  # B, G, R
    return img


def test_colour_and_conversions(tmp_path):
    cv2.imwrite(str(tmp_path / "rgb.png"), _bgr())
    np.testing.assert_array_equal(read_image(tmp_path / "rgb.png")[0, 0], [30, 20, 10])  # returned as RGB
    cv2.imwrite(str(tmp_path / "grey.png"), np.full((4, 5), 77, np.uint8))
    grey = read_image(tmp_path / "grey.png")
    assert grey.shape == (4, 5, 3) and (grey == 77).all()
    rgba = np.concatenate([_bgr(), np.full((4, 5, 1), 128, np.uint8)], axis=2)
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.png")[0, 0], [30, 20, 10])
    cv2.imwrite(str(tmp_path / "deep.png"), np.full((4, 5), 65535, np.uint16))
    deep = read_image(tmp_path / "deep.png")
    assert deep.dtype == np.uint8 and (deep == 255).all()
    # the high byte of each 16-bit value, whatever its low byte: 0x80FF -> 128, 0x00FF -> 0, 0x0100 -> 1
    cv2.imwrite(str(tmp_path / "bytes.png"), np.array([[0x80FF, 0x00FF, 0x0100]], np.uint16))
    np.testing.assert_array_equal(read_image(tmp_path / "bytes.png", mask=True), [[128, 0, 1]])
    assert read_image(tmp_path / "deep.png", mask=True).shape == (4, 5)
    np.testing.assert_array_equal(read_image(tmp_path / "rgb.png", mask=True), 30)  # colour mask: brightest channel


def test_bad_files(tmp_path):
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(ValueError, match="corrupt.jpg"):
        read_image(tmp_path / "corrupt.jpg")
    with pytest.raises(FileNotFoundError, match="missing.png"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "corrupt.avi").write_bytes(b"RIFF nonsense")
    with pytest.raises(ValueError, match="corrupt.avi"):
        count_video_frames(tmp_path / "corrupt.avi")


def test_frame_refs():
    assert video_frame_ref("/a/v.mp4", 3) == "/a/v.mp4#3"
    assert video_frame_ref("/a/v.mp4", 0) == "/a/v.mp4#0"  # the first frame
    assert parse_frame_ref("/a/v.mp4#3") == ("/a/v.mp4", 3)
    assert parse_frame_ref("/a/b#3.png") == ("/a/b#3.png", None)
    assert parse_frame_ref("/a/img.png") == ("/a/img.png", None)
    with pytest.raises(ValueError, match="index=-1"):
        video_frame_ref("/a/v.mp4", -1)


def test_video_frames(tmp_path):
    video = write_video(tmp_path / "v.avi", [0, 40, 80, 120, 160])
    assert count_video_frames(video) == 5
    frames = read_video_frames(video, [3, 1, 3])
    assert [int(f[0, 0, 0]) for f in frames] == [120, 40, 120] and frames[0].shape == (48, 64, 3)
    with pytest.raises(ValueError, match="cannot read frame 7 of video file .*v.avi"):
        read_video_frames(video, [7])
    cv2.imwrite(str(tmp_path / "img.png"), np.full((48, 64, 3), 9, np.uint8))
    mixed = read_frames([str(tmp_path / "img.png"), f"{video}#2", f"{video}#0"])
    assert [int(f[0, 0, 0]) for f in mixed] == [9, 80, 0]


def _textured(h=96, w=128):
    rng = np.random.default_rng(0)
    return cv2.GaussianBlur((rng.random((h, w, 3)) * 255).astype(np.uint8), (7, 7), 3)


@pytest.mark.parametrize("ext", [".jpg", ".png", ".bmp", ".tif"])
@pytest.mark.parametrize("mask", [False, True])
def test_truncated_files_are_errors_naming_the_file(tmp_path, ext, mask):
    ok, encoded = cv2.imencode(ext, _textured())
    data = encoded.tobytes()
    whole = tmp_path / f"whole{ext}"
    whole.write_bytes(data)
    np.testing.assert_array_equal(read_image(whole), cv2.cvtColor(cv2.imdecode(encoded, 1), cv2.COLOR_BGR2RGB))
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(data[: int(len(data) * 0.7)])  # an interrupted copy: 70 % of the bytes
    if ext == ".jpg":
        assert cv2.imread(str(cut)) is not None  # what the check is for: OpenCV alone fills the rest with grey
    # JPEG and PNG: checked for their end; BMP and TIFF: their decoders reject the cut file
    message = rf"image file '.*cut\{ext}' is truncated" if ext in (".jpg", ".png") else rf"cut\{ext}': corrupt"
    with pytest.raises(ValueError, match=message):
        read_image(cut, mask=mask)
    with pytest.raises(ValueError, match=rf"cut\{ext}"):
        read_frames([str(whole), str(cut)], mask=mask)


def test_truncation_check_finds_the_end_marker():
    ok, jpeg = cv2.imencode(".jpg", _textured())
    jpeg = jpeg.tobytes()
    assert jpeg[-2:] == b"\xff\xd9"
    check_image_complete(jpeg)
    check_image_complete(jpeg + b"\x00" * 1022)  # padding after the marker is tolerated: marker within the last KiB
    with pytest.raises(ValueError, match=r"'<bytes>' is truncated: no JPEG end-of-image marker \(FF D9\)"):
        check_image_complete(jpeg + b"\x00" * 1023)
    with pytest.raises(ValueError, match="no JPEG end-of-image marker"):
        check_image_complete(jpeg[:-1])  # one byte short
    ok, png = cv2.imencode(".png", _textured())
    png = png.tobytes()
    check_image_complete(png, "m.png")
    with pytest.raises(ValueError, match=r"'m.png' is truncated: no PNG IEND chunk .*\(\d+ bytes\)"):
        check_image_complete(png[:-1], "m.png")
    check_image_complete(b"BM not checked here")  # other formats: the decoder decides


def test_read_frames_of_images_and_videos_as_masks(tmp_path):
    grey = np.zeros((4, 5), np.uint8)
    grey[1:3] = 255
    cv2.imwrite(str(tmp_path / "m.png"), grey)
    cv2.imwrite(str(tmp_path / "c.png"), cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))  # a mask saved in colour
    masks = read_frames([str(tmp_path / "m.png"), str(tmp_path / "c.png")], mask=True)
    assert [m.shape for m in masks] == [(4, 5), (4, 5)]
    np.testing.assert_array_equal(masks[0], grey)
    np.testing.assert_array_equal(masks[1], grey)
    assert read_frames([str(tmp_path / "m.png")])[0].shape == (4, 5, 3)  # as a frame: RGB


def test_probability_codes_round_halves_up_and_clip():
    assert probability_to_uint8(np.array([-0.1, 0.0, 0.5, 1.0, 1.2])).tolist() == [0, 0, 128, 255, 255]
    # halves round up on even and odd codes alike ((k + 0.5) / 255 gives exactly k + 0.5 back in float64)
    halves = np.array([0.5, 1.5, 2.5, 3.5, 126.5, 127.5, 254.5]) / 255.0
    assert (255.0 * halves).tolist() == [0.5, 1.5, 2.5, 3.5, 126.5, 127.5, 254.5]
    assert probability_to_uint8(halves).tolist() == [1, 2, 3, 4, 127, 128, 255]
    assert probability_to_uint8(torch.tensor(halves, dtype=torch.float32)).dtype == np.uint8


def test_float_images_round_to_the_nearest_code():
    values = np.array([[126.5, 127.5, -3.0, 300.0]]) / 255.0  # float64: 255 * value gives the halves back exactly
    assert to_grey_uint8(values).tolist() == [[126, 128, 0, 255]]  # halves to even, then clipped to 0..255
    assert to_rgb_uint8(values)[0, :2].tolist() == [[126] * 3, [128] * 3]


def test_frame_stem():
    assert frame_stem("/data/Frame/1/12.jpg") == "12"
    assert frame_stem("/data/case1_1/case1_1_a2_image0003.jpg") == "case1_1_a2_image0003"
    assert frame_stem("/data/clip.mp4#7") == "7"
    assert frame_stem("/a/b#3.png") == "b#3"
