"""monai_pns.evaluation.reports: the files written, stale plots removed, the umask's modes."""

from __future__ import annotations

import csv
import json
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


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_summary_json_and_csv_hold_the_documented_keys_and_counts(pnsnet_tree, tmp_path):
    """summary.json holds exactly the documented keys, as returned; summary.csv and summary.md report the missing
    predictions (scored as zeros) and the resized ones per model and set."""
    root, perfect, noisy, _ = pnsnet_tree
    gone = noisy / "CVC-300" / "1" / "5.png"
    gone.unlink()
    out = tmp_path / "eval"
    with pytest.warns(UserWarning, match="resized"):
        summary = evaluate_predictions([perfect, noisy], out, layout="pnsnet", gt_root=root, allow_missing=True)
    written = json.loads((out / "summary.json").read_text())
    assert written == summary
    assert list(written) == ["mode", "layout", "data_list_key", "skip_first_last", "models", "sets", "results",
                             "missing", "resized", "reports"]
    assert (written["mode"], written["layout"], written["data_list_key"]) == ("matlab", "pnsnet", "test")
    assert written["skip_first_last"] is True and written["models"] == ["Perfect", "Noisy"]
    assert written["sets"] == ["CVC-300", "CVC-612-T"] and written["missing"] == {"Perfect": [], "Noisy": [str(gone)]}
    assert written["resized"]["Perfect"] == [] and len(written["resized"]["Noisy"]) == 32  # 33 frames, 1 missing
    counts = {(r["model"], r["set"]): (r["videos"], r["frames"], r["missing"], r["resized"])
              for r in _rows(out / "summary.csv")}
    assert counts == {
        ("Perfect", "CVC-300"): ("2", "18", "0", "0"), ("Perfect", "CVC-612-T"): ("1", "9", "0", "0"),
        ("Noisy", "CVC-300"): ("2", "18", "1", "21"), ("Noisy", "CVC-612-T"): ("1", "9", "0", "11"),
    }
    markdown = (out / "summary.md").read_text()
    tables = [lines for lines in (block.splitlines() for block in markdown.split("\n## ")[1:])]
    assert len(tables) == 2
    for lines in tables:  # a Markdown table renders only when its separator row has the header's columns
        header, separator, *rows = [line for line in lines if line.startswith("|")]
        assert header.startswith("| Model | maxDice |") and len(rows) == 2
        assert separator == "|---" * header.count(" | ") + "|---|"
        assert {row.count("|") for row in rows} == {header.count("|")}
    assert "Missing predictions scored as all-zero maps: Noisy: 1\n" in markdown
    assert "Predictions of another size than their ground truth, resized to it: Noisy: 32\n" in markdown
