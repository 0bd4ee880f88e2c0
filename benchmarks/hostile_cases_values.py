"""Hostile-input cases, class 'values': every numeric or named option given a value it must refuse
(zero, negative, NaN, infinite, absurd, unknown) or may accept, command by command.

Part of the sweep run by ``hostile_inputs.py``; a case is a :func:`hostile_common.case`.
"""

from __future__ import annotations

from hostile_common import EITHER, ERR, OK, SIMULATE_OUTPUTS, TINY_TRAIN, Case, case, group

SIMULATE = "simulate iso.tif -o lr.tif --factor 4"
RECONSTRUCT = "reconstruct lr.tif -o out.tif"
RECONSTRUCT_ZARR = "reconstruct lr.tif -o out.zarr"
RECONSTRUCT_MODEL = f"{RECONSTRUCT} --model model"
TRAIN = "train lr.tif -o m"
DEGRADE = "degrade iso.tif -o d.tif --model dlmodel"


def values_cases() -> list[Case]:
    """Class 'values': simulate, reconstruct, blockwise reconstruct, train, then the other commands."""
    return group("values", [*_simulate_values(), *_reconstruct_values(), *_blockwise_values(), *_train_values(),
                            *_other_command_values()])


def _simulate(name, extra, expect=ERR, **kw):
    """``simulate`` with EXTRA options (a ``--factor`` there replaces the default 4)."""
    return case(f"simulate-{name}", f"{SIMULATE} {extra}".replace("--factor 4 --factor", "--factor"), "iso.tif",
                expect=expect, out=SIMULATE_OUTPUTS, **kw)


def _simulate_values() -> list[Case]:
    return [
        _simulate("thickness-1e9", "--thickness 1e9", EITHER),
        _simulate("thickness-0", "--thickness 0", EITHER),
        _simulate("thickness-negative", "--thickness -4"),
        _simulate("thickness-nan", "--thickness nan"),
        _simulate("factor-0", "--factor 0"),
        _simulate("factor-negative", "--factor -4"),
        _simulate("factor-nan", "--factor nan"),
        _simulate("factor-inf", "--factor inf"),
        _simulate("factor-below-1", "--factor 0.5"),
        _simulate("factor-1", "--factor 1", EITHER),
        _simulate("factor-1e6", "--factor 1e6"),
        _simulate("factor-48", "--factor 48", EITHER, note="one slice left"),
        _simulate("axis-w", "--axis w"),
        _simulate("recipe-banana", "--recipe banana"),
        _simulate("offset-negative", "--offset -1"),
        _simulate("offset-past-end", "--offset 1000"),
        _simulate("noise-negative", "--noise -1"),
        _simulate("noise-nan", "--noise nan"),
        _simulate("seed-negative", "--seed -1", EITHER),
        _simulate("spacing-zero", "--spacing 0 4 4"),
        _simulate("spacing-negative", "--spacing 4 -4 4"),
        _simulate("spacing-nan", "--spacing nan 4 4"),
        _simulate("spacing-inf", "--spacing inf 4 4"),
        _simulate("channel-on-3d", "--channel 3"),
    ]


def _reconstruct(name, extra, expect=ERR, model=False, **kw):
    """``reconstruct`` with EXTRA options, by interpolation or (``model``) with a trained model."""
    setup = ("lr.tif", "model") if model else ("lr.tif",)
    return case(f"reconstruct-{name}", f"{RECONSTRUCT_MODEL if model else RECONSTRUCT} {extra}", *setup,
                expect=expect, out=("out.tif",), **kw)


