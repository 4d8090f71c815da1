from __future__ import annotations

import pytest

from monai_pns.transforms import PNS_MEAN, PNS_STD

#: the statistics the released PNS-Net / SUN-SEG code normalises with (torchvision ``Normalize``, RGB, [0, 1])
RELEASED_MEAN = (0.4732661, 0.44874457, 0.3948762)
RELEASED_STD = (0.22674961, 0.22012031, 0.2238305)


def test_the_released_statistics_to_four_places_in_rgb_order():
    assert isinstance(PNS_MEAN, tuple) and isinstance(PNS_STD, tuple)
    assert PNS_MEAN == tuple(round(v, 4) for v in RELEASED_MEAN)
    assert PNS_STD == tuple(round(v, 4) for v in RELEASED_STD)
    for ours, released in zip(PNS_MEAN + PNS_STD, RELEASED_MEAN + RELEASED_STD):
        assert ours == pytest.approx(released, abs=5e-5)
