"""monai_pns.evaluation.reports: the files written, stale plots removed, the umask's modes."""

from __future__ import annotations

import os

import pytest

from monai_pns.evaluation import evaluate_predictions
from tests.evaluation.cases import make_pnsnet_tree

@pytest.fixture
def pnsnet_tree(tmp_path):
    return make_pnsnet_tree(tmp_path)


def test_stale_curves_removed_and_umask_honoured(pnsnet_tree, tmp_path):
    root, perfect, _, _ = pnsnet_tree
    out = tmp_path / "eval"
    out.mkdir()
    (out / "curves_OldSet.png").write_bytes(b"from a previous run")
    (out / "notes.txt").write_text("not ours: kept")
    old = os.umask(0o002)
    try:
        summary = evaluate_predictions(perfect, out, layout="pnsnet", gt_root=root)
    finally:
        os.umask(old)
    assert sorted(p.name for p in out.iterdir()) == sorted([*summary["reports"], "notes.txt"])
    assert all((out / name).stat().st_mode & 0o777 == 0o664 for name in summary["reports"])
