from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import distance_transform_edt

from monai_pns.metrics.distance import decay_sum_and_nearest


def _random_fg(rng: np.random.Generator, kind: str) -> np.ndarray:
    height, width = rng.integers(1, 60, size=2)
    fg = np.zeros((height, width), bool)
    if kind == "noise":
        fg = rng.uniform(size=(height, width)) < rng.uniform(0.01, 0.5)
    elif kind == "points":  # few far-apart pixels: many equidistant pairs
        fg[rng.integers(0, height, 3), rng.integers(0, width, 3)] = True
    else:  # overlapping ellipses, some cut by the border
        yy, xx = np.mgrid[:height, :width]
        for _ in range(rng.integers(1, 5)):
            cy, cx = rng.uniform(0, height), rng.uniform(0, width)
            ry, rx = rng.uniform(0.5, height / 2 + 1), rng.uniform(0.5, width / 2 + 1)
            fg |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
    fg[rng.integers(0, height), rng.integers(0, width)] = True
    return fg


def _box_around(rng: np.random.Generator, fg: np.ndarray) -> tuple[int, int, int, int]:
    """A box that holds every foreground pixel, grown by a random margin on each side."""
    rows, cols = np.nonzero(fg)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    m = rng.integers(0, 5, size=4)
    return max(r0 - m[0], 0), min(r1 + m[1], fg.shape[0]), max(c0 - m[2], 0), min(c1 + m[3], fg.shape[1])


@pytest.mark.parametrize("kind", ["noise", "points", "ellipses"])
def test_matches_scipy_distance_and_feature_transform(kind):
    """The weighted sum uses scipy's exact distances; the nearest pixel is the very one scipy picks among ties."""
    rng = np.random.default_rng(["noise", "points", "ellipses"].index(kind))
    for _ in range(60):
        fg = _random_fg(rng, kind)
        box = _box_around(rng, fg)
        values, table = rng.uniform(size=fg.shape), rng.uniform(size=40)
        dist, (near_r, near_c) = distance_transform_edt(~fg, return_indices=True)
        sq_dist = np.rint(dist**2).astype(np.intp)
        total, nearest = decay_sum_and_nearest(fg, values, table, box)
        assert total == pytest.approx(float((values * table[np.minimum(sq_dist, 39)]).sum()), rel=1e-12, abs=1e-12)
        r0, r1, c0, c1 = box
        expected = (near_r[r0:r1, c0:c1] - r0) * (c1 - c0) + near_c[r0:r1, c0:c1] - c0
        np.testing.assert_array_equal(nearest, expected)


def test_codes_and_views_equal_float_values():
    """uint8 codes read through a lut, and non-contiguous views, give the float64 result."""
    rng = np.random.default_rng(5)
    fg = _random_fg(rng, "ellipses")
    big = np.zeros((fg.shape[0] + 4, fg.shape[1] + 6), bool)
    big[2:-2, 3:-3] = fg
    codes = rng.integers(0, 256, size=big.shape).astype(np.uint8)
    lut, table = rng.uniform(size=256), rng.uniform(size=30)
    box = (0, big.shape[0] - 4, 0, big.shape[1] - 6)
    total, nearest = decay_sum_and_nearest(big[2:-2, 3:-3], lut[codes][2:-2, 3:-3], table, box)
    total_codes, nearest_codes = decay_sum_and_nearest(big[2:-2, 3:-3], codes[2:-2, 3:-3], table, box, lut=lut)
    assert total_codes == pytest.approx(total, rel=1e-14)
    np.testing.assert_array_equal(nearest_codes, nearest)


def test_bad_input_is_named():
    fg = np.zeros((6, 7), bool)
    values, table = np.ones((6, 7)), np.ones(5)
    with pytest.raises(ValueError, match="foreground is empty"):
        decay_sum_and_nearest(fg, values, table, (0, 6, 0, 7))
    fg[4, 5] = True
    with pytest.raises(ValueError, match=r"box \(0, 4, 0, 7\) does not hold"):
        decay_sum_and_nearest(fg, values, table, (0, 4, 0, 7))
    with pytest.raises(ValueError, match=r"box \(0, 9, 0, 7\) does not hold"):
        decay_sum_and_nearest(fg, values, table, (0, 9, 0, 7))
    with pytest.raises(ValueError, match="differ in shape"):
        decay_sum_and_nearest(fg, values[:5], table, (0, 6, 0, 7))
    with pytest.raises(ValueError, match="got float32"):
        decay_sum_and_nearest(fg, values.astype(np.float32), table, (0, 6, 0, 7))
    with pytest.raises(ValueError, match="got float64"):
        decay_sum_and_nearest(fg, values, table, (0, 6, 0, 7), lut=np.ones(256))
