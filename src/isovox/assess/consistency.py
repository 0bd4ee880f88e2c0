"""Consistency with the acquisition: imaged again, does the output give back the acquired sections?

An isotropic output claims to be the specimen on a finer grid. Sectioned again the way the real
stack was (the same slice profile, the same section spacing), it should give back the sections
that were actually acquired. :func:`acquisition_consistency` degrades the output with
:func:`isovox.simulate` (the acquisition's recipe and thickness, the factor between the two grids)
and scores every re-acquired section against the acquired one (PSNR, on the acquired volume's
intensity range). A reconstruction that invents structure the profile would not blur away, loses
contrast or shifts intensities scores lower; a faithful one scores as high as the acquisition's
noise allows. Defective acquired sections (blank, saturated, ...: :mod:`isovox.defects`) are left
out: they are not images of the specimen, and a reconstruction bridges them on purpose.

What it cannot tell: with a 'take' acquisition (thin sections, no profile), any method that keeps
the acquired slices (linear or cubic interpolation, ``keep_acquired``) passes trivially; the
number is informative for thick profiles ('gaussian', 'box'), where the in-between slices enter
every acquired one. It needs no ground truth, only the acquired stack and its acquisition, which
isovox's model card records (the recipe trained for, or the one estimated from the volume).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import IsovoxError
from ..evaluate.metrics import psnr_from_mse
from ..units import conversion_factor
from ..volume import AXIS_NAMES, Volume, lowres_axis, output_length, resampling_factor, same_spacing

PROFILE_RECIPES = ("take", "gaussian", "box", "cubic")


@dataclass(frozen=True)
class Consistency:
    """The output re-acquired and compared with the acquired sections (see the module docstring)."""

    recipe: str
    thickness: float | None          # in ``unit``; None: the section spacing (the recipe's default)
    unit: str
    axis: int
    psnr: float                      # all scored sections together, dB
    per_section: tuple[float, ...]   # dB, one per acquired section (NaN: skipped)
    skipped: tuple[int, ...] = ()    # defective acquired sections, not scored

    @property
    def worst_section(self) -> int:
        return int(np.nanargmin(self.per_section))

    def to_dict(self) -> dict:
        return {"recipe": self.recipe, "thickness": self.thickness, "unit": self.unit,
                "axis": AXIS_NAMES[self.axis], "psnr": self.psnr,
                "per_section_psnr": [None if math.isnan(v) else v for v in self.per_section],
                "worst_section": self.worst_section, "skipped_sections": list(self.skipped)}

    def summary(self) -> str:
        profile = self.recipe if self.thickness is None else f"{self.recipe} {self.thickness:.3g} {self.unit}"
        worst = self.worst_section
        scored = len(self.per_section) - len(self.skipped)
        skipped = f"; defective sections {', '.join(map(str, self.skipped))} skipped" if self.skipped else ""
        return (f"consistency with the acquisition ({profile} along {AXIS_NAMES[self.axis]}): re-acquired output "
                f"vs acquired sections PSNR {self.psnr:.2f} dB over {scored} sections "
                f"(worst: section {worst}, {self.per_section[worst]:.2f} dB{skipped})")


def acquisition_consistency(output: Volume, acquired: Volume, recipe: str = "gaussian",
                            thickness: float | None = None, axis: int | None = None,
                            skip_defects: bool = True) -> Consistency:
    """Re-acquire ``output`` as ``acquired`` was (``recipe``, ``thickness`` in the output's unit)
    and score it section by section against ``acquired`` (same lateral grid, coarser along
    ``axis``, default the acquired volume's coarsest axis), leaving out the defective acquired
    sections unless ``skip_defects=False``."""
    from ..defects import detect_defects
    from ..simulation import simulate

    if recipe not in PROFILE_RECIPES:
        raise IsovoxError(f"consistency needs a slice acquisition ({', '.join(PROFILE_RECIPES)}), got {recipe!r}")
    acquired = acquired.in_unit(output.unit)
    axis = lowres_axis(acquired.spacing) if axis is None else int(axis)
    factor = _check_grids(output, acquired, axis)
    again = simulate(output, factor, axis=axis, recipe=recipe, thickness=thickness).lowres.numpy()
    measured = acquired.numpy()
    n = min(again.shape[axis], measured.shape[axis])
    again = np.moveaxis(again, axis, 0)[:n].astype(np.float64)
    measured = np.moveaxis(measured, axis, 0)[:n].astype(np.float64)
    skipped = tuple(i for i in detect_defects(acquired, axis).indices if i < n) if skip_defects else ()
    scored = np.setdiff1d(np.arange(n), skipped)
    if not len(scored):
        raise IsovoxError("every acquired section is defective: nothing to compare the output with")
    span = float(measured[scored].max() - measured[scored].min()) or 1.0
    errors = ((again - measured) ** 2).reshape(n, -1).mean(axis=1)
    psnr = psnr_from_mse(errors, span)
    per_section = tuple(math.nan if i in skipped else float(psnr[i]) for i in range(n))
    return Consistency(recipe, thickness, output.unit, axis, float(psnr_from_mse(errors[scored].mean(), span)),
                       per_section, skipped)


def _check_grids(output: Volume, acquired: Volume, axis: int) -> float:
    """The factor from the acquired grid to the output's along ``axis``; the rest must match."""
    for a in range(3):
        if a != axis and (output.shape[a] != acquired.shape[a]
                          or not same_spacing(output.spacing[a], acquired.spacing[a])):
            raise IsovoxError(f"the output and the acquired volume differ along {AXIS_NAMES[a]} "
                              f"({output.describe()} vs {acquired.describe()}); give the stack it was made from")
    factor = resampling_factor(acquired.spacing[axis], output.spacing[axis])
    if factor <= 1 or output.shape[axis] != output_length(acquired.shape[axis], factor):
        raise IsovoxError(f"the output ({output.describe()}) is not a reconstruction of the acquired stack "
                          f"({acquired.describe()}) along {AXIS_NAMES[axis]}")
    return factor


def card_acquisition(degradation: dict, card_unit: str, unit: str) -> dict:
    """``{'recipe', 'thickness'}`` (thickness in ``unit``) a model card says the stack was acquired
    with: the estimate from the volume when one was made, else the recipe it was trained for."""
    estimate = degradation.get("estimated_acquisition") or {}
    if estimate.get("estimated"):
        recipe, thickness, source_unit = estimate.get("recipe"), estimate.get("thickness"), estimate.get("unit", card_unit)
    else:
        recipe, thickness, source_unit = degradation.get("recipe"), degradation.get("thickness"), card_unit
    if recipe not in PROFILE_RECIPES:
        raise IsovoxError(f"this model's acquisition is {recipe!r}, not a slice profile isovox can apply; "
                          f"give the recipe ({', '.join(PROFILE_RECIPES)}) and thickness yourself")
    scale = conversion_factor(source_unit, unit)
    return {"recipe": recipe, "thickness": None if thickness is None else float(thickness) * scale}


def consistency_figure_panel(ax: Any, consistency: Consistency) -> None:
    """Per-section PSNR of the re-acquired output, one bar per acquired section."""
    values = np.asarray(consistency.per_section, dtype=float)
    finite = np.where(np.isfinite(values), values, np.nan)
    ax.bar(np.arange(len(values)), finite, color="tab:purple", width=0.8)
    ax.axhline(consistency.psnr, color="black", linewidth=0.8, linestyle="--",
               label=f"all sections: {consistency.psnr:.2f} dB")
    ax.set_xlabel(f"acquired section ({AXIS_NAMES[consistency.axis]})")
    ax.set_ylabel("PSNR re-acquired vs acquired (dB)")
    if np.isfinite(finite).any():
        low = float(np.nanmin(finite))
        ax.set_ylim(max(0.0, low - 3), float(np.nanmax(finite)) + 1)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("consistency with the acquisition", fontsize=9)
