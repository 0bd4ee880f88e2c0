"""Resolution per axis and isotropy without a reference (issue 17): does `isovox assess` see it?

FlyEM FIB-SEM (250^3, 10 nm) made anisotropic x4 and x8 with ``simulate`` (Gaussian profile,
FWHM = section spacing): the ground truth, the acquired input, its cubic interpolation and the
isovox output of the default self-supervised model (trained on the low-res volume alone for
ITERATIONS iterations, seed 0) are each assessed from the volume alone. With the model's
acquisition, the isovox output's consistency with the acquired sections is reported too. The
real CREMI and ISBI stacks (no ground truth) are assessed as acquired and cubic-interpolated.

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


def flyem_rows(factor: float, models: Path, iterations: int) -> list[dict]:
    sim = isovox.simulate(isovox.read(FLYEM), factor, axis=0, recipe="gaussian")
    name = "isovox-uncertainty-model" if factor == 4 else f"isovox-assess-x{factor:g}-model"
    folder = model_for(sim.lowres, models / name, iterations)
    card = read_card(folder)
    acquisition = card_acquisition(card.degradation, card.unit, sim.lowres.unit)
    output = isovox.reconstruct(sim.lowres, model=folder)
    tag = f"FlyEM x{factor:g}"
    return [row(f"{tag} ground truth", sim.ground_truth), row(f"{tag} input", sim.lowres),
            row(f"{tag} cubic", isovox.reconstruct(sim.lowres, "cubic"), acquired=sim.lowres,
                acquisition=acquisition),
            row(f"{tag} isovox (drcnet, {iterations} it.)", output, acquired=sim.lowres, acquisition=acquisition)]


def real_rows() -> list[dict]:
    rows = []
    cremi = isovox.fetch_sample()
    for name, volume in (("CREMI", isovox.read(cremi, spacing=(40, 4, 4), unit="nm")), ("ISBI", isovox.read(ISBI_SSTEM))):
        rows += [row(f"{name} input", volume), row(f"{name} cubic", isovox.reconstruct(volume, "cubic"))]
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
    rows += real_rows()
    save_result("assess_isotropy", {"iterations": args.iterations, "rows": rows}, echo=False)
    text = table(rows) + "\n\n\\* = limited by sampling (2 x spacing).\n"
    write_text(result_path("assess_isotropy", ".md"), text)
    print(text)


if __name__ == "__main__":
    main()
