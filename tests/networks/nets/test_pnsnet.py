from __future__ import annotations

import pytest
import torch

from monai_pns.networks import PNSBase, PNSNet, PNSPlusNet

H, W = 32, 64  # small inputs: the stride-16 feature is 2 x 4


def _frames(x: torch.Tensor) -> torch.Tensor:
    """(C, T, H, W) -> (T, C, H, W)."""
    return x.permute(1, 0, 2, 3)


@pytest.mark.parametrize(
    "net, shape, expected",
    [
        (PNSNet(), (2, 3, 3, H, W), (2, 1, 3, H, W)),
        (PNSNet(), (2, 3, H, W), (2, 1, H, W)),
        (PNSNet(out_channels=2, num_blocks=1), (1, 3, 2, H, W), (1, 2, 2, H, W)),
        (PNSNet(in_channels=1, num_blocks=0), (1, 1, 2, H, W), (1, 1, 2, H, W)),
        (PNSPlusNet(), (2, 3, 1 + 3, H, W), (2, 1, 3, H, W)),
        (PNSPlusNet(out_channels=3), (1, 3, 1 + 1, H, W), (1, 3, 1, H, W)),
    ],
)
def test_shape(net, shape, expected):
    with torch.no_grad():
        out = net.eval()(torch.randn(shape))
    assert out.shape == expected
    assert torch.isfinite(out).all()


def test_video_path_matches_a_clip_by_clip_reference():
    """h1 = NS_1(h) + h, h2 = NS_2(h1) + h1, decoder(h + h2); the NS blocks run clip by clip with the modules.

    The backbone and the decoder see the same batch of frames as in the network (convolutions round differently for
    other batch sizes, and the raw-score NS aggregation of a random network magnifies that to ~1e-4 relative).
    """
    torch.manual_seed(0)
    net = PNSNet().eval()
    x = torch.randn(2, 3, 3, H, W)
    with torch.no_grad():
        low, high = net.encode(torch.cat([_frames(clip) for clip in x]))  # frames clip-major
        refined = []
        for b in range(2):
            h = _frames(high[3 * b : 3 * b + 3]).unsqueeze(0)  # (1, C, T, h, w)
            h1 = net.ns_blocks[0](h)
            h2 = net.ns_blocks[1](h1)
            refined.append(_frames((h + h2)[0]))
        logits = net.decoder(low, torch.cat(refined), (H, W))
        expected = torch.stack([_frames(logits[3 * b : 3 * b + 3]) for b in range(2)])
        torch.testing.assert_close(net(x), expected)


def test_rfb_output_enters_the_final_sum_twice():
    """With zero output projections every NS block is the identity (its residual), so the decoder receives 2h."""
    torch.manual_seed(0)
    net = PNSNet().eval()
    for block in net.ns_blocks:
        torch.nn.init.zeros_(block.out_proj.weight)
    x = torch.randn(1, 3, 2, H, W)
    with torch.no_grad():
        low, high = net.encode(_frames(x[0]))
        expected = _frames(net.decoder(low, 2 * high, (H, W)))[None]
        torch.testing.assert_close(net(x), expected)


def test_pns_plus_matches_the_released_formulation():
    """The release repeats the anchor T times as queries; here one query frame is broadcast. Same values.

    In float64: random NS weights amplify features ~100x, which leaves float32 results 1e-6 (relative) apart.
    """
    torch.manual_seed(0)
    net = PNSPlusNet().eval().double()
    x = torch.randn(1, 3, 1 + 3, H, W, dtype=torch.float64)
    with torch.no_grad():
        low, high = net.encode(_frames(x[0]))
        clip = high.permute(1, 0, 2, 3).unsqueeze(0)
        anchor, local = clip[:, :, :1].expand(-1, -1, 3, -1, -1), clip[:, :, 1:]
        # residual=False for the global block: its residual is the local clip
        h1 = net.ns_global(anchor, context=local) + local
        h2 = net.ns_local(h1)  # NS_local(h1) + h1
        refined = _frames((h2 + local)[0])
        expected = _frames(net.decoder(low[1:], refined, (H, W)))[None]
        torch.testing.assert_close(net(x), expected)
        # the anchor matters
        other = x.clone()
        other[:, :, 0] = torch.randn(3, H, W, dtype=torch.float64)
        assert not torch.allclose(net(other), expected)


