"""Hostile-input cases about what a command writes: outputs that would replace an input
('replace-input'), a full disk ('disk-full'), a command signalled midway ('interrupted'), and output
paths it cannot or must not write ('outputs').

Part of the sweep run by ``hostile_inputs.py``; a case is a :func:`hostile_common.case`.
"""

from __future__ import annotations

import signal

from hostile_common import (BLOCK_WORK, EITHER, NONZERO, OK, SIMULATE_OUTPUTS, TINY_TRAIN, TRAIN_WORK, Case, Interrupt,
                            case, group, mkdir, readable, run_cli, symlink, tmpfs, write_text)


def replace_input_cases() -> list[Case]:
    """Class 'replace-input': an output path that is (or holds, or lies under) an input or a model."""
    W = "--overwrite"
    return group("replace-input", [
        case("reconstruct-o-input", f"reconstruct lr.tif -o lr.tif {W}", "lr.tif"),
        case("reconstruct-o-input-alias", f"reconstruct lr.tif -o sub/../lr.tif {W}", "lr.tif", mkdir("sub")),
        case("reconstruct-o-symlink-to-input", f"reconstruct lr.tif -o link.tif {W}", "lr.tif",
             symlink("link.tif", "lr.tif"), expect=EITHER, out=("link.tif",)),
        case("reconstruct-o-input-zarr", f"reconstruct lr.zarr -o lr.zarr {W}", "lr.zarr"),
        case("reconstruct-o-input-zarr-blockwise", f"reconstruct lr.zarr -o lr.zarr {W} --block-size 32 --workers 1",
             "lr.zarr", blockwise=True),
        case("reconstruct-o-same-h5-file", f"reconstruct lr.h5:/raw -o lr.h5:/iso {W}", "lr.h5",
             note="an atomic write replaces the whole HDF5 file that holds the input"),
        case("reconstruct-o-model-weights", f"reconstruct lr.tif -o model/weights.pt {W} --model model",
             "lr.tif", "model"),
        case("simulate-o-input", f"simulate iso.tif -o iso.tif --factor 4 {W}", "iso.tif"),
        case("simulate-gt-input", f"simulate iso.tif -o lr.tif --gt iso.tif --factor 4 {W}", "iso.tif"),
        case("simulate-gt-equals-o", "simulate iso.tif -o lr.tif --gt lr.tif --factor 4", "iso.tif"),
        case("simulate-gt-equals-o-overwrite", f"simulate iso.tif -o lr.tif --gt lr.tif --factor 4 {W}", "iso.tif"),
        case("simulate-default-gt-is-input", f"simulate a_gt.tif -o a.tif --factor 4 {W}", "a_gt.tif",
             note="a.tif's default ground truth is a_gt.tif, the input"),
        case("train-o-input", f"train lr.tif -o lr.tif {W} {TINY_TRAIN}", "lr.tif"),
        case("train-o-folder-of-input", f"train d/lr.tif -o d {W} {TINY_TRAIN}", "lr.tif->d/lr.tif"),
        case("train-o-cwd", f"train lr.tif -o . {W} {TINY_TRAIN}", "lr.tif"),
        case("train-o-parent-of-input", f"train a/b/lr.tif -o a {W} {TINY_TRAIN}", "lr.tif->a/b/lr.tif"),
        case("train-o-hr-reference", f"train --method supervised3d --hr iso.tif -o iso.tif --factor 4 {W} "
             "--iterations 2 --patch-size 16", "iso.tif"),
        case("run-model-dir-input", f"run lr72.tif -o out.tif --model-dir lr72.tif {W} --iterations 2", "lr72.tif"),
        case("run-model-dir-folder-of-input", f"run d/lr72.tif -o out.tif --model-dir d {W} --iterations 2",
             "lr72.tif->d/lr72.tif"),
        case("run-o-input", f"run lr72.tif -o lr72.tif {W} --iterations 2", "lr72.tif"),
        case("run-model-dir-equals-o", "run lr72.tif -o out.tif --model-dir out.tif --iterations 2", "lr72.tif"),
        case("evaluate-o-test", f"evaluate ref.tif test.tif -o test.tif {W}", "ref.tif", "test.tif"),
        case("evaluate-o-reference", f"evaluate ref.tif test.tif -o ref.tif {W}", "ref.tif", "test.tif"),
        case("evaluate-o-mask", f"evaluate ref.tif test.tif --mask mask.tif -o mask.tif {W}",
             "ref.tif", "test.tif", "mask.tif"),
        case("degrade-o-input", f"degrade iso.tif -o iso.tif --model dlmodel {W}", "iso.tif", "dlmodel"),
        case("degrade-o-model-folder", f"degrade iso.tif -o dlmodel {W} --model dlmodel", "iso.tif", "dlmodel"),
        case("demo-o-folder-of-input", f"demo d/lr72.tif -o d {W} --iterations 2 --crop 72", "lr72.tif->d/lr72.tif",
             expect=EITHER, out=("d/lr72_*", "d/model", "d/report.json"),
             note="demo writes new files into the folder; the input must survive"),
        case("reconstruct-o-existing-no-overwrite", "reconstruct lr.tif -o out.tif", "lr.tif", "test.tif->out.tif"),
        case("reconstruct-o-existing-overwrite", f"reconstruct lr.tif -o out.tif {W}", "lr.tif", "test.tif->out.tif",
             expect=OK, out=("out.tif",)),
        case("train-o-existing-model-no-overwrite", f"train lr.tif -o model {TINY_TRAIN}", "lr.tif", "model"),
    ])


