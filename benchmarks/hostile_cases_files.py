"""Hostile-input cases about the files themselves: damaged or odd inputs ('bad-input'), float32
voxel sizes that must not lose a slice ('float32-spacing'), and valid edge inputs and options
that must work ('edge-ok').

Part of the sweep run by ``hostile_inputs.py``; a case is a :func:`hostile_common.case`, its
inputs are names in :data:`hostile_fixtures.FIXTURES`.
"""

from __future__ import annotations

from hostile_common import (EITHER, ERR, OK, SIMULATE_OUTPUTS, TINY_TRAIN, Case, Context, case, group, mkdir, run_cli,
                            same_shape, symlink, write_text)
from hostile_fixtures import volume_fixture


# --- bad-input: damaged, odd or unreadable files, given to every command --------------------------

def bad_input_cases() -> list[Case]:
    """Class 'bad-input': ``info``, then ``reconstruct``, then the other commands on bad files."""
    return group("bad-input", [*_info_on_bad_files(), *_reconstruct_bad_files(), *_other_commands_on_bad_files()])


def _info(name, *setup, expect=ERR, extra="", **kw):
    """``isovox info NAME``, the case named after the file."""
    return case(f"info-{name.replace('.', '-')}", f"info {name} {extra}".strip(), *setup, expect=expect, **kw)


def _info_on_bad_files() -> list[Case]:
    return [
        _info("missing.tif"),
        _info("folder.tif", mkdir("folder.tif")),
        _info("data.xyz", write_text("data.xyz", "hello")),
        _info("noext", write_text("noext", "hello")),
        _info("truncated.tif", "truncated.tif"),
        _info("random.tif", "random.tif"),
        _info("empty.tif", "empty.tif"),
        _info("text.tif", "text.tif"),
        _info("random.nii", "random.nii"),
        _info("random.nii.gz", "random.nii.gz"),
        _info("random.h5", "random.h5"),
        _info("random.mrc", "random.mrc"),
        _info("huge.nii", "huge.nii"),
        _info("huge.nii.gz", "huge.nii.gz"),
        _info("zero_thickness.nii", "zero_thickness.nii"),
        case("info-zero-thickness-with-spacing", "info zero_thickness.nii --spacing 40 4 4 --unit nm",
             "zero_thickness.nii", expect=OK),
        case("info-complex-nii", "info complex.nii", "complex.nii", expect=OK,
             note="info describes complex data as such (nothing is cast); processing refuses it"),
        _info("complex.tif", "complex.tif"),
        _info("2d.tif", "2d.tif"),
        _info("4d.tif", "4d.tif", note="ImageJ ZCYX: needs --channel"),
        case("info-4d-channel-1", "info 4d.tif --channel 1", "4d.tif", expect=OK),
        case("info-4d-channel-5", "info 4d.tif --channel 5", "4d.tif"),
        case("info-4d-channel-negative", "info 4d.tif --channel -1", "4d.tif"),
        case("info-3d-with-channel", "info lr.tif --channel 0", "lr.tif", expect=EITHER),
        _info("4d_plain.tif", "4d_plain.tif"),
        _info("nospacing.tif", "nospacing.tif", note="no spacing metadata: must ask for --spacing"),
        case("info-nospacing-with-spacing", "info nospacing.tif --spacing 40 4 4", "nospacing.tif", expect=OK),
        _info("nospacing.h5", "nospacing.h5"),
        _info("multi.h5", "multi.h5", note="two datasets: must ask which"),
        case("info-h5-missing-dataset", "info lr.h5:/nothing", "lr.h5"),
        case("info-h5-dataset", "info lr.h5:/raw", "lr.h5", expect=OK),
        _info("empty.zarr", mkdir("empty.zarr")),
        _info("file.zarr", write_text("file.zarr", "not a folder")),
        _info("missing_chunk.zarr", "missing_chunk.zarr", expect=EITHER,
              note="Zarr reads a missing chunk as the fill value"),
        case("info-symlink-loop", "info loop.tif", symlink("loop.tif", "loop.tif")),
        case("info-dangling-symlink", "info gone.tif", symlink("gone.tif", "nowhere.tif")),
        _info("nan.tif", "nan.tif", expect=EITHER),
        _info("const.tif", "const.tif", expect=OK),
        _info("tiny.tif", "tiny.tif", expect=EITHER),
    ]