def test_static_and_video_paths_share_weights():
    torch.manual_seed(0)
    static = PNSNet(num_blocks=0).eval()  # the phase-1 (pre-training) model
    video = PNSNet().eval()
    result = video.load_state_dict(static.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert result.missing_keys and all(k.startswith("ns_blocks.") for k in result.missing_keys)
    video_state = video.state_dict()
    for key, value in static.state_dict().items():
        assert torch.equal(video_state[key], value), key
    images, clip = torch.randn(2, 3, H, W), torch.randn(1, 3, 2, H, W)
    with torch.no_grad():
        torch.testing.assert_close(video(images), static(images))
        # without NS blocks a clip is segmented frame by frame
        torch.testing.assert_close(static(clip), _frames(static(_frames(clip[0])))[None])


@pytest.mark.parametrize("net, shape", [(PNSNet(), (1, 3, 2, H, W)), (PNSPlusNet(), (1, 3, 1 + 2, H, W))])
def test_every_parameter_gets_a_gradient(net, shape):
    torch.manual_seed(0)
    net.train()
    net.decoder.dropout.p = 0.0
    net(torch.randn(shape)).square().mean().backward()
    missing = [name for name, p in net.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []


@pytest.mark.parametrize(
    "net, shape, match",
    [
        (PNSNet(), (1, 3, 2, 40, W), "multiples of 16, got 40x64"),
        (PNSNet(), (1, 3, H, 72), "multiples of 16, got 32x72"),
        (PNSNet(), (1, 4, 2, H, W), "built for 3 channels"),
        (PNSNet(), (3, H, W), r"\(B, C, H, W\) or \(B, C, T, H, W\)"),
        (PNSNet(norm_shape=(16, 28)), (1, 3, 2, H, W), "bound to 256x448 inputs"),
        (PNSPlusNet(), (1, 3, H, W), r"\(B, C, T, H, W\)"),
        (PNSPlusNet(), (1, 3, 1, H, W), "anchor and at least one local frame"),
    ],
)
def test_bad_input(net, shape, match):
    with pytest.raises(ValueError, match=match):
        net(torch.randn(shape))


def test_size_bound_norm_accepts_any_image_size():
    """The static path has no NS block, so a size-bound model still segments images of any (multiple of 16) size."""
    with torch.no_grad():
        assert PNSNet(norm_shape=(16, 28)).eval()(torch.randn(1, 3, H, W)).shape == (1, 1, H, W)


@pytest.mark.parametrize(
    "cls, kwargs, match",
    [
        (PNSNet, {"num_blocks": -1}, "num_blocks"),
        (PNSNet, {"num_groups": 3}, "divisible"),
        (PNSPlusNet, {"global_dilations": (1, 2)}, "dilations"),
        (PNSNet, {"dropout": 1.5}, "dropout"),
    ],
)
def test_ill_arg(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_takes_anchor_is_a_class_attribute_that_sets_the_input_layout():
    assert PNSBase.takes_anchor is False and PNSNet.takes_anchor is False and PNSPlusNet.takes_anchor is True
    assert PNSPlusNet().takes_anchor is True  # read on instances too (the streaming predictor, optimize_network)

    class AnchoredPNSNet(PNSNet):
        takes_anchor = True

    with pytest.raises(ValueError, match=r"AnchoredPNSNet expects a \(B, C, T, H, W\) input"):
        AnchoredPNSNet(num_blocks=0)(torch.randn(1, 3, H, W))


@pytest.mark.parametrize(
    "cls, own", [(PNSNet, {"num_blocks": 2}), (PNSPlusNet, {"global_dilations": (3, 4), "local_dilations": (1, 2)})]
)
def test_shared_arguments_reach_every_ns_block(cls, own):
    net = cls(num_groups=2, radius=1, high_channels=16, use_norm=False, soft_attention=False,
              softmax_aggregation=True, **own)
    blocks = [m for m in net.modules() if type(m).__name__ == "NSBlock"]
    assert len(blocks) == 2
    for block in blocks:
        assert (block.num_groups, block.radius, block.in_channels) == (2, 1, 16)
        assert (block.norm, block.soft_attention, block.softmax_aggregation) == (None, False, True)
    with pytest.raises(TypeError):
        cls(3)  # keywords only: a positional argument cannot land on the wrong parameter


@pytest.mark.parametrize(
    "net, frames", [(PNSNet(num_blocks=0), 3), (PNSNet(num_blocks=1), 3), (PNSNet(), 3), (PNSPlusNet(), 1 + 3)]
)
def test_refine_last_only_is_the_last_frame_of_refine(net, frames):
    """Streaming computes the last block for the last query frame only: the same values as the whole clip's."""
    torch.manual_seed(0)
    net = net.eval().double()
    clip = torch.randn(2, 32, frames, 2, 4, dtype=torch.float64)
    with torch.no_grad():
        full, last = net.refine(clip), net.refine(clip, last_only=True)
    assert last.shape == (2, 32, 1, 2, 4)
    torch.testing.assert_close(last, full[:, :, -1:], rtol=1e-12, atol=1e-12)


def test_image_path_feeds_the_decoder_h_plus_h():
    """The image path is the video path with every NS term at zero: decoder(low, h + h)."""
    torch.manual_seed(0)
    net = PNSNet().eval()
    images = torch.randn(2, 3, H, W)
    with torch.no_grad():
        low, high = net.encode(images)
        torch.testing.assert_close(net(images), net.decoder(low, 2 * high, (H, W)), rtol=0, atol=0)


def _phase1_model(seed: int = 0) -> PNSNet:
    """A static model with drawn batch-norm statistics, as after phase 1 (fresh ones would hide a scale error)."""
    torch.manual_seed(seed)
    static = PNSNet(num_blocks=0)
    for module in static.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return static.eval()


@pytest.mark.parametrize("num_blocks", [1, 2])
def test_zero_init_video_model_starts_as_its_phase1_model(num_blocks):
    """Phase 2 starts from the static model's function: a zero_init video model with phase-1 weights gives the
    phase-1 model's logits on every frame of a clip (<= 1e-5); without zero_init it does not."""
    static = _phase1_model()
    clip = torch.randn(1, 3, 4, H, W)
    with torch.no_grad():
        expected = _frames(static(_frames(clip[0])))[None]
        differences = {}
        for zero_init in (True, False):
            torch.manual_seed(1)
            video = PNSNet(num_blocks=num_blocks, zero_init=zero_init).eval()
            result = video.load_state_dict(static.state_dict(), strict=False)
            assert result.unexpected_keys == [] and all(k.startswith("ns_blocks.") for k in result.missing_keys)
            differences[zero_init] = (video(clip) - expected).abs().max().item()
    assert differences[True] <= 1e-5
    assert differences[False] > 1e-2


def test_zero_init_pnsplus_starts_as_the_image_path():
    """PNS+ with zero_init segments every local frame as PNSNet's image path with the same shared weights."""
    static = _phase1_model()
    torch.manual_seed(1)
    plus = PNSPlusNet(zero_init=True).eval()
    result = plus.load_state_dict(static.state_dict(), strict=False)
    assert result.unexpected_keys == [] and all(k.startswith("ns_") for k in result.missing_keys)
    clip = torch.randn(1, 3, 1 + 3, H, W)
    with torch.no_grad():
        low, high = plus.encode(_frames(clip[0]))  # the backbone on the same batch of frames as in the network
        expected = plus.decoder(low[1:], 2 * high[1:], (H, W))
        torch.testing.assert_close(plus(clip), _frames(expected)[None], rtol=0, atol=1e-5)
        torch.testing.assert_close(expected, static(_frames(clip[0])[1:]), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("cls, arch", [(PNSNet, "pnsnet"), (PNSPlusNet, "pnsplus")])
def test_zero_init_changes_initialisation_only(cls, arch):
    """Loaded weights give the same forward with and without zero_init: the same keys, loaded strictly."""
    torch.manual_seed(0)
    donor = cls()
    released = {k: v + 0.01 * torch.randn_like(v) if v.is_floating_point() else v
                for k, v in donor.state_dict().items()}
    clip = torch.randn(1, 3, 3, H, W)
    outputs = []
    for zero_init in (False, True):
        net = cls(zero_init=zero_init)
        net.load_state_dict(released, strict=True)
        with torch.no_grad():
            outputs.append(net.eval()(clip))
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)
    assert sorted(cls(zero_init=True).state_dict()) == sorted(donor.state_dict())
