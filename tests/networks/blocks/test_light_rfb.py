from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from monai_pns.networks import LightRFB
from tests.networks.reference import reference_layout


@pytest.mark.parametrize("name, in_channels, out_channels", [("High_RFB", 1024, 32), ("Low_RFB", 512, 24)])
def test_parameter_and_buffer_counts_match_the_release(name, in_channels, out_channels):
    layout = reference_layout("pnsnet")
    rfb = LightRFB(in_channels, out_channels)
    assert sum(p.numel() for p in rfb.parameters()) == layout["submodules"][name]
    assert sum(b.numel() for b in rfb.buffers()) == layout["submodule_buffer_elements"][name]
    assert len(rfb.state_dict()) == layout["submodule_state_dict_keys"][name]


def test_shape_and_batch_norm_momenta():
    rfb = LightRFB(64, 8, mid_channels=16).eval()
    with torch.no_grad():
        assert rfb(torch.randn(2, 64, 9, 13)).shape == (2, 8, 9, 13)
    assert rfb.reduce.adn.N.momentum == pytest.approx(0.1)
    modules = (*rfb.branches.modules(), *rfb.fuse.modules())
    momenta = {m.momentum for m in modules if isinstance(m, torch.nn.BatchNorm2d)}
    assert momenta == {0.01}


def test_excitation_scales_only_the_reduced_path():
    """The squeeze-excitation weights feed the reduction; the fusion sees the unscaled input (released code)."""
    rfb = LightRFB(8, 4, mid_channels=4).eval()
    x = torch.randn(1, 8, 5, 6)
    with torch.no_grad():
        weights = F.hardsigmoid(rfb.excitation[2](F.relu(rfb.excitation[0](x.mean(dim=(2, 3))))))
        reduced = rfb.reduce(x * weights[:, :, None, None])
        expected = rfb.fuse(torch.cat([x, *(branch(reduced) for branch in rfb.branches)], dim=1))
        torch.testing.assert_close(rfb(x), expected)
        # relu6(z + 3) / 6, the release's hard sigmoid
        z = torch.linspace(-5, 5, 11)
        torch.testing.assert_close(rfb.excitation[3](z), torch.clamp(z + 3, 0, 6) / 6)


@pytest.mark.parametrize(
    "kwargs", [{"in_channels": 0, "out_channels": 4}, {"in_channels": 8, "out_channels": 4, "reduction": 16}]
)
def test_ill_arg(kwargs):
    with pytest.raises(ValueError, match="reduction"):
        LightRFB(**kwargs)