def _reconstruct(name, fixture, expect=ERR, extra="", out="out.tif", **kw):
    """``isovox reconstruct FIXTURE -o OUT``, the fixture put into the case folder first."""
    return case(f"reconstruct-{name}", f"reconstruct {fixture} -o {out} {extra}".strip(), fixture.split(':')[0],
                expect=expect, out=(out,), **kw)


def _reconstruct_bad_files() -> list[Case]:
    return [
        _reconstruct("truncated-tif", "truncated.tif"),
        _reconstruct("random-bytes", "random.tif"),
        _reconstruct("huge-header-nifti", "huge.nii", out="out.nii"),
        _reconstruct("huge-header-nifti-gz", "huge.nii.gz", out="out.nii.gz"),
        _reconstruct("zero-thickness-nifti", "zero_thickness.nii", out="out.nii"),
        _reconstruct("complex-tif", "complex.tif"),
        _reconstruct("complex-nifti", "complex.nii", out="out.nii"),
        _reconstruct("2d", "2d.tif"),
        _reconstruct("4d-no-channel", "4d.tif"),
        _reconstruct("missing-chunk-zarr", "missing_chunk.zarr", expect=EITHER, out="out.zarr"),
        _reconstruct("missing-chunk-zarr-blockwise", "missing_chunk.zarr", expect=EITHER, out="out.zarr",
                     extra="--block-size 64 --workers 1", blockwise=True),
        _reconstruct("constant", "const.tif", expect=OK),
        case("reconstruct-all-zero-model", "reconstruct zeros.tif -o out.tif --model model", "zeros.tif", "model",
             expect=EITHER, out=("out.tif",)),
        _reconstruct("nan", "nan.tif", expect=EITHER),
        _reconstruct("some-nan", "somenan.tif", expect=EITHER),
        _reconstruct("inf", "inf.tif", expect=EITHER),
        _reconstruct("float64", "float64.tif", expect=OK),
        _reconstruct("int16", "int16.tif", expect=OK),
        _reconstruct("one-slice", "one_slice.tif", expect=EITHER),
        _reconstruct("two-slices", "two_slices.tif", expect=EITHER),
        _reconstruct("2x2x2", "tiny.tif", expect=EITHER),
        _reconstruct("isotropic-input", "iso.tif", expect=EITHER, note="no coarse axis"),
        case("reconstruct-nan-model", "reconstruct nan.tif -o out.tif --model model", "nan.tif", "model",
             expect=EITHER, out=("out.tif",)),
    ]


def _other_commands_on_bad_files() -> list[Case]:
    """evaluate, train, simulate, degrade and demo."""
    return [
        case("evaluate-shape-mismatch", "evaluate ref.tif lr.tif", "ref.tif", "lr.tif"),
        case("evaluate-mask-shape-mismatch", "evaluate ref.tif test.tif --mask badmask.tif",
             "ref.tif", "test.tif", "badmask.tif"),
        case("evaluate-nan", "evaluate nan.tif nan.tif", "nan.tif", expect=EITHER),
        case("evaluate-constant", "evaluate const.tif const.tif", "const.tif", expect=EITHER),
        case("evaluate-labels-float", "evaluate ref.tif test.tif --labels", "ref.tif", "test.tif", expect=EITHER),
        case("evaluate-random-bytes", "evaluate ref.tif random.tif", "ref.tif", "random.tif"),
        case("train-constant", f"train const.tif -o m {TINY_TRAIN}", "const.tif", expect=EITHER, out=("m",)),
        case("train-nan", f"train nan.tif -o m {TINY_TRAIN}", "nan.tif", expect=EITHER, out=("m",)),
        case("train-two-slices", f"train two_slices.tif -o m {TINY_TRAIN}", "two_slices.tif", expect=EITHER,
             out=("m",)),
        case("train-isotropic", f"train iso.tif -o m {TINY_TRAIN}", "iso.tif", expect=EITHER, out=("m",)),
        case("simulate-truncated", "simulate truncated.tif -o lr.tif --factor 4", "truncated.tif"),
        case("simulate-nan", "simulate nan.tif -o lr.tif --factor 4", "nan.tif", expect=EITHER,
             out=SIMULATE_OUTPUTS),
        case("degrade-random-bytes", "degrade random.tif -o d.tif --model dlmodel", "random.tif", "dlmodel"),
        case("demo-missing-input", "demo missing.tif -o d --iterations 2"),
        case("demo-random-bytes", "demo random.tif -o d --iterations 2", "random.tif"),
    ]


