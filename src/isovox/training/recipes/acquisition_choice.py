"""Recipe 'auto' for self-supervised training: the acquisition to train for, estimated and then
checked on the volume's own real sections.

Why two steps
-------------
:func:`isovox.acquisition.estimate_acquisition` reads the slice profile from spectra, assuming
statistically isotropic tissue. Thick profiles come back within 10 %, but real serial sections
break the assumption in ways that read as profile: CREMI's sections fit a Gaussian of about
0.8 x the spacing at every spacing tried (31 nm at 40 nm, 62 nm at 80 nm, 133 nm at 160 nm),
which cannot all be the physical thickness. A model trained for too wide a profile sharpens
what is not blurred and loses to linear interpolation on withheld real sections (issue 14:
-0.8 dB on CREMI binned x4), while the same network trained for thin sections ('take') gains.

So the estimate competes with 'take' on the one test real data allow: every other section of
the volume is withheld, a short model is trained for each candidate on the rest
(:func:`isovox.training.withheld.withheld_section_check`, a central window), and the candidate that
predicts the withheld real sections best (PSNR) is trained for. It is model selection by
cross-validation on the user's own sections; the candidates' scores go into the model card.

Choices written down:

- Two candidates only, the estimate and 'take' (no profile): each costs a short training run,
  and these two are the ends that matter (a profile read from the data vs. sections thinner than
  the lateral pixel). When the estimate is already 'take' nothing is checked.
- The check runs at twice the volume's spacing with the candidates' physical widths (a section
  keeps its thickness when its neighbour is withheld). The budget is ``SELECTION_ITERATIONS`` on
  a ``SELECTION_CROP`` window: the ranking, not the final quality, is what is needed.
- Ties (within ``TIE_DB``) go to the estimate, the physically motivated answer.
- ``select_acquisition=False`` (``--set select_acquisition=false``) trains for the estimate
  without the check. A budget of N iterations gives each candidate N / 3 (at most
  ``SELECTION_ITERATIONS``), so the choice costs at most two thirds of the training again.
- Too few sections for a check (fewer than ``MIN_SECTIONS``) or a check that cannot run: the
  estimate is used, and the card says why.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from ...errors import IsovoxError
from ...volume import Volume

SELECTION_ITERATIONS = 300
SELECTION_CROP = 160
MAX_CHECK_FACTOR = 8      # coarser lateral pixels for the check beyond this factor (see coarse_window)
MIN_SECTIONS = 9          # a kept stack of at least 5 sections, 4 withheld ones to score
TIE_DB = 0.05


def candidate_recipes(estimate_recipe: str, thickness: float | None) -> list[tuple[str, float | None]]:
    """The acquisitions that compete: the estimate first, then 'take' unless it is the estimate."""
    candidates = [(estimate_recipe, thickness)]
    if estimate_recipe != "take":
        candidates.append(("take", None))
    return candidates


def pick(scores: list[dict]) -> dict:
    """The candidate with the best withheld PSNR; the first (the estimate) unless beaten by more
    than ``TIE_DB``."""
    best = max(scores, key=lambda s: s["isovox_psnr"])
    return scores[0] if best["isovox_psnr"] - scores[0]["isovox_psnr"] <= TIE_DB else best


def selection_iterations(config: Any) -> int:
    """``SELECTION_ITERATIONS``, or a third of a smaller iteration budget (a quick run stays quick)."""
    if config.iterations is None:
        return SELECTION_ITERATIONS
    return max(1, min(SELECTION_ITERATIONS, int(config.iterations) // 3))


def coarse_window(volume: Volume, axis: int) -> Volume:
    """The central ``SELECTION_CROP`` window the candidates are checked on, its lateral pixels
    averaged in ``b x b`` blocks (scikit-image's ``block_reduce``) where the check's factor (twice
    the section spacing over the lateral spacing) would exceed ``MAX_CHECK_FACTOR``: the choice is
    between physical profiles, which need no 4 nm pixels, and a factor of 40 (CREMI at 4 nm,
    sections withheld to 80 nm) needs patches wider than the default."""
    from skimage.measure import block_reduce

    from ...volume import lateral_spacing
    from ..withheld import central_window

    factor = 2 * volume.spacing[axis] / lateral_spacing(volume.spacing, axis)
    b = max(1, math.ceil(factor / MAX_CHECK_FACTOR))
    window = central_window(volume, SELECTION_CROP * b)
    if b == 1:
        return window
    block = tuple(1 if a == axis else b for a in range(3))
    whole = tuple(slice(0, n // k * k) for n, k in zip(window.shape, block))     # no padded edge blocks
    binned = block_reduce(np.asarray(window.numpy()[whole], dtype=np.float32), block, np.mean)
    return window.on_new_grid(binned, scale=block, shift=[(k - 1) / 2 for k in block])


def check_candidates(volume: Volume, config: Any, candidates: list[tuple[str, float | None]],
                     axis: int) -> list[dict]:
    """The withheld-section check of every candidate with the config's network and seed. The
    user's ``bad_sections`` index the whole stack, not the kept one: the check finds defects
    itself (``detect_defects``)."""
    from ..withheld import withheld_section_check

    shared = dict(arch=config.arch, preset=config.preset, model_kwargs=config.model_kwargs, axis=config.axis,
                  patch_size=config.patch_size, batch_size=config.batch_size, seed=config.seed,
                  device=config.device, detect_defects=config.detect_defects,
                  iterations=selection_iterations(config), minutes=None)
    window = coarse_window(volume, axis)
    scores = []
    for recipe, thickness in candidates:
        result = withheld_section_check(window, method="selfsup", crop=None, recipe=recipe,
                                        thickness=thickness, **shared)
        scores.append({"recipe": recipe, "thickness": thickness,
                       **{k: result[k] for k in ("isovox_psnr", "isovox_ssim", "linear_psnr", "linear_ssim",
                                                 "gain_db")}})
    return scores


def choose_acquisition(volume: Volume, config: Any, recipe: str, thickness: float | None,
                       axis: int) -> tuple[Any, dict]:
    """``config`` set to the chosen (recipe, thickness) and the card's record of the choice."""
    candidates = candidate_recipes(recipe, thickness)
    estimated = dataclasses.replace(config, recipe=recipe, thickness=thickness)
    if len(candidates) == 1 or not config.select_acquisition:
        return estimated, {"chosen_by": "estimate"}
    if volume.shape[axis] < MIN_SECTIONS:
        return estimated, {"chosen_by": "estimate", "reason": f"{volume.shape[axis]} sections: too few to check "
                                                             f"candidates on withheld sections (need {MIN_SECTIONS})"}
    try:
        scores = check_candidates(volume, config, candidates, axis)
    except IsovoxError as reason:
        return estimated, {"chosen_by": "estimate", "reason": f"withheld-section check failed: {reason}"}
    best = pick(scores)
    return (dataclasses.replace(config, recipe=best["recipe"], thickness=best["thickness"]),
            {"chosen_by": "withheld sections", "candidates": scores})