def disk_full_cases() -> list[Case]:
    """Class 'disk-full': each command writing onto a nearly full tmpfs (needs root to mount it)."""
    def full(name, argv, *setup, free=0, size="256k", **kw):
        return case(f"disk-full-{name}", argv, *setup, tmpfs("full", size, free), expect=NONZERO, **kw)

    return group("disk-full", [
        full("reconstruct-tif", "reconstruct lr.tif -o full/out.tif", "lr.tif", free=64 << 10),
        full("reconstruct-nii-gz", "reconstruct lr.tif -o full/out.nii.gz", "lr.tif", free=16 << 10),
        full("reconstruct-h5", "reconstruct lr.tif -o full/out.h5", "lr.tif", free=64 << 10),
        full("reconstruct-mrc", "reconstruct lr.tif -o full/out.mrc", "lr.tif", free=64 << 10),
        full("reconstruct-zarr", "reconstruct lr.tif -o full/out.zarr", "lr.tif", free=16 << 10),
        full("reconstruct-blockwise", "reconstruct lr.tif -o full/out.zarr --block-size 32 --workers 1", "lr.tif",
             free=16 << 10, blockwise=True),
        full("simulate-second-file", "simulate iso.tif -o full/lr.tif --factor 4", "iso.tif", free=60 << 10,
             note="lr.tif fits, lr_gt.tif does not: neither may remain"),
        full("train", f"train lr.tif -o full/m {TINY_TRAIN}", "lr.tif", free=64 << 10),
        full("evaluate-json", "evaluate ref.tif test.tif -o full/r.json", "ref.tif", "test.tif", free=0),
        full("degrade", "degrade iso.tif -o full/d.tif --model dlmodel", "iso.tif", "dlmodel", free=0),
        full("run", "run lr72.tif -o full/out.tif --iterations 2", "lr72.tif", free=64 << 10),
        full("demo", "demo lr72.tif -o full/d --iterations 2 --crop 72", "lr72.tif", free=64 << 10),
    ])