def _reconstruct_values() -> list[Case]:
    return [
        _reconstruct("target-spacing-zero", "--target-spacing 0"),
        _reconstruct("target-spacing-negative", "--target-spacing -4"),
        _reconstruct("target-spacing-nan", "--target-spacing nan"),
        _reconstruct("target-spacing-inf", "--target-spacing inf"),
        _reconstruct("target-spacing-absurdly-fine", "--target-spacing 1e-6"),
        _reconstruct("target-spacing-coarser-than-input", "--target-spacing 1000", EITHER),
        _reconstruct("target-spacing-2-values", "--target-spacing 4 --target-spacing 4"),
        _reconstruct("target-spacing-identity", "--target-spacing 40 --target-spacing 4 --target-spacing 4", EITHER),
        _reconstruct("dtype-banana", "--dtype banana"),
        _reconstruct("dtype-complex", "--dtype complex64"),
        _reconstruct("dtype-object", "--dtype object"),
        _reconstruct("dtype-float32", "--dtype float32", OK),
        _reconstruct("method-banana", "--method banana"),
        _reconstruct("axis-q", "--axis q"),
        _reconstruct("axis-not-coarse", "--axis x", EITHER),
        _reconstruct("spacing-zero", "--spacing 0 4 4"),
        _reconstruct("spacing-nan", "--spacing nan 4 4"),
        _reconstruct("spacing-inf", "--spacing 40 inf 4"),
        _reconstruct("unit-banana", "--spacing 40 4 4 --unit banana"),
        _reconstruct("device-cuda", "--device cuda", model=True, note="no CUDA on this machine"),
        _reconstruct("device-cuda-99", "--device cuda:99", model=True),
        _reconstruct("device-banana", "--device banana", model=True),
        _reconstruct("device-cuda-no-model", "--device cuda", EITHER, note="--device applies with --model only"),
        _reconstruct("batch-size-0", "--batch-size 0", model=True),
        _reconstruct("batch-size-negative", "--batch-size -1", model=True),
        _reconstruct("tile-3", "--tile 3", EITHER, model=True),
        _reconstruct("tile-0", "--tile 0", model=True),
        _reconstruct("tile-negative", "--tile -8", model=True),
    ]


def _blockwise(name, extra, expect=ERR, **kw):
    """A blockwise ``reconstruct`` (into Zarr) with EXTRA options."""
    return case(f"blockwise-{name}", f"{RECONSTRUCT_ZARR} {extra}", "lr.tif", expect=expect, out=("out.zarr",),
                blockwise=True, **kw)


def _blockwise_values() -> list[Case]:
    return [
        _blockwise("block-size-1", "--block-size 1 --workers 1", timeout=120),
        _blockwise("block-size-0", "--block-size 0"),
        _blockwise("block-size-negative", "--block-size -5"),
        _blockwise("block-size-2-values", "--block-size 16 --block-size 16"),
        _blockwise("workers-0", "--workers 0"),
        _blockwise("workers-negative", "--workers -1"),
        _blockwise("scheduler-unreachable", "--scheduler tcp://127.0.0.1:1", timeout=60,
                   note="nothing listens on port 1: must fail fast"),
        _blockwise("scheduler-banana", "--scheduler banana", timeout=60),
        case("blockwise-tif-output", "reconstruct lr.tif -o out.tif --block-size 32 --workers 1", "lr.tif",
             expect=EITHER, out=("out.tif",), blockwise=True, note="blockwise writes Zarr"),
    ]


def _train(name, extra, expect=ERR, base=TINY_TRAIN, **kw):
    """``train`` with the BASE options (two tiny iterations) and EXTRA ones."""
    return case(f"train-{name}", f"{TRAIN} {base} {extra}", "lr.tif", expect=expect, out=("m",), **kw)


