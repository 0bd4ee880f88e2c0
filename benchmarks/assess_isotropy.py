"""Resolution per axis and isotropy without a reference (issue 17): does `isovox assess` see it?

FlyEM FIB-SEM (250^3, 10 nm) made anisotropic x4 and x8 with ``simulate`` (Gaussian profile,
FWHM = section spacing): the ground truth, the acquired input, its cubic interpolation and the
isovox output of the default self-supervised model (trained on the low-res volume alone for
ITERATIONS iterations, seed 0) are each assessed from the volume alone. With the model's
acquisition, the isovox output's consistency with the acquired sections is reported too. The
real CREMI and ISBI stacks (no ground truth; central 320 x 320 windows, as the demo takes them)
are assessed as acquired, cubic-interpolated and reconstructed by a model trained on each.

    .venv/bin/python benchmarks/assess_isotropy.py [--iterations 300] [--models DIR]

Model folders are kept in DIR (default: the system's temp folder) and reused when present; the
x4 one is the same run as benchmarks/uncertainty.py's.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import isovox
from harness import FLYEM, ISBI_SSTEM, markdown_table, result_path, save_result, write_text
from isovox.assess import assess, card_acquisition
from isovox.store import read_card

REAL_WINDOW = 320


def row(name: str, volume, **options) -> dict:
    report = assess(volume, **options)
    return {"volume": name, "resolution": [a.resolution for a in report.axes],
            "limited_by": [a.limited_by for a in report.axes], "unit": report.unit,
            "isotropy": report.isotropy.score,
            "consistency": None if report.consistency is None else report.consistency.psnr}


def model_for(lowres, folder: Path, iterations: int) -> Path:
    if not (folder / "config.json").is_file():
        isovox.train(lowres, folder, iterations=iterations, seed=0, device="cpu")
    return folder


def reconstruction_rows(tag: str, lowres, folder: Path, iterations: int) -> list[dict]:
    """Input, cubic and isovox rows of one stack; both outputs checked against the acquisition
    the model card records (estimated from the stack, or trained for)."""
    folder = model_for(lowres, folder, iterations)
    card = read_card(folder)
    acquisition = card_acquisition(card.degradation, card.unit, lowres.unit)
    cubic = isovox.reconstruct(lowres, "cubic")
    output = isovox.reconstruct(lowres, model=folder)
    return [row(f"{tag} input", lowres),
            row(f"{tag} cubic", cubic, acquired=lowres, acquisition=acquisition),
            row(f"{tag} isovox (drcnet, {iterations} it.)", output, acquired=lowres, acquisition=acquisition)]


def flyem_rows(factor: float, models: Path, iterations: int) -> list[dict]:
    sim = isovox.simulate(isovox.read(FLYEM), factor, axis=0, recipe="gaussian")
    name = "isovox-uncertainty-model" if factor == 4 else f"isovox-assess-x{factor:g}-model"
    tag = f"FlyEM x{factor:g}"
    return [row(f"{tag} ground truth", sim.ground_truth),
            *reconstruction_rows(tag, sim.lowres, models / name, iterations)]


def real_rows(models: Path, iterations: int) -> list[dict]:
    """CREMI and ISBI, central 320 x 320 windows (every section), as the demo takes them; the
    defective sections are bridged by every reconstruction (isovox.gaps) but assessed as acquired."""
    from isovox.training.withheld import central_window

    stacks = {"CREMI": isovox.read(isovox.fetch_sample(), spacing=(40, 4, 4), unit="nm"),
              "ISBI": isovox.read(ISBI_SSTEM)}
    rows = []
    for name, volume in stacks.items():
        window = central_window(volume, REAL_WINDOW)
        rows += reconstruction_rows(f"{name} ({REAL_WINDOW}^2 window)", window,
                                    models / f"isovox-assess-{name.lower()}-model", iterations)
    return rows


def table(rows: list[dict]) -> str:
    def length(value):
        return "none" if value is None else f"{value:.1f}"

    body = [[r["volume"], " / ".join(length(v) + ("*" if lim == "sampling" else "")
                                     for v, lim in zip(r["resolution"], r["limited_by"])) + f" {r['unit']}",
             "undefined" if r["isotropy"] is None else f"{r['isotropy']:.2f}",
             "" if r["consistency"] is None else f"{r['consistency']:.2f} dB"] for r in rows]
    return markdown_table(["volume", "z / y / x resolution", "isotropy", "consistency with the acquisition"], body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--models", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    rows = flyem_rows(4.0, args.models, args.iterations) + flyem_rows(8.0, args.models, args.iterations)
    rows += real_rows(args.models, args.iterations)
    save_result("assess_isotropy", {"iterations": args.iterations, "rows": rows}, echo=False)
    text = table(rows) + "\n\n\\* = limited by sampling (2 x spacing).\n"
    write_text(result_path("assess_isotropy", ".md"), text)
    print(text)


if __name__ == "__main__":
    main()
