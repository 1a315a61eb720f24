"""The README is the front door: every command and option must be in it, and have --help text."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from cinelake import cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _subcommands(
    parser: argparse.ArgumentParser, prefix: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                full = f"{prefix} {name}".strip()
                yield full, sub
                yield from _subcommands(sub, full)


COMMANDS = dict(_subcommands(cli.build_parser()))


def _options(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        if action.option_strings and not isinstance(action, argparse._HelpAction):
            yield action


def test_every_command_is_documented_in_the_readme() -> None:
    missing = [name for name in COMMANDS if f"cinelake {name}" not in README]
    assert not missing


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_of_a_command_is_in_the_readme(command: str) -> None:
    missing = [
        action.option_strings[-1]
        for action in _options(COMMANDS[command])
        if not any(option in README for option in action.option_strings)
    ]
    assert not missing, f"{command}: {missing}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_and_option_has_help_text(command: str) -> None:
    parser = COMMANDS[command]
    assert parser.description or parser.format_usage()
    silent = [a.option_strings[-1] for a in _options(parser) if not a.help]
    assert not silent, f"{command}: {silent}"


def test_the_readme_has_a_portuguese_quick_start_and_the_two_commands() -> None:
    assert "Início rápido (pt-BR)" in README
    assert "make demo" in README
    assert "make test" in README
