from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import monai_pns.data
import monai_pns.transforms
from tests.data.trees import make_pnsnet


def test_public_names_resolve():
    for package in (monai_pns.data, monai_pns.transforms):
        for name in package.__all__:
            assert getattr(package, name) is not None, name


def test_cli_entry_point(tmp_path):
    root = make_pnsnet(tmp_path / "PNS")
    out = tmp_path / "datalist.json"
    repo = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "monai_pns.data.datalist", "--layout", "pnsnet", "--root", str(root)]
    cmd += ["--out", str(out)]
    run = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert out.is_file() and "found in sys.modules" not in run.stderr  # the CLI module is not imported twice