# --- float32-spacing: voxel sizes that float32 cannot hold exactly ---------------------------------

def float32_cases() -> list[Case]:
    """Class 'float32-spacing': a NIfTI simulated at an awkward spacing, reconstructed back."""
    return group("float32-spacing", [
        _float32_case("1.1mm-x3-target", 1.1, 3, 1.1),
        _float32_case("1.1mm-x3-default", 1.1, 3, None),
        _float32_case("0.1mm-x3-target", 0.1, 3, 0.1),
        _float32_case("0.7mm-x6.5-target", 0.7, 6.5, 0.7),
        _float32_case("0.3mm-x5-target", 0.3, 5, 0.3),
        _float32_case("1.1mm-x3-target-triple", 1.1, 3, "1.1 --target-spacing 1.1 --target-spacing 1.1"),
        _float32_case("0.9mm-x4-take", 0.9, 4, 0.9, "--recipe take"),
    ])


def _float32_case(name, spacing, factor, target, extra_sim=""):
    """Simulate an ``hr.nii.gz`` of SPACING mm down by FACTOR; the reconstruction must have as many
    slices as the simulated ground truth."""
    source = volume_fixture((60, 40, 40), (spacing,) * 3, unit="mm", seed=5)

    def make_source(ctx: Context) -> None:
        source(ctx.work / "hr.nii.gz", ctx.cache)

    argv = "reconstruct lr.nii.gz -o rec.nii.gz" + (f" --target-spacing {target}" if target else "")
    return case(f"float32-{name}", argv, make_source,
                run_cli(f"simulate hr.nii.gz -o lr.nii.gz --factor {factor} {extra_sim}"),
                expect=OK, out=("rec.nii.gz",), check=same_shape("rec.nii.gz", "lr_gt.nii.gz"),
                note=f"hr {spacing} mm, factor {factor}: slice count must equal lr_gt.nii.gz's")


# --- edge-ok: valid edge inputs and options, which must work --------------------------------------

def edge_ok_cases() -> list[Case]:
    """Class 'edge-ok': every format in and out, then reconstruct's, simulate's and evaluate's options."""
    return group("edge-ok", [*_formats_ok(), *_reconstruct_options_ok(), *_simulate_ok(), *_evaluate_ok()])


def _reconstruct_ok(name, argv, *setup, out, **kw):
    """A ``reconstruct`` case that must succeed and write ``out``."""
    return case(f"reconstruct-{name}", argv, *setup, expect=OK, out=out, **kw)


def _formats_ok() -> list[Case]:
    """reconstruct into and out of every format; info --json of each."""
    formats = [_reconstruct_ok(f"to-{suffix.strip('.').replace('.', '-').replace(':/', '-')}",
                               f"reconstruct lr.tif -o out{suffix}", "lr.tif", out=(f"out{suffix.split(':')[0]}",))
               for suffix in (".tif", ".ome.tif", ".nii", ".nii.gz", ".h5", ".h5:/iso", ".zarr", ".ome.zarr", ".mrc")]
    inputs = [_reconstruct_ok(f"from-{name.replace('.', '-').replace(':/', '-')}", f"reconstruct {name} -o out.tif",
                              name.split(':')[0], out=("out.tif",))
              for name in ("lr.nii.gz", "lr.nii", "lr.h5", "lr.h5:/raw", "lr.zarr", "lr.mrc")]
    infos = [case(f"info-{name.replace('.', '-')}", f"info {name} --json", name, expect=OK)
             for name in ("lr.tif", "lr.nii.gz", "lr.h5", "lr.zarr", "lr.mrc")]
    return [*formats, *inputs, *infos]


