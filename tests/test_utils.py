from __future__ import annotations

import pytest

from monai_pns.utils import write_atomic


def test_write_atomic_creates_and_replaces(tmp_path):
    path = write_atomic(tmp_path / "sub" / "report.md", "first")
    assert path.read_text() == "first"
    write_atomic(path, b"second")
    assert path.read_bytes() == b"second"
    assert [p.name for p in path.parent.iterdir()] == ["report.md"]


def test_failed_write_keeps_the_old_file(tmp_path):
    path = write_atomic(tmp_path / "datalist.json", "good")
    with pytest.raises(TypeError):
        write_atomic(path, 12345)  # type: ignore[arg-type]
    assert path.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["datalist.json"]
