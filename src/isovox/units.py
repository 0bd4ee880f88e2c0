"""Length units: one canonical spelling each, and conversion factors between them."""

from __future__ import annotations

from .errors import IsovoxError

# Canonical unit -> length in nanometres.
_NANOMETRES = {"angstrom": 0.1, "nm": 1.0, "um": 1e3, "mm": 1e6, "cm": 1e7, "m": 1e9}

_ALIASES = {
    "a": "angstrom", "å": "angstrom", "\u212b": "angstrom", "ang": "angstrom", "angstroms": "angstrom",
    "nanometer": "nm", "nanometre": "nm", "nanometers": "nm", "nanometres": "nm",
    "µm": "um", "\u03bcm": "um", "micron": "um", "microns": "um", "micrometer": "um",
    "micrometre": "um", "micrometers": "um", "micrometres": "um", "\\u00b5m": "um",
    "millimeter": "mm", "millimetre": "mm", "millimeters": "mm", "millimetres": "mm",
    "centimeter": "cm", "centimetre": "cm", "meter": "m", "metre": "m",
}

# Names of the canonical units as OME-NGFF and OME-XML spell them.
OME_NAMES = {"angstrom": "angstrom", "nm": "nanometer", "um": "micrometer", "mm": "millimeter",
             "cm": "centimeter", "m": "meter"}
OME_XML_SYMBOLS = {"angstrom": "\u00c5", "nm": "nm", "um": "\u00b5m", "mm": "mm", "cm": "cm", "m": "m"}


def canonical_unit(unit: str) -> str:
    """Return the canonical spelling of a length unit (``'nm'``, ``'um'``, ``'mm'``, ...)."""
    key = str(unit).strip()
    if key in _NANOMETRES:
        return key
    lowered = key.lower()
    if lowered in _NANOMETRES:
        return lowered
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    if key in _ALIASES:
        return _ALIASES[key]
    raise IsovoxError(f"unknown length unit {unit!r}; use one of {', '.join(_NANOMETRES)}")


def is_known_unit(unit: str | None) -> bool:
    try:
        canonical_unit(unit or "")
        return True
    except IsovoxError:
        return False


def conversion_factor(from_unit: str, to_unit: str) -> float:
    """Multiply a length in ``from_unit`` by this to express it in ``to_unit``."""
    return _NANOMETRES[canonical_unit(from_unit)] / _NANOMETRES[canonical_unit(to_unit)]
