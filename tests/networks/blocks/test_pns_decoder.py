from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from monai_pns.networks import PNSDecoder
from tests.networks.reference import reference_layout


def test_parameter_count_matches_the_release():
    layout = reference_layout("pnsnet")["submodules"]
    assert sum(p.numel() for p in PNSDecoder().parameters()) == layout["decoder"] + layout["SegNIN"]


def test_forward_matches_a_functional_reference():
    decoder = PNSDecoder(low_channels=6, high_channels=4, out_channels=2, mid_channels=6).eval()
    low, high = torch.randn(3, 6, 8, 10), torch.randn(3, 4, 4, 5)
    with torch.no_grad():
        up = F.interpolate(high, size=(8, 10), mode="bilinear", align_corners=False)
        reduced = decoder.high_reduce(up)
        a = F.conv2d(reduced[:, :3], decoder.high_convs[0].weight, padding=1)
        b = F.conv2d(reduced[:, 3:], decoder.high_convs[1].weight, padding=2, dilation=2)
        fused = decoder.high_norm(torch.cat([a, b], 1)) + decoder.low_norm(decoder.low_reduce(low))
        refined = decoder.refine(decoder.act(fused))
        expected = F.interpolate(decoder.head(refined), size=(32, 40), mode="bilinear", align_corners=False)
        torch.testing.assert_close(decoder(low, high, (32, 40)), expected)


def test_dropout_only_in_training():
    decoder = PNSDecoder(dropout=0.5)
    low, high = torch.randn(2, 24, 8, 8), torch.randn(2, 32, 4, 4)
    decoder.eval()
    with torch.no_grad():
        evaluated = decoder(low, high, (32, 32))
        torch.testing.assert_close(decoder(low, high, (32, 32)), evaluated)
        for module in decoder.modules():  # keep batch norm in eval mode, switch only the dropout to training
            module.train(module is decoder.dropout)
        torch.manual_seed(0)
        assert not torch.allclose(decoder(low, high, (32, 32)), evaluated)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"mid_channels": 1}, "mid_channels"), ({"dropout": 1.0}, "dropout"), ({"out_channels": 0}, "out_channels")],
)
def test_ill_arg(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PNSDecoder(**kwargs)
