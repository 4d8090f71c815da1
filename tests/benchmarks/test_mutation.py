"""benchmarks/mutation.py: every mutant applies to today's code, and a run kills, spares and restores as it says."""

from __future__ import annotations

import pytest

from tests.benchmarks import load_benchmark

mutation = load_benchmark("mutation")


@pytest.mark.parametrize("mutant", mutation.MUTANTS, ids=lambda m: m.id)
def test_every_mutant_applies_once_and_names_existing_tests(mutant, tmp_path):
    source = mutation.ROOT / mutant.path
    copy = tmp_path / mutant.path
    copy.parent.mkdir(parents=True)
    copy.write_text(source.read_text())
    original = mutation.apply(mutant, tmp_path)
    assert original == source.read_text()
    assert copy.read_text() == original.replace(mutant.find, mutant.replace) != original
    assert mutant.tests and all((mutation.ROOT / t).is_file() for t in mutant.tests)


def test_ids_are_unique():
    ids = [m.id for m in mutation.MUTANTS]
    assert len(set(ids)) == len(ids)


def _project(root):
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "limits.py").write_text("def ok(x):\n    return x <= 3\n\n\ndef name():\n    return 'a' + ''\n")
    (root / "test_limits.py").write_text("from pkg.limits import ok\n\n\ndef test_boundary():\n    assert ok(3)\n")


def test_a_run_kills_spares_and_restores(tmp_path):
    _project(tmp_path)
    before = (tmp_path / "pkg" / "limits.py").read_text()
    killed = mutation.Mutant("K", "pkg/limits.py", "x <= 3", "x < 3", ("test_limits.py",), "boundary")
    spared = mutation.Mutant("S", "pkg/limits.py", "'a' + ''", "'a'", ("test_limits.py",), "equivalent")
    assert mutation.run_mutant(killed, timeout=120, root=tmp_path)["outcome"] == "killed"
    assert mutation.run_mutant(spared, timeout=120, root=tmp_path)["outcome"] == "survived"
    assert (tmp_path / "pkg" / "limits.py").read_text() == before


def test_text_found_twice_or_never_is_refused(tmp_path):
    _project(tmp_path)
    for find, count in (("return", 2), ("x >= 3", 0)):
        with pytest.raises(ValueError, match=rf"mutant T: its text occurs {count} times in 'pkg/limits.py'"):
            mutation.apply(mutation.Mutant("T", "pkg/limits.py", find, "", ("test_limits.py",), ""), tmp_path)
    assert "x <= 3" in (tmp_path / "pkg" / "limits.py").read_text()
