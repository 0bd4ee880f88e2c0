"""One look for every command's ``--help``: readable placeholders, arguments without braces.

Typer 0.22 and newer name a value by its Python type (``<float>``, ``<list[float]>``,
``<float,float,float>...``) and show a required argument as ``{input}`` in the usage line and
as ``input <path>`` in its table. isovox's help instead shows one upper-case word per value:

- an option without an explicit ``metavar`` gets one from its type: NUMBER (float),
  INTEGER (int), PATH, TEXT, the three words of a tuple, the choices of a choice as ``[a|b]``;
  a repeatable option shows the placeholder of one value (its help says it repeats);
- an argument is named by its metavar or its upper-cased name, ``INPUT`` when required and
  ``[INPUT]`` when optional, with ``...`` when it takes several values.

Commands registered on :class:`HelpStyledTyper` get this without asking. Where a Typer version
does not describe a parameter's type (older, click-based Typer), its own placeholder stays.
Help texts keep their line breaks where a paragraph starts with click's ``\\b`` marker (used for
the examples in the command docstrings).
"""

from __future__ import annotations

import pathlib
from typing import Any, Optional, get_args

import typer
from typer.core import TyperCommand

# Placeholder of one value of each Python type a command option uses.
_TYPE_WORDS = {float: "NUMBER", int: "INTEGER", str: "TEXT", bool: "BOOLEAN"}


def placeholder_for(annotation: Any) -> Optional[str]:
    """The placeholder of one value of ``annotation``, or None where there is no plain word."""
    if isinstance(annotation, type) and issubclass(annotation, pathlib.PurePath):
        return "PATH"
    return _TYPE_WORDS.get(annotation)


def _derived_metavar(param: Any) -> Optional[str]:
    """A placeholder from the type Typer recorded for ``param``; None when it recorded none."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None:
        return None
    if descriptor.is_choice:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in descriptor.choices) + "]"
    if descriptor.is_list or descriptor.is_tuple:
        words = [placeholder_for(arg) for arg in get_args(descriptor.annotation)]
        return " ".join(words) if words and all(words) else None
    if descriptor.is_path:
        return "PATH"
    return placeholder_for(descriptor.annotation)


def _argument_label(param: Any) -> str:
    """INPUT, [INPUT] when optional, with ... when it takes several values."""
    label = param.metavar or param.name.upper()
    if not param.required:
        label = f"[{label}]"
    return label + ("..." if param.nargs != 1 else "")


class HelpStyledCommand(TyperCommand):
    """A Typer command whose help follows the placeholder style of this module."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.param_type_name == "argument":
                param.metavar = param.metavar or param.name.upper()
            elif param.metavar is None and not getattr(param, "is_flag", False) \
                    and not getattr(param, "count", False):
                param.metavar = _derived_metavar(param)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(_argument_label(param))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        """The Arguments and Options tables; an argument's row is its label, without a type."""
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                label = param.metavar + ("..." if param.nargs != 1 else "")
                arguments.append((label, record[1]))
            else:
                options.append(record)
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


class HelpStyledTyper(typer.Typer):
    """A Typer app whose commands are :class:`HelpStyledCommand` unless one asks for another."""

    def command(self, *args: Any, **kwargs: Any):
        if kwargs.get("cls") is None:
            kwargs["cls"] = HelpStyledCommand
        return super().command(*args, **kwargs)