def interrupted_cases() -> list[Case]:
    """Class 'interrupted': SIGTERM / SIGINT / SIGKILL mid-write or mid-training, then a rerun."""
    big = "reconstruct big.tif -o out.nii.gz"
    zarr = "reconstruct big.tif -o out.zarr"
    blocks = "reconstruct big.tif -o out.zarr --block-size 32 --workers 1"
    train = "train lr.tif -o m --minutes 0.25 --patch-size 24 --recipe gaussian"

    def cut(name, argv, sig, *setup, out, trigger="*.isovox-tmp-*", delay=0.0, group_=False, rerun=True, **kw):
        return case(f"interrupt-{name}", argv, *setup, expect=OK, out=out,
                    interrupt=Interrupt(sig, trigger, delay, group_, rerun), timeout=180, **kw)

    return group("interrupted", [
        cut("sigterm-reconstruct-write", big, signal.SIGTERM, "big.tif", out=("out.nii.gz",)),
        cut("sigint-reconstruct-write", big, signal.SIGINT, "big.tif", out=("out.nii.gz",)),
        cut("sigkill-reconstruct-write", big, signal.SIGKILL, "big.tif", out=("out.nii.gz",), group_=True),
        cut("sigterm-reconstruct-zarr-write", zarr, signal.SIGTERM, "big.tif", out=("out.zarr",)),
        cut("sigkill-reconstruct-zarr-write", zarr, signal.SIGKILL, "big.tif", out=("out.zarr",), group_=True),
        cut("sigkill-overwrite-keeps-old-output", f"{big} --overwrite", signal.SIGKILL, "big.tif",
            "lr.tif->sub/lr.tif", run_cli("reconstruct sub/lr.tif -o out.nii.gz"), out=("out.nii.gz",),
            group_=True, rerun=False, check=readable("out.nii.gz"),
            note="killed mid-replacement: out.nii.gz must still be a whole volume"),
        cut("sigterm-simulate-write", "simulate big_iso.tif -o lr.tif --factor 4", signal.SIGTERM,
            "big.tif->big_iso.tif", out=SIMULATE_OUTPUTS,
            note="big_iso.tif read with its 40 x 4 x 4 nm spacing"),
        cut("sigterm-blockwise", blocks, signal.SIGTERM, "big.tif", out=("out.zarr",), trigger=BLOCK_WORK,
            delay=0.5, blockwise=True),
        cut("sigkill-blockwise", blocks, signal.SIGKILL, "big.tif", out=("out.zarr",), trigger=BLOCK_WORK,
            delay=0.5, group_=True, blockwise=True),
        cut("sigterm-train", train, signal.SIGTERM, "lr.tif", out=("m",), trigger=TRAIN_WORK, delay=3.0),
        cut("sigint-train", train, signal.SIGINT, "lr.tif", out=("m",), trigger=TRAIN_WORK, delay=3.0),
        cut("sigkill-train", train, signal.SIGKILL, "lr.tif", out=("m",), trigger=TRAIN_WORK, delay=3.0,
            group_=True),
    ])


def outputs_cases() -> list[Case]:
    """Class 'outputs': output paths in missing folders, of unknown types, or already taken."""
    R = "reconstruct lr.tif -o"
    return group("outputs", [
        case("reconstruct-o-missing-folder", f"{R} nowhere/out.tif", "lr.tif"),
        case("reconstruct-o-unknown-suffix", f"{R} out.xyz", "lr.tif"),
        case("reconstruct-o-no-suffix", f"{R} out", "lr.tif"),
        case("reconstruct-o-existing-folder", f"{R} folder.tif --overwrite", "lr.tif", mkdir("folder.tif"),
             "test.tif->folder.tif/precious.tif", expect=EITHER, out=("folder.tif",),
             note="replacing a folder with a file: refusing is kinder"),
        case("reconstruct-o-under-a-file", f"{R} lr.tif/out.tif", "lr.tif"),
        case("simulate-gt-missing-folder", "simulate iso.tif -o lr.tif --gt nowhere/gt.tif --factor 4", "iso.tif"),
        case("simulate-gt-unknown-suffix", "simulate iso.tif -o lr.tif --gt gt.xyz --factor 4", "iso.tif"),
        case("simulate-record-exists", "simulate iso.tif -o lr.tif --factor 4", "iso.tif",
             write_text("lr_degradation.json", "{}"), note="the third output exists: refuse before writing any"),
        case("train-o-missing-folder", f"train lr.tif -o nowhere/m {TINY_TRAIN}", "lr.tif"),
        case("train-o-existing-file", f"train lr.tif -o m.tif {TINY_TRAIN}", "lr.tif", "test.tif->m.tif"),
        case("evaluate-o-missing-folder", "evaluate ref.tif test.tif -o nowhere/r.json", "ref.tif", "test.tif"),
        case("evaluate-o-exists", "evaluate ref.tif test.tif -o r.json", "ref.tif", "test.tif",
             write_text("r.json", "{}")),
        case("run-o-model-dir-exists", "run lr72.tif -o out.tif --iterations 2", "lr72.tif", "model->out_model"),
        case("degrade-o-unknown-suffix", "degrade iso.tif -o d.xyz --model dlmodel", "iso.tif", "dlmodel"),
        case("demo-o-is-a-file", "demo lr72.tif -o d.tif --iterations 2 --crop 72", "lr72.tif", "test.tif->d.tif"),
    ])
