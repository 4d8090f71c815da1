from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from monai_pns.inference import VideoPredictor, calibration_frames, frame_preprocessing
from monai_pns.transforms import sequential_windows
from tests.bundle_chains import bundle_chain
from tests.inference.media import small_network, synthetic_frame


class RecordingModel:
    """A fake clip model: records which frames (their grey value) each clip holds; logit of output frame t = t."""

    def __init__(self) -> None:
        self.clips: list[list[int]] = []

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        self.clips.append([int(v) for v in torch.round(clip[0, 0, :, 0, 0] * 255)])
        t = clip.shape[2]
        return torch.arange(t, dtype=torch.float32).view(1, 1, t, 1, 1).expand(1, 1, t, *clip.shape[3:])


def _frames(n: int, size=(16, 16)) -> list[tuple[str, np.ndarray]]:
    return [(f"f{i}", np.full((*size, 3), i, np.uint8)) for i in range(n)]


@pytest.mark.parametrize("clip_length", [1, 3, 5])
@pytest.mark.parametrize("num_frames", [1, 2, 4, 5, 6, 9, 10, 12])
def test_clips_are_those_of_sequential_windows(num_frames, clip_length):
    model = RecordingModel()
    predictor = VideoPredictor(model, spatial_size=(16, 16), clip_length=clip_length, normalize=False)
    out = list(predictor(_frames(num_frames)))
    windows = sequential_windows(num_frames, clip_length)
    assert model.clips == [indices for indices, _ in windows]
    # every frame once, in order, first and last included, predicted at the position sequential_windows writes
    assert [p.index for p in out] == list(range(num_frames))
    assert [p.name for p in out] == [f"f{i}" for i in range(num_frames)]
    written = {i: t for indices, writes in windows for t, (i, w) in enumerate(zip(indices, writes)) if w}
    for p in out:
        assert p.probability.shape == (16, 16)
        np.testing.assert_allclose(p.probability, 1 / (1 + np.exp(-written[p.index])), rtol=1e-6)


def test_anchor_is_the_first_frame_of_every_clip():
    model = RecordingModel()
    predictor = VideoPredictor(model, spatial_size=(16, 16), clip_length=3, anchor=True, normalize=False)

    def local_only(clip):  # PNS+ returns the local frames only
        return model(clip)[:, :, 1:]

    predictor.network = local_only
    out = list(predictor(_frames(7)))
    assert model.clips == [[0, 0, 1, 2], [0, 3, 4, 5], [0, 4, 5, 6]]
    assert [p.index for p in out] == list(range(7))
    # frame 6 is local frame 2 of the last clip, input position 3 (after the anchor), hence logit 3
    np.testing.assert_allclose(out[6].probability, 1 / (1 + np.exp(-3.0)), rtol=1e-6)


def test_preprocessing_equals_the_bundle_evaluation_chain(tmp_path):
    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f"{i}.png"))
        cv2.imwrite(paths[-1], cv2.cvtColor(synthetic_frame(i, (50, 70)), cv2.COLOR_RGB2BGR))
    chain = bundle_chain("validate", keys=["image"], spatial_size=[32, 48])
    expected = chain({"image": paths})["image"]  # (3, T, H, W)
    preprocess = frame_preprocessing((32, 48))
    ours = torch.stack([preprocess(synthetic_frame(i, (50, 70))) for i in range(3)], dim=1)
    torch.testing.assert_close(ours, expected.as_tensor(), rtol=0, atol=1e-5)


def test_network_output_mapped_to_the_frame_size():
    net = small_network()
    frames = [(str(i), synthetic_frame(i, (40, 72))) for i in range(6)]
    out = list(VideoPredictor(net, spatial_size=(32, 64), clip_length=5)(frames))
    preprocess = frame_preprocessing((32, 64))
    with torch.no_grad():
        first = torch.sigmoid(net(torch.stack([preprocess(f) for _, f in frames[:5]], dim=1)[None]))
        last = torch.sigmoid(net(torch.stack([preprocess(f) for _, f in frames[1:]], dim=1)[None]))
    expected = [first[0, :, t] for t in range(5)] + [last[0, :, 4]]
    for p, e in zip(out, expected):
        resized = torch.nn.functional.interpolate(e[None], size=(40, 72), mode="bilinear")[0, 0]
        np.testing.assert_allclose(p.probability, resized.numpy(), atol=1e-5)
        assert p.frame.shape == (40, 72, 3)