def _train_values() -> list[Case]:
    return [
        _train("target-spacing-0", "--target-spacing 0"),
        _train("target-spacing-negative", "--target-spacing -4"),
        _train("target-spacing-nan", "--target-spacing nan"),
        _train("patch-size-0", "--patch-size 0", base="--iterations 2 --recipe gaussian"),
        _train("patch-size-negative", "--patch-size -24", base="--iterations 2 --recipe gaussian"),
        _train("patch-size-1", "--patch-size 1", base="--iterations 2 --recipe gaussian"),
        _train("batch-size-0", "--batch-size 0"),
        _train("batch-size-negative", "--batch-size -1"),
        _train("iterations-0", "--iterations 0", base="--patch-size 24 --recipe gaussian"),
        _train("iterations-negative", "--iterations -1", base="--patch-size 24 --recipe gaussian"),
        _train("minutes-negative", "--minutes -1", base="--patch-size 24 --recipe gaussian"),
        _train("minutes-0", "--minutes 0", base="--patch-size 24 --recipe gaussian"),
        _train("minutes-nan", "--minutes nan", base="--patch-size 24 --recipe gaussian"),
        _train("minutes-inf-iterations-2", "--minutes inf", EITHER),
        _train("fwhm-0", "--fwhm 0"),
        _train("fwhm-negative", "--fwhm -40"),
        _train("noise-negative", "--noise -0.1"),
        _train("set-lr-notjson", "--set lr=notjson"),
        _train("set-no-equals", "--set lr"),
        _train("set-empty-key", "--set =1"),
        _train("set-unknown-key", "--set banana=1"),
        _train("set-lr-negative", "--set lr=-1"),
        _train("method-banana", "--method banana"),
        _train("arch-banana", "--arch banana"),
        _train("preset-banana", "--preset banana"),
        _train("recipe-banana", "--recipe banana"),
        _train("device-cuda", "--device cuda", note="no CUDA on this machine"),
        _train("device-banana", "--device banana"),
        _train("seed-negative", "--seed -1", EITHER),
        _train("channel-on-3d", "--channel 2"),
        _train("spacing-zero", "--spacing 0 4 4"),
        case("train-hr-with-selfsup", f"{TRAIN} --hr iso.tif {TINY_TRAIN}", "lr.tif", "iso.tif"),
        case("train-two-inputs-selfsup", f"train lr.tif lr6.tif -o m {TINY_TRAIN}", "lr.tif", "lr6.tif"),
    ]


def _degrade(name, extra, expect=ERR, **kw):
    """``degrade`` with a degradation-learning model and EXTRA options."""
    return case(f"degrade-{name}", f"{DEGRADE} {extra}", "iso.tif", "dlmodel", expect=expect, out=("d.tif",), **kw)


def _other_command_values() -> list[Case]:
    """degrade, run, evaluate, demo and info."""
    return [
        _degrade("batch-size-0", "--batch-size 0"),
        _degrade("batch-size-negative", "--batch-size -1"),
        _degrade("axis-q", "--axis q"),
        _degrade("device-cuda", "--device cuda"),
        _degrade("device-banana", "--device banana"),
        _degrade("spacing-nan", "--spacing nan 4 4"),
        case("run-iterations-0", "run lr72.tif -o out.tif --iterations 0", "lr72.tif", out=("out.tif", "out_model")),
        case("run-iterations-negative", "run lr72.tif -o out.tif --iterations -1", "lr72.tif",
             out=("out.tif", "out_model")),
        case("run-minutes-negative", "run lr72.tif -o out.tif --minutes -1", "lr72.tif", out=("out.tif", "out_model")),
        case("run-method-banana", "run lr72.tif -o out.tif --method banana --iterations 2", "lr72.tif"),
        case("run-arch-banana", "run lr72.tif -o out.tif --arch banana --iterations 2", "lr72.tif"),
        case("run-device-cuda", "run lr72.tif -o out.tif --device cuda --iterations 2", "lr72.tif"),
        case("evaluate-border-negative", "evaluate ref.tif test.tif --border -1", "ref.tif", "test.tif"),
        case("evaluate-border-huge", "evaluate ref.tif test.tif --border 100", "ref.tif", "test.tif"),
        case("evaluate-planes-bogus", "evaluate ref.tif test.tif --planes xq", "ref.tif", "test.tif"),
        case("evaluate-planes-empty", "evaluate ref.tif test.tif --planes ,", "ref.tif", "test.tif"),
        case("demo-crop-0", "demo lr72.tif -o d --crop 0 --iterations 2", "lr72.tif", out=("d",)),
        case("demo-crop-negative", "demo lr72.tif -o d --crop -5 --iterations 2", "lr72.tif", out=("d",)),
        case("demo-iterations-0", "demo lr72.tif -o d --iterations 0", "lr72.tif", out=("d",)),
        case("info-spacing-zero", "info lr.tif --spacing 0 4 4", "lr.tif"),
        case("info-spacing-1e-300", "info lr.tif --spacing 1e-300 4 4", "lr.tif", expect=EITHER),
    ]
