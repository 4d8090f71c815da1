from __future__ import annotations

import numpy as np
import pytest
import torch

from monai_pns.inference import StreamingPredictor, frame_preprocessing, optimize_network
from monai_pns.networks import PNSPlusNet
from tests.inference.media import small_network, synthetic_frame

SIZE = (32, 64)


def _offline_last(net, frames, anchor=None) -> np.ndarray:
    """The offline network on a causal window; probability of its last frame at the frames' size."""
    preprocess = frame_preprocessing(SIZE)
    window = ([] if anchor is None else [anchor]) + list(frames)
    clip = torch.stack([preprocess(f) for f in window], dim=1)[None].to(next(net.parameters()).dtype)
    with torch.no_grad():
        prob = torch.sigmoid(net(clip)[:, :, -1].float())
    return torch.nn.functional.interpolate(prob, size=frames[0].shape[:2], mode="bilinear")[0, 0].numpy()


def test_streaming_equals_offline_on_causal_windows():
    net = small_network()
    frames = [synthetic_frame(i) for i in range(5)]
    stream = StreamingPredictor(net, spatial_size=SIZE, clip_length=3)
    for n, frame in enumerate(frames):
        window = frames[max(0, n - 2) : n + 1]  # the last T = 3 frames, fewer at the start
        np.testing.assert_allclose(stream(frame), _offline_last(net, window), rtol=0, atol=1e-5)
    stream.reset()
    np.testing.assert_allclose(stream(frames[3]), _offline_last(net, [frames[3]]), rtol=0, atol=1e-5)


def test_streaming_pns_plus_uses_the_first_frame_as_anchor():
    torch.manual_seed(0)
    net = PNSPlusNet().eval()
    for name, param in net.named_parameters():
        if name.endswith("out_proj.weight"):
            param.data.mul_(0.01)
    frames = [synthetic_frame(i) for i in range(4)]
    stream = StreamingPredictor(net, spatial_size=SIZE, clip_length=2)
    for n, frame in enumerate(frames):
        expected = _offline_last(net, frames[max(0, n - 1) : n + 1], anchor=frames[0])
        np.testing.assert_allclose(stream(frame), expected, rtol=0, atol=1e-5)


def test_streaming_on_the_fast_path_float32():
    pytest.importorskip("onnxruntime", reason="onnxruntime is a test dependency (setup.cfg [test])")
    net = small_network()
    fast = optimize_network(net, encoder="onnxruntime")  # the CPU default; one frame at a time through the encoder
    frames = [synthetic_frame(i) for i in range(6)]
    stream = StreamingPredictor(fast, spatial_size=SIZE, clip_length=5)
    for n, frame in enumerate(frames):
        expected = _offline_last(net, frames[max(0, n - 4) : n + 1])
        np.testing.assert_allclose(stream(frame), expected, rtol=0, atol=1e-4)


def test_ill_arguments():
    with pytest.raises(ValueError, match="PNSNet or PNSPlusNet, got Linear"):
        StreamingPredictor(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="clip_length=0"):
        StreamingPredictor(small_network(num_blocks=0), clip_length=0)


def test_reset_starts_a_new_video_with_its_own_anchor():
    """One predictor for two videos: after reset, PNS+ takes the new video's first frame as the anchor and the
    window holds the new video's frames only."""
    torch.manual_seed(0)
    net = PNSPlusNet().eval()
    for name, param in net.named_parameters():
        if name.endswith("out_proj.weight"):
            param.data.mul_(0.01)
    first, second = [synthetic_frame(i) for i in range(3)], [synthetic_frame(9 - i) for i in range(2)]
    stream = StreamingPredictor(net, spatial_size=SIZE, clip_length=2)
    for frame in first:
        stream(frame)
    stream.reset()
    for n, frame in enumerate(second):
        expected = _offline_last(net, second[: n + 1], anchor=second[0])
        np.testing.assert_allclose(stream(frame), expected, rtol=0, atol=1e-5)
    # the old anchor (frame 0 of the first video) would give another result
    assert np.abs(_offline_last(net, second, anchor=first[0]) - _offline_last(net, second, anchor=second[0])).max() > 1e-4


def test_streaming_runs_in_the_network_dtype():
    """Frames are cast to the network's parameter dtype (bf16 on the fast path; here float64) before the encoder."""
    net = small_network(num_blocks=1).double()
    frames = [synthetic_frame(i) for i in range(3)]
    stream = StreamingPredictor(net, spatial_size=SIZE, clip_length=2)
    assert stream.dtype == torch.float64
    for n, frame in enumerate(frames):
        prob = stream(frame)
        assert prob.dtype == np.float32 and prob.shape == frame.shape[:2]
        np.testing.assert_allclose(prob, _offline_last(net, frames[max(0, n - 1) : n + 1]), rtol=0, atol=1e-6)