def test_frames_of_several_sizes_in_one_clip_each_get_their_own_size():
    """A frame folder may mix sizes: each probability map comes back at its own frame's size (the logit of output
    frame t is t everywhere, so each map is one constant)."""
    sizes = [(16, 16), (24, 40), (16, 16), (8, 12)]
    frames = [(f"f{i}", np.full((*size, 3), i, np.uint8)) for i, size in enumerate(sizes)]
    out = list(VideoPredictor(RecordingModel(), spatial_size=(16, 16), clip_length=4, normalize=False)(frames))
    for t, (p, size) in enumerate(zip(out, sizes)):
        assert p.probability.shape == size and p.frame.shape[:2] == size
        np.testing.assert_allclose(p.probability, 1 / (1 + np.exp(-t)), rtol=1e-6)


def test_ill_clip_length():
    with pytest.raises(ValueError, match="clip_length=0"):
        VideoPredictor(RecordingModel(), clip_length=0)


def test_calibration_frames_take_every_stride_th_frame_of_each_source_up_to_count():
    sources = [[(str(i), np.full((4, 6, 3), 10 * i + s, np.uint8)) for i in range(n)] for s, n in ((0, 11), (1, 6))]
    codes = lambda frames: [int(f[0, 0, 0]) for f in frames]  # noqa: E731
    as_is = lambda frame: torch.from_numpy(frame).permute(2, 0, 1)  # noqa: E731
    # 11 frames: 0, 5, 10 (the last exactly at a stride); then 0 and 5 of the 6-frame source
    assert codes(calibration_frames(sources, as_is)) == [0, 50, 100, 1, 51]
    assert codes(calibration_frames(sources, as_is, count=3)) == [0, 50, 100]
    assert codes(calibration_frames(sources, as_is, count=4, stride=6)) == [0, 60, 1]  # frame 6 of 6: none
    assert calibration_frames(sources, as_is).shape == (5, 3, 4, 6)
    with pytest.raises(ValueError, match="no frame to calibrate the int8 encoder on"):
        calibration_frames([[]], as_is)


class InputModel:
    """A fake clip model that keeps its last input clip; logits 0."""

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        self.clip = clip.clone()
        return torch.zeros(1, 1, *clip.shape[2:])


def test_mean_and_std_reach_the_network_input():
    """Explicit mean and std (and the PNS defaults otherwise) normalise each channel: (value / 255 - mean) / std."""
    frame = np.empty((8, 8, 3), np.uint8)
    frame[...] = (255, 51, 102)  # 1.0, 0.2, 0.4
    model = InputModel()
    predictor = VideoPredictor(model, spatial_size=(4, 4), clip_length=1, mean=(0.5, 0.25, 0.0), std=(0.5, 0.25, 2.0))
    list(predictor([("f", frame)]))
    assert model.clip.shape == (1, 3, 1, 4, 4)
    expected = torch.tensor([1.0, -0.2, 0.2]).view(1, 3, 1, 1, 1).expand(1, 3, 1, 4, 4)
    torch.testing.assert_close(model.clip, expected, rtol=0, atol=1e-6)
    list(VideoPredictor(model, spatial_size=(4, 4), clip_length=1)([("f", frame)]))  # normalize=True by default
    defaults = [(v - m) / s for v, m, s in zip((1.0, 0.2, 0.4), (0.4733, 0.4487, 0.3949), (0.2267, 0.2201, 0.2238))]
    torch.testing.assert_close(model.clip[0, :, 0, 0, 0], torch.tensor(defaults), rtol=0, atol=1e-5)


@pytest.mark.parametrize("num_frames", [1, 2, 3, 4, 7])
def test_anchor_clips_of_short_and_long_videos(num_frames):
    """With an anchor every clip is frame 0 then the window of sequential_windows, a video shorter than T too."""
    model = RecordingModel()
    predictor = VideoPredictor(lambda clip: model(clip)[:, :, 1:], spatial_size=(16, 16), clip_length=3,
                               anchor=True, normalize=False)
    out = list(predictor(_frames(num_frames)))
    windows = sequential_windows(num_frames, 3)
    assert model.clips == [[0] + indices for indices, _ in windows]
    assert [p.index for p in out] == list(range(num_frames))
    # local position t of the frame sequential_windows writes is input position t + 1 (after the anchor): logit t + 1
    written = {i: t for indices, writes in windows for t, (i, w) in enumerate(zip(indices, writes)) if w}
    for p in out:
        np.testing.assert_allclose(p.probability, 1 / (1 + np.exp(-(written[p.index] + 1.0))), rtol=1e-6)
