"""The `isovox` command line: parse, call the public API, print. Heavy imports happen inside the
commands so that `isovox --help` is instant.

Every command has the shape ``isovox COMMAND INPUT -o OUTPUT [options]``, exits 0 on success and
prints one line ``error: ...`` with exit code 2 on bad input.
"""

from __future__ import annotations

from typing import Optional

import typer

from ..errors import IsovoxError
from . import degradation, learning, volumes  # noqa: F401  (importing registers the commands)
from .common import app

__all__ = ["app", "main"]


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point: run the app and turn known failures into one-line errors and exit code 2."""
    import click

    try:
        code = app(args=argv, standalone_mode=False)
    except IsovoxError as error:
        typer.echo(f"error: {error}", err=True)
        return 2
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as error:
        typer.echo(f"error: {error.strerror or error}: {error.filename}", err=True)
        return 2
    except click.exceptions.Abort:
        typer.echo("error: interrupted", err=True)
        return 130
    except click.exceptions.ClickException as error:
        error.show()
        return error.exit_code
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        return 130
    # Typer returns an exit code instead of raising when a command exits early (Ctrl-C: 130).
    return code if isinstance(code, int) else 0
