from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

import monai_pns.metrics.aggregation
import monai_pns.metrics.frame
import monai_pns.metrics.preprocess
import monai_pns.metrics.smeasure
import monai_pns.metrics.threshold_curves
import monai_pns.metrics.vps_metric


@pytest.mark.parametrize(
    "module",
    [
        monai_pns.metrics.aggregation,
        monai_pns.metrics.frame,
        monai_pns.metrics.preprocess,
        monai_pns.metrics.smeasure,
        monai_pns.metrics.threshold_curves,
        monai_pns.metrics.vps_metric,
    ],
)
def test_examples_run(module):
    result = doctest.testmod(module, extraglobs={"np": np, "torch": torch}, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
