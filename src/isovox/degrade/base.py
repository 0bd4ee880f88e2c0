"""Base of the deterministic degradation ops: :class:`Op`, the registry, :class:`Compose`.

The concrete ops live in :mod:`isovox.degrade.ops` (which re-exports everything here); see its
docstring for the dtype policy and the grid rules.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

from ..errors import IsovoxError
from ..resample import cast_to_dtype
from ..volume import Volume

OPS: dict[str, type["Op"]] = {}


def register(name: str) -> Callable[[type], type]:
    """Class decorator: make an op rebuildable from ``{"op": name, ...}``."""
    def decorate(cls: type) -> type:
        cls.name = name
        OPS[name] = cls
        return cls
    return decorate


def _jsonable(value: Any) -> Any:
    if isinstance(value, Op):
        return value.to_dict()
    if isinstance(value, (tuple, list, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def as_floats(values: Any) -> tuple:
    """Nested sequences as nested tuples of floats (hashable, equal after a JSON round trip)."""
    if np.ndim(values) == 0:
        return float(values)  # type: ignore[return-value]
    return tuple(as_floats(v) for v in values)


def as_ints(values: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in np.ravel(values))


class Op:
    """Base class: subclasses are frozen dataclasses that implement :meth:`apply`."""

    name: ClassVar[str] = "op"

    def apply(self, volume: Volume) -> Volume:
        """The degraded volume with float32 data (no cast back)."""
        raise NotImplementedError

    def __call__(self, volume: Volume) -> Volume:
        result = self.apply(volume)
        return result.replace(data=cast_to_dtype(result.data, volume.dtype))

    def to_dict(self) -> dict:
        params = {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        return {"op": self.name, **params}

    def _set(self, **values: Any) -> None:
        for key, value in values.items():   # normalise fields of a frozen dataclass
            object.__setattr__(self, key, value)


def op_from_dict(spec: dict) -> Op:
    """Rebuild an op from :meth:`Op.to_dict` output (also after a JSON round trip)."""
    if not isinstance(spec, dict) or "op" not in spec:
        raise IsovoxError(f"an op description must be a dict with an 'op' key, got {spec!r}")
    params = dict(spec)
    name = params.pop("op")
    if name not in OPS:
        raise IsovoxError(f"unknown degradation op {name!r}; known ops: {', '.join(sorted(OPS))}")
    try:
        return OPS[name](**params)
    except TypeError as exc:
        raise IsovoxError(f"bad parameters for op {name!r}: {exc}") from None


def check_positive(value: float, what: str, allow_zero: bool = False) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise IsovoxError(f"{what} must be {'>= 0' if allow_zero else 'positive'}, got {value}")
    return value


# --- composition ------------------------------------------------------------------------------------

@register("compose")
@dataclasses.dataclass(frozen=True)
class Compose(Op):
    """Ops applied in order on float32 data, with one cast back to the input dtype at the end."""

    ops: tuple[Op, ...] = ()

    def __post_init__(self) -> None:
        ops = tuple(op_from_dict(op) if isinstance(op, dict) else op for op in self.ops)
        bad = [op for op in ops if not isinstance(op, Op)]
        if bad:
            raise IsovoxError(f"Compose takes ops, got {bad[0]!r}")
        self._set(ops=ops)

    def apply(self, volume: Volume) -> Volume:
        result = volume
        for op in self.ops:
            result = op.apply(result)
        if result is volume:   # no ops: still honour the float32 contract of apply
            result = volume.replace(data=np.asarray(volume.numpy(), dtype=np.float32))
        return result

    def to_dict(self) -> dict:
        return {"op": self.name, "ops": [op.to_dict() for op in self.ops]}

    @classmethod
    def from_dict(cls, spec: dict | Sequence[dict]) -> "Compose":
        """From :meth:`to_dict` output, or from a plain list of op dicts (a record)."""
        if isinstance(spec, dict):
            op = op_from_dict(spec)
            return op if isinstance(op, Compose) else cls((op,))
        return cls(tuple(op_from_dict(d) for d in spec))

    def flat(self) -> list[Op]:
        """The ops with nested Compose expanded, in application order."""
        result: list[Op] = []
        for op in self.ops:
            result.extend(op.flat() if isinstance(op, Compose) else [op])
        return result
