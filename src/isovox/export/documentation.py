"""The README.md inside an exported package: what the model does and what the user must do first.

A package in a model zoo is run by people and programs that never saw isovox, so the README
spells out everything the network assumes: the spacing it was trained for, the cubic
interpolation along the low-resolution axis that must come before it (the network refines an
interpolated plane; it does not up-sample), which axis the rows are, and how isovox fuses the
plane predictions. The model zoo's validator looks for a "Validation" section; it holds the
numbers the card recorded and the way to check the package.
"""

from __future__ import annotations

from ..intensity import Normalisation
from ..jsontext import strict_json
from ..store import ModelCard, describe_card


def card_axis(card: ModelCard) -> str:
    """Name of the low-resolution axis the model was trained along ('z' unless the card says)."""
    return str(card.degradation.get("axis", "z"))


def readme_text(card: ModelCard, normalisation: Normalisation, side: int, min_side: int, size_multiple: int,
                citation: dict) -> str:
    """The package's README.md for ``card``: ``side`` is the test plane's side, ``min_side`` the
    smallest plane side the package declares; ``citation`` the recipe's paper as the package
    cites it (``text`` and ``doi`` or ``url``)."""
    low, high = normalisation.low, normalisation.high
    unit = card.unit
    axis = card_axis(card)
    padding = (f"the network pads them to multiples of {size_multiple} itself, as in isovox"
               if size_multiple > 1 else "the network is convolutional")
    return "\n".join([
        f"# isovox: {describe_card(card)}",
        "",
        "Isotropic reconstruction of anisotropic 3D images (serial-section EM, thick-slice MRI). "
        f"The network refines planes that contain the low-resolution axis ({axis}) after they have "
        f"been interpolated onto an isotropic grid: spacing {card.lowres_spacing:g} -> "
        f"{card.target_spacing:g} {unit} along {axis}, a factor of {card.factor:g}. It was trained by "
        f"isovox {card.isovox_version} with the `{card.method}` recipe (see Cite).",
        "",
        "## Before the network: interpolate",
        "",
        f"1. Your volume must have spacing {card.lowres_spacing:g} {unit} along its low-resolution axis. "
        f"Interpolate that axis to {card.target_spacing:g} {unit} with cubic convolution (Keys, a = -0.5), "
        f"so that acquired slice k lands on output index k x {card.factor:g} (the first slice stays "
        "in place; no half-voxel shift). The lateral axes stay as they are.",
        "2. Cut planes that contain the low-resolution axis (xz and yz planes when z is the "
        "low-resolution axis). Put the low-resolution axis on the rows (tensor axis `y`) and the "
        "lateral axis on the columns (tensor axis `x`). The input is `(batch, channel=1, y, x)`.",
        "3. Feed raw intensities as float32: the package normalises them itself "
        f"(`scale_linear`: (v - {low:g}) / ({high:g} - {low:g}), the range the model was trained on) "
        "and maps the output back with the inverse; the output is float32, not clipped.",
        f"4. Planes of any size from {min_side} x {min_side} pixels work ({padding}).",
        "5. Stack the predicted planes back into the volume. isovox predicts both axial plane "
        "families and averages the two volumes voxel by voxel, which removes the stripes a single "
        "orientation leaves across its planes.",
        "",
        "`isovox reconstruct VOLUME -o OUTPUT --model MODEL_DIR` does all of the above in one command.",
        "",
        "## Validation",
        "",
        f"The test tensors are a {side} x {side} interpolated plane and isovox's own prediction of it "
        "(its slice-wise reconstruction code path); `bioimageio test` reproduces them from the "
        "TorchScript weights. Numbers the model card recorded:",
        "",
        *_recorded_checks(card),
        "",
        "To validate on your data, withhold acquired sections, reconstruct without them and compare "
        "the predicted sections with the withheld ones (`isovox run --check` does this and records it "
        "on the card), or compare with an isotropic reference (`isovox evaluate`).",
        "",
        "## Cite",
        "",
        f"{citation['text']} " + (f"https://doi.org/{citation['doi']}" if "doi" in citation else citation.get("url", "")),
        "",
    ])


def _recorded_checks(card: ModelCard) -> list[str]:
    """One bullet per validation number found on the card (training PSNR, withheld sections)."""
    training = card.training
    lines = []
    for key, what in (("best_validation_psnr", "validation PSNR of the network (dB, normalised intensities)"),
                      ("input_validation_psnr", "validation PSNR of its cubic-interpolated input (dB)")):
        if isinstance(training.get(key), (int, float)):
            lines.append(f"- {what}: {training[key]:.2f}")
    if isinstance(training.get("withheld_check"), dict):
        lines.append(f"- withheld-section check: `{strict_json(training['withheld_check'], indent=None)}`")
    return lines or ["- none (the card holds no validation numbers)"]
