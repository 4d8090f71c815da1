"""Mutation audit of the test suite: plausible one-line bugs, each run against the tests of its module.

The mutants are data, in benchmarks/mutants.json. Every mutant replaces one exact piece of source text (found exactly
once in its file) by a plausible bug: a boundary moved (``<`` for ``<=``), a copy dropped, a flag ignored, a state not
reset, a rounding changed. For each mutant the file is changed in place, the mutant's test files run (``pytest -x``:
the first failure kills it) and the file is restored, whatever happens. A mutant is *killed* when the tests fail,
*survived* when they pass. The score is the share of killed mutants; docs/testing.md records each audit.

Usage::

    python benchmarks/mutation.py                    # all mutants, writes benchmarks/results/mutation.json
    python benchmarks/mutation.py --only M03 M17     # some of them
    python benchmarks/mutation.py --list             # the mutants, nothing run

Run it on a clean checkout: it refuses to start when a file it mutates has uncommitted changes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monai_pns.utils import check_output_file, run_cli, write_atomic  # noqa: E402


@dataclass(frozen=True)
class Mutant:
    """One bug: ``find`` (exactly once in ``path``) becomes ``replace``; ``tests`` are the test files that own it.
    ``equivalent`` says why a mutant turned out to behave exactly as the original (it is left out of the score)."""

    id: str
    path: str
    find: str
    replace: str
    tests: tuple[str, ...]
    bug: str
    equivalent: str = ""


MUTANTS_FILE = ROOT / "benchmarks" / "mutants.json"


def load_mutants(path: Path = MUTANTS_FILE) -> tuple[Mutant, ...]:
    """The mutants of ``path``: a JSON list of objects with the fields of :class:`Mutant` (``tests`` a list) and
    the ``audit`` they were written for."""
    return tuple(Mutant(**{k: tuple(v) if k == "tests" else v for k, v in row.items() if k != "audit"})
                 for row in json.loads(Path(path).read_text()))


MUTANTS = load_mutants()


def apply(mutant: Mutant, root: Path = ROOT) -> str:
    """Write the mutant into its file and return the original text (raises ValueError unless ``find`` is there once)."""
    path = root / mutant.path
    text = path.read_text()
    count = text.count(mutant.find)
    if count != 1:
        raise ValueError(f"mutant {mutant.id}: its text occurs {count} times in '{mutant.path}', expected once.")
    path.write_text(text.replace(mutant.find, mutant.replace))
    return text


def run_mutant(mutant: Mutant, timeout: float, root: Path = ROOT) -> dict:
    """Run the mutant's tests in ``root`` with the mutant in place; the file is restored afterwards."""
    original = apply(mutant, root)
    start = time.perf_counter()
    try:
        env = {**os.environ, "PYTHONPATH": str(root)}
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *mutant.tests]
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
        outcome = "survived" if proc.returncode == 0 else "killed"
        tail = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
    except subprocess.TimeoutExpired:
        outcome, tail = "killed (timeout)", []
    finally:
        (root / mutant.path).write_text(original)
    return {**asdict(mutant), "outcome": outcome, "seconds": round(time.perf_counter() - start, 1),
            "pytest": tail[0] if tail else ""}


def _dirty(paths: set[str]) -> list[str]:
    out = subprocess.run(["git", "status", "--porcelain", "--", *sorted(paths)], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    return [line[3:] for line in out.splitlines()]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", metavar="ID", help="run these mutants only")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per mutant (default 600)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "mutation.json"),
                        help="JSON record to write")
    args = parser.parse_args(argv)
    known = {m.id: m for m in MUTANTS}
    unknown = sorted(set(args.only or ()) - set(known))
    if unknown:
        parser.error(f"unknown mutant id(s) {unknown}; see --list")
    chosen = [known[i] for i in args.only] if args.only else list(MUTANTS)
    if args.list:
        for m in chosen:
            print(f"{m.id}  {m.path:36s} {m.bug}")
        return {}
    out = check_output_file(args.out, "--out")
    dirty = _dirty({m.path for m in chosen})
    if dirty:
        raise ValueError(f"uncommitted changes in {', '.join(dirty)}: the audit restores each file from what it read, "
                         "commit or stash them first.")
    for m in chosen:  # every mutant applies, before any test runs
        (ROOT / m.path).write_text(apply(m))
    results = []
    for m in chosen:
        result = run_mutant(m, args.timeout)
        results.append(result)
        note = f" (equivalent: {m.equivalent})" if m.equivalent else ""
        print(f"{m.id}  {result['outcome']:16s} {result['seconds']:6.1f} s  {m.path}: {m.bug}{note}", flush=True)
    killed = sum(r["outcome"].startswith("killed") for r in results)
    scored = sum(not r["equivalent"] for r in results)
    score = killed / scored if scored else 0.0
    print(f"killed {killed} of {scored} ({len(results) - scored} equivalent left out): {score:.0%}")
    report = {"killed": killed, "scored": scored, "mutants": len(results), "score": score, "results": results}
    write_atomic(out, json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
