"""Lazy module attributes (PEP 562): a name resolves to its object on first use only.

Packages whose public names live in heavy modules (torch, zarr) use it so that importing the
package, or running ``isovox --help``, loads only what is asked for.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_exports(package: str, exports: dict[str, str], namespace: dict,
                 eager: tuple[str, ...] = ()) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``exports`` maps a name to its module."""
    names = sorted(set(exports) | set(eager))

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(exports[name]), name)
            namespace[name] = value          # cache: the next lookup is a plain attribute
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return names

    return __getattr__, __dir__
