"""Every shell command in the README, docs/*.md and the bundle docs is checked as written, so that none can rot.

A command is checked without doing its work (most train for minutes or read data elsewhere):

- ``python -m monai.bundle <command>``: its config files and metadata exist, the run id or network id is in the
  merged configs, every ``--key`` is an argument of MONAI's command or an id of the merged configs;
- ``python -m monai_pns...`` and ``python benchmarks/<script>.py``: the module's own argument parser accepts the
  arguments (the run stops right after parsing);
- ``make <target>`` names a Makefile target; ``mlflow ui`` takes the options given.

The bundle's commands run for real in tests/bundle; the quick start's ``make demo`` runs in CI's fresh clone.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import re
import runpy
import shlex
import sys
from pathlib import Path

import pytest
from monai.bundle import ConfigParser, scripts

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "bundles" / "pns_net" / "docs" / "README.md"]
#: MONAI bundle commands' arguments that name files which must exist (outputs and checkpoints are written by runs)
INPUT_FILES = {"config_file", "meta_file", "logging_file", "args_file"}


def doc_commands() -> list[tuple[str, str]]:
    """(document, command) for every command of the ```bash blocks: continuation lines joined, comments dropped."""
    found = []
    for path in DOCS:
        for block in re.findall(r"```(?:bash|sh)\n(.*?)```", path.read_text(), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                command = line.split(" # ")[0].strip()
                if command and not command.startswith("#"):
                    found.append((str(path.relative_to(REPO)), command))
    return found


COMMANDS = doc_commands()


class _Parsed(BaseException):
    """Raised right after a command line was parsed: nothing runs (a BaseException, so no CLI catches it)."""


def _parse_only(monkeypatch, target: str, args: list[str], module: bool) -> argparse.Namespace:
    original = argparse.ArgumentParser.parse_args

    def parse(self, argv=None, namespace=None):
        raise _Parsed(original(self, argv, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse)
    monkeypatch.setattr(sys, "argv", [target, *args])
    with pytest.raises(_Parsed) as parsed:
        if module:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(str(REPO / target), run_name="__main__")
    return parsed.value.args[0]


def _options(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """Fire's command line: positional arguments, then ``--key value`` pairs."""
    positional, options = [], {}
    i = 0
    while i < len(args):
        if args[i].startswith("--"):
            options[args[i][2:]] = args[i + 1]
            i += 2
        else:
            positional.append(args[i])
            i += 1
    return positional, options


def _check_bundle_command(args: list[str]) -> None:
    command, rest = args[0], args[1:]
    function = getattr(scripts, command)
    accepted = set(inspect.signature(function).parameters) - {"override", "kwargs"}
    positional, options = _options(rest)
    for key in INPUT_FILES & set(options):
        value = options[key]
        for name in ast.literal_eval(value) if value.startswith("[") else [value]:
            assert (REPO / name).is_file(), f"--{key}: {name} does not exist"
    if command == "verify_metadata":
        assert (REPO / options["filepath"]).is_file(), options["filepath"]  # the schema
        assert set(options) <= accepted, set(options) - accepted
        return
    files = options["config_file"]
    parser = ConfigParser(ConfigParser.load_config_files([str(REPO / f) for f in (
        ast.literal_eval(files) if files.startswith("[") else [files])]))
    target = positional[0] if positional else "run"  # a run id, or a network id for the other commands
    assert target in parser, f"'{target}' is not an id of {files}"
    for key in set(options) - accepted:
        assert key in parser, f"--{key} is neither an argument of `monai.bundle {command}` nor an id of {files}"


def _check(command: str, monkeypatch) -> None:
    words = shlex.split(command)
    while "=" in words[0] and not words[0].startswith("-"):  # environment variables
        words = words[1:]
    if words[0] == "torchrun":
        words = ["python", *words[words.index("-m"):]]
    tool, args = words[0], words[1:]
    if tool == "make":
        targets = re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), re.M)
        assert args[0] in targets, f"make {args[0]}: no such target"
    elif tool == "mlflow":
        import click
        from mlflow.cli import cli

        params = {opt for p in cli.get_command(click.Context(cli), args[0]).params for opt in p.opts}
        assert {a for a in args[1:] if a.startswith("--")} <= params
    elif tool == "python" and args[:2] == ["-m", "monai.bundle"]:
        _check_bundle_command(args[2:])
    elif tool == "python" and args[0] == "-m":
        _parse_only(monkeypatch, args[1], args[2:], module=True)
    elif tool == "python":
        _parse_only(monkeypatch, args[0], args[1:], module=False)
    else:
        pytest.fail(f"no check for `{tool}`: add one to this test")


def test_the_docs_have_commands_of_every_kind():
    tools = {shlex.split(c)[0] for _, c in COMMANDS}
    assert len(COMMANDS) >= 40 and {"make", "python", "torchrun", "mlflow"} <= tools


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # runpy: a module already imported, run again as __main__
@pytest.mark.parametrize("doc, command", COMMANDS, ids=[f"{d}:{i}" for i, (d, _) in enumerate(COMMANDS)])
def test_doc_command_as_written(doc, command, monkeypatch):
    monkeypatch.chdir(REPO)
    _check(command, monkeypatch)


@pytest.mark.parametrize(
    "command, message",
    [
        ("python -m monai.bundle run trainin --config_file bundles/pns_net/configs/train.json",
         "'trainin' is not an id"),
        ("python -m monai.bundle run training --config_file bundles/pns_net/configs/train.json --outdir x",
         "--outdir is neither"),
        ("python -m monai.bundle run --config_file bundles/pns_net/configs/nope.json", "nope.json does not exist"),
        ("make demos", "no such target"),
    ],
)
def test_a_rotten_command_fails_the_check(command, message, monkeypatch):
    monkeypatch.chdir(REPO)
    with pytest.raises(AssertionError, match=message):
        _check(command, monkeypatch)


def test_a_rotten_cli_flag_fails_the_check(monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    with pytest.raises(SystemExit) as exit_:
        _check("python -m monai_pns.infer --ckpt model.pt --input video.mp4 --out results/ --no-overlays", monkeypatch)
    assert exit_.value.code == 2 and "unrecognized arguments: --no-overlays" in capsys.readouterr().err
