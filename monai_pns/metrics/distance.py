"""Exact Euclidean distance transform of a binary map, fused with what the weighted F-measure reads from it.

Meijster, Roerdink and Hesselink, "A general algorithm for computing distance transforms in linear time" (2000):
a vertical pass gives each pixel's distance to the nearest foreground pixel of its column, then each row's lower
envelope of parabolas gives the exact squared distance and a nearest foreground pixel. Compiled by numba (first call:
about a second per argument type, then cached on disk); the squared distances are never stored, each is used as soon
as it is known.
"""

from __future__ import annotations

import cv2
import numba
import numpy as np

__all__ = ["decay_sum_and_nearest"]


@numba.njit(cache=True, nogil=True)
def _kernel(fg, values, lut, table, r0, r1, c0, c1, nearest):
    height, width = fg.shape
    far = height + width + 1  # beyond any distance in the map: a column without foreground
    col_dist = np.empty((height, width), np.int32)
    for j in range(width):
        col_dist[0, j] = 0 if fg[0, j] else far
    for i in range(1, height):
        for j in range(width):
            col_dist[i, j] = 0 if fg[i, j] else min(col_dist[i - 1, j] + 1, far)
    for i in range(height - 2, -1, -1):
        for j in range(width):
            col_dist[i, j] = min(col_dist[i, j], col_dist[i + 1, j] + 1)

    last = table.shape[0] - 1
    box_width = c1 - c0
    site = np.empty(width, np.int64)  # the columns of the lower envelope, left to right
    start = np.empty(width, np.int64)  # the first column each of them is nearest to
    total = 0.0
    for i in range(height):
        g = col_dist[i]
        k = -1
        for u in range(width):
            if g[u] >= far:
                continue
            while k >= 0:  # drop the sites that u is strictly nearer to at their own start
                s, t = site[k], start[k]
                if (t - s) * (t - s) + g[s] * g[s] > (t - u) * (t - u) + g[u] * g[u]:
                    k -= 1
                else:
                    break
            if k < 0:
                k = 0
                site[0], start[0] = u, 0
            else:  # u is nearer than site[k] from this column on; ties stay with the smaller column
                s = site[k]
                sep = (u * u - s * s + g[u] * g[u] - g[s] * g[s]) // (2 * (u - s)) + 1
                if sep < width:
                    k += 1
                    site[k], start[k] = u, sep
        q = width - 1
        row_sum = 0.0
        while k >= 0:
            s = site[k]
            gs = g[s]
            # the nearest foreground pixel in column s: above before below (the smaller row wins a tie)
            near_row = i - gs if i - gs >= 0 and fg[i - gs, s] else i + gs
            while q >= start[k]:
                sq = min((q - s) * (q - s) + gs * gs, last)
                row_sum += (values[i, q] if lut is None else lut[values[i, q]]) * table[sq]
                if r0 <= i < r1 and c0 <= q < c1:
                    nearest[i - r0, q - c0] = (near_row - r0) * box_width + (s - c0)
                q -= 1
            k -= 1
        total += row_sum
    return total


def decay_sum_and_nearest(
    fg: np.ndarray,
    values: np.ndarray,
    table: np.ndarray,
    box: tuple[int, int, int, int],
    lut: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """``sum(value * table[min(D^2, len(table) - 1)])`` over the map, and the nearest foreground pixel in a box.

    ``D`` is the exact Euclidean distance of each pixel to the nearest foreground pixel (0 on the foreground), as
    MATLAB ``bwdist`` and ``scipy.ndimage.distance_transform_edt`` of the background compute it. Between equidistant
    foreground pixels the nearest is the one scipy's feature transform (``return_indices=True``) gives: the smaller
    column, then the smaller row.

    Args:
        fg: (H, W) bool foreground; it must not be empty.
        values: (H, W) float64; or, with ``lut``, uint8 codes whose values are ``lut[code]``.
        table: (N,) float64 weight of each integer squared distance; the last one also stands for every larger one.
        box: (r0, r1, c0, c1) rows and columns that hold every foreground pixel.
        lut: (256,) float64 values of the codes.

    Returns:
        the weighted sum, and an (r1 - r0, c1 - c0) intp map of flat indices into the box: for each of its pixels,
        its nearest foreground pixel (itself on the foreground).
    """
    r0, r1, c0, c1 = box
    if values.shape != fg.shape:
        raise ValueError(f"values {values.shape} and foreground {fg.shape} differ in shape.")
    if values.dtype != (np.float64 if lut is None else np.uint8):
        raise ValueError(f"values must be uint8 codes with a lut, else float64; got {values.dtype}.")
    count = cv2.countNonZero(fg.view(np.uint8))
    if count == 0:
        raise ValueError("the foreground is empty: no pixel has a distance to it.")
    inside = 0 <= r0 < r1 <= fg.shape[0] and 0 <= c0 < c1 <= fg.shape[1]
    if not inside or cv2.countNonZero(fg[r0:r1, c0:c1].view(np.uint8)) != count:
        raise ValueError(f"box {box} does not hold every foreground pixel of the {fg.shape} map.")
    nearest = np.empty((r1 - r0, c1 - c0), np.intp)
    total = _kernel(fg.view(np.uint8), values, lut, table, r0, r1, c0, c1, nearest)
    return float(total), nearest