def _reconstruct_options_ok() -> list[Case]:
    return [
        *[_reconstruct_ok(f"method-{m}", f"reconstruct lr.tif -o out.tif --method {m}", "lr.tif", out=("out.tif",))
          for m in ("nearest", "linear", "lanczos3")],
        _reconstruct_ok("json", "reconstruct lr.tif -o out.tif --json", "lr.tif", out=("out.tif",)),
        _reconstruct_ok("unicode-and-spaces", ["reconstruct", "my lr ü.tif", "-o", "out ü é.tif"],
                        "lr.tif->my lr ü.tif", out=("out ü é.tif",)),
        _reconstruct_ok("blockwise", "reconstruct lr.tif -o out.zarr --block-size 32 --workers 1", "lr.tif",
                        out=("out.zarr",), blockwise=True),
        _reconstruct_ok("blockwise-zyx-blocks", "reconstruct lr.tif -o out.zarr --block-size 16 --block-size 32 "
                        "--block-size 32 --workers 1", "lr.tif", out=("out.zarr",), blockwise=True,
                        note="Z Y X by repeating --block-size, as the help says"),
        case("blockwise-zyx-blocks-one-flag", "reconstruct lr.tif -o out.zarr --block-size 16 32 32 --workers 1",
             "lr.tif", note="three values after one flag: a usage error naming the extra values"),
        _reconstruct_ok("target-spacing-zyx", "reconstruct lr.tif -o out.tif --target-spacing 4 --target-spacing 4 "
                        "--target-spacing 4", "lr.tif", out=("out.tif",),
                        note="Z Y X by repeating the option, as the help says"),
        case("target-spacing-zyx-one-flag", "reconstruct lr.tif -o out.tif --target-spacing 4 4 4", "lr.tif",
             note="three values after one flag: a usage error naming the extra values"),
        _reconstruct_ok("spacing-override", "reconstruct nospacing.tif -o out.tif --spacing 40 4 4", "nospacing.tif",
                        out=("out.tif",)),
    ]


def _simulate_ok() -> list[Case]:
    simulate = "simulate iso.tif -o lr.tif --factor"
    return [
        case("simulate-ok", f"{simulate} 4", "iso.tif", expect=OK, out=SIMULATE_OUTPUTS),
        case("simulate-factor-6.5", f"{simulate} 6.5", "iso.tif", expect=OK, out=SIMULATE_OUTPUTS),
        *[case(f"simulate-recipe-{r}", f"{simulate} 4 --recipe {r}", "iso.tif", expect=OK, out=SIMULATE_OUTPUTS)
          for r in ("take", "box", "cubic", "kspace")],
        case("simulate-noise-artifacts", f"{simulate} 4 --noise 0.1 --artifacts --seed 3", "iso.tif", expect=OK,
             out=SIMULATE_OUTPUTS),
        case("simulate-axis-x", f"{simulate} 4 --axis x", "iso.tif", expect=OK, out=SIMULATE_OUTPUTS),
        case("simulate-to-nii-gz", "simulate iso.tif -o lr.nii.gz --factor 4", "iso.tif", expect=OK,
             out=("lr.nii.gz", "lr_gt.nii.gz", "lr_degradation.json")),
    ]


def _evaluate_ok() -> list[Case]:
    return [
        case("evaluate-ok", "evaluate ref.tif test.tif", "ref.tif", "test.tif", expect=OK),
        case("evaluate-same-file", "evaluate ref.tif ref.tif", "ref.tif", expect=OK),
        case("evaluate-json-output", "evaluate ref.tif test.tif -o r.json --json", "ref.tif", "test.tif",
             expect=OK, out=("r.json",)),
        case("evaluate-mask", "evaluate ref.tif test.tif --mask mask.tif --planes xz,yz", "ref.tif", "test.tif",
             "mask.tif", expect=OK),
        case("evaluate-labels", "evaluate labels_ref.tif labels_test.tif --labels", "labels_ref.tif",
             "labels_test.tif", expect=OK),
        case("evaluate-border-0", "evaluate ref.tif test.tif --border 0", "ref.tif", "test.tif", expect=OK),
    ]
