"""Every command's --help: one placeholder style, no Python type names, examples kept line by line."""

from __future__ import annotations

import enum
import inspect
import re
from pathlib import Path
from typing import List, Optional, Tuple

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from isovox.cli import app
from isovox.cli.helpstyle import HelpStyledTyper

COMMANDS = sorted(typer.main.get_command(app).commands)
# A placeholder: upper-case words (KEY=VALUE counts as one), or the choices of a choice as [a|b].
PLACEHOLDER = re.compile(r"^([A-Z][A-Z0-9_]*(=[A-Z]+)?)( [A-Z][A-Z0-9_]*)*(\.\.\.)?$|^\[[\w.|-]+\]$")
ARGUMENT = re.compile(r"^\[?[A-Z][A-Z0-9_]*\]?(\.\.\.)?$")
TYPER_TYPE_NAMES = re.compile(r"<\w[^>]*>|\b(list|tuple)\[|\{\w+\}")


@pytest.fixture(autouse=True)
def _fixed_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")


def _rows(text: str, section: str) -> list[str]:
    """First column (names and placeholder) of each row of a help section."""
    block = text.split(f"\n{section}:\n", 1)[1].split("\n\n", 1)[0] if f"\n{section}:\n" in text else ""
    return [re.split(r"\s{2,}", line.strip())[0] for line in block.splitlines()
            if re.match(r"^  \S", line)]


def _placeholder(first_column: str) -> str:
    """What is left of an option's first column once its names are removed."""
    words = [word for word in first_column.split() if not word.startswith("-") and word != "/"]
    return " ".join(words)


def _example_block(help_text: str) -> list[str]:
    """The lines of the help's unwrapped (\\b) paragraph, as written in the docstring."""
    paragraphs = inspect.cleandoc(help_text).split("\n\n")
    block = next((p for p in paragraphs if p.startswith("\b")), "")
    return [line.strip() for line in block.splitlines()[1:] if line.strip()]


def test_every_command_is_covered():
    assert {"reconstruct", "train", "demo", "info", "simulate", "evaluate", "run"} <= set(COMMANDS)


@pytest.mark.parametrize("command", [None] + COMMANDS)
def test_help_uses_one_placeholder_style(cli, command):
    result = cli(*([command] if command else []), "--help")
    assert result.code == 0, result.err
    text = result.out
    assert not TYPER_TYPE_NAMES.search(text), TYPER_TYPE_NAMES.search(text).group(0)
    usage = text.splitlines()[0]
    assert usage.startswith("Usage: ") and "{" not in usage     # program name: argv[0] in-process
    for column in _rows(text, "Options"):
        placeholder = _placeholder(column)
        assert placeholder == "" or PLACEHOLDER.match(placeholder), (command, column)
    for column in _rows(text, "Arguments"):
        assert ARGUMENT.match(column), (command, column)
        assert column.strip("[].") in usage, (column, usage)


@pytest.mark.parametrize("command", COMMANDS)
def test_examples_keep_their_line_breaks(cli, command):
    lines = _example_block(typer.main.get_command(app).commands[command].help or "")
    assert lines and lines[0].startswith("Example"), f"{command}: no unwrapped example block"
    printed = [line.strip() for line in cli(command, "--help").out.splitlines()]
    for line in lines:
        assert line in printed, (command, line)


def test_reconstruct_example_continuation_ends_its_line(cli):
    printed = cli("reconstruct", "--help").out.splitlines()
    continued = [index for index, line in enumerate(printed) if line.rstrip().endswith("\\")]
    assert continued, "no continued example"
    for index in continued:
        assert printed[index + 1].lstrip().startswith("--"), printed[index:index + 2]


class _Colour(str, enum.Enum):
    red = "red"
    blue = "blue"


def _toy_app() -> typer.Typer:
    toy = HelpStyledTyper(add_completion=False, rich_markup_mode=None)

    @toy.command()
    def first(
        volumes: List[Path] = typer.Argument(..., help="inputs"),
        factors: Optional[List[float]] = typer.Option(None, help="repeatable"),
        size: Optional[Tuple[int, int]] = typer.Option(None, help="two integers"),
        colour: _Colour = typer.Option(_Colour.red, help="a choice"),
        name: str = typer.Option("x", help="text"),
        model: Optional[Path] = typer.Option(None, metavar="DIR", help="explicit placeholder"),
        quiet: bool = typer.Option(False, help="a flag"),
    ) -> None:
        """Toy."""

    @toy.command()
    def second() -> None:
        """Another."""

    return toy


def test_placeholders_are_derived_from_types():
    result = CliRunner().invoke(_toy_app(), ["first", "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    columns = {column.split()[0]: _placeholder(column) for column in _rows(result.output, "Options")}
    assert columns["--factors"] == "NUMBER"
    assert columns["--size"] == "INTEGER INTEGER"
    assert columns["--colour"] == "[red|blue]"
    assert columns["--name"] == "TEXT"
    assert columns["--model"] == "DIR"
    assert columns["--quiet"] == ""
    assert _rows(result.output, "Arguments") == ["VOLUMES..."]
    assert "Usage: root first [OPTIONS] VOLUMES..." in result.output
