"""Hostile-input cases about trained models: damaged or mismatched model folders ('model-folder')
and every training method through ``train``, ``run`` and ``demo`` ('methods').

Part of the sweep run by ``hostile_inputs.py``; a case is a :func:`hostile_common.case`, the
model folders are :data:`hostile_fixtures.FIXTURES` ('model', 'dlmodel', 'model_random_weights', ...).
"""

from __future__ import annotations

from hostile_common import EITHER, ERR, OK, TINY_TRAIN, Case, case, group


# --- model-folder: damaged, missing or mismatched models ------------------------------------------

def model_folder_cases() -> list[Case]:
    """Class 'model-folder': reconstruct, run and degrade with broken or unsuitable model folders."""
    return group("model-folder", [
        _reconstruct_with("model_random_weights"),
        _reconstruct_with("model_truncated_weights"),
        _reconstruct_with("model_no_weights"),
        _reconstruct_with("model_no_config"),
        _reconstruct_with("model_bad_json"),
        _reconstruct_with("model_string_factor"),
        _reconstruct_with("model_negative_factor"),
        _reconstruct_with("model_nan_factor"),
        _reconstruct_with("model_unknown_arch"),
        _reconstruct_with("model_empty"),
        case("reconstruct-model-missing", "reconstruct lr.tif -o out.tif --model nowhere", "lr.tif"),
        case("reconstruct-model-is-a-file", "reconstruct lr.tif -o out.tif --model lr.tif", "lr.tif"),
        case("reconstruct-model-factor-mismatch", "reconstruct lr6.tif -o out.tif --model model", "lr6.tif", "model",
             note="model learned x10, the volume is x6"),
        case("reconstruct-model-ok", "reconstruct lr.tif -o out.tif --model model", "lr.tif", "model", expect=OK,
             out=("out.tif",)),
        case("reconstruct-model-blockwise", "reconstruct lr.tif -o out.zarr --model model --block-size 32 --workers 1",
             "lr.tif", "model", expect=OK, out=("out.zarr",), blockwise=True),
        case("reconstruct-asmodel-target-8", "reconstruct lr.tif -o out.tif --model asmodel --target-spacing 8",
             "lr.tif", "asmodel", expect=OK, out=("out.tif",)),
        case("reconstruct-dlmodel", "reconstruct lr.tif -o out.tif --model dlmodel", "lr.tif", "dlmodel",
             expect=EITHER, out=("out.tif",)),
        case("run-model-dir-is-broken-model", "run lr72.tif -o out.tif --model-dir model_random_weights --iterations 2",
             "lr72.tif", "model_random_weights"),
        case("degrade-bad-degradation-pt", "degrade iso.tif -o d.tif --model dlmodel_bad_degradation",
             "iso.tif", "dlmodel_bad_degradation"),
        case("degrade-selfsup-model", "degrade iso.tif -o d.tif --model model", "iso.tif", "model",
             note="not a degradation-learning model"),
        case("degrade-model-missing", "degrade iso.tif -o d.tif --model nowhere", "iso.tif"),
        case("degrade-random-weights", "degrade iso.tif -o d.tif --model model_random_weights",
             "iso.tif", "model_random_weights"),
        case("degrade-anisotropic-input", "degrade lr.tif -o d.tif --model dlmodel", "lr.tif", "dlmodel",
             expect=EITHER, out=("d.tif",), note="input not at the model's target spacing"),
    ])


def _reconstruct_with(model, expect=ERR, source="lr.tif", extra="", **kw):
    """``reconstruct SOURCE --model MODEL``, the case named after the model folder."""
    return case(f"reconstruct-{model.replace('_', '-')}", f"reconstruct {source} -o out.tif --model {model} {extra}",
                source, model, expect=expect, out=("out.tif",), **kw)


# --- methods: every training method, through train, run and demo ----------------------------------

def methods_cases() -> list[Case]:
    """Class 'methods': train with every architecture and method, then run, demo and degrade."""
    return group("methods", [*_train_methods(), *_run_methods()])


def _train(name, argv, *setup, expect=OK, **kw):
    """``train ARGV -o m``, expected to succeed unless told otherwise."""
    return case(f"train-{name}", f"train {argv} -o m", *setup, expect=expect, out=("m",), **kw)


def _train_methods() -> list[Case]:
    archs = [_train(f"selfsup-{arch}", f"lr.tif --arch {arch} {TINY_TRAIN}", "lr.tif")
              for arch in ("drcnet", "a2i", "edsr", "rcan", "rdn", "vdsr", "isonet1", "isonet2")]
    return [
        *archs,
        _train("selfsup-default-patch-48px", "lr.tif --iterations 2 --recipe gaussian", "lr.tif", expect=EITHER,
               note="default patch 64 > 48 px plane: a clean one-line refusal is fine"),
        _train("selfsup-minutes", "lr.tif --minutes 0.05 --patch-size 24 --recipe gaussian", "lr.tif"),
        _train("selfsup-default-recipe-48px", "lr.tif --iterations 2 --patch-size 24", "lr.tif", expect=EITHER,
               note="recipe auto estimates the profile; a 48 px plane may be too small: a clean refusal is fine"),
        _train("selfsup-default-recipe-72px", "lr72.tif --iterations 2", "lr72.tif"),
        _train("supervised3d", "--method supervised3d --hr iso.tif --factor 4 --iterations 2 --patch-size 16",
               "iso.tif"),
        _train("supervised3d-kspace", "--method supervised3d --hr iso.tif --factor 2 --axes yx --recipe kspace "
               "--iterations 2 --patch-size 16", "iso.tif"),
        _train("supervised3d-gan", "--method supervised3d --hr iso.tif --factor 4 --gan --iterations 2 --patch-size 16",
               "iso.tif", timeout=180, note="--iterations 2 alone: the GAN phase keeps its own budget"),
        _train("supervised3d-gan-own-budget", "--method supervised3d --hr iso.tif --factor 4 --gan --iterations 2 "
               "--patch-size 16 --set gan_iterations=2 --set critic_warmup=2", "iso.tif", timeout=180),
        _train("supervised3d-dcsrn", "--method supervised3d --arch dcsrn --hr iso.tif --factor 4 --iterations 2 "
               "--patch-size 16", "iso.tif"),
        _train("supervised3d-deepresolve", "--method supervised3d --arch deepresolve --hr iso.tif --factor 4 "
               "--iterations 2 --patch-size 16", "iso.tif"),
        _train("supervised3d-no-factor", "--method supervised3d --hr iso.tif --iterations 2", "iso.tif", expect=ERR),
        _train("supervised3d-anisotropic-hr", "--method supervised3d --hr lr.tif --factor 4 --iterations 2 "
               "--patch-size 16", "lr.tif", expect=ERR),
        _train("supervised3d-target-spacing", "--method supervised3d --hr iso.tif --factor 4 --target-spacing 2 "
               "--iterations 2", "iso.tif", expect=ERR),
        _train("arbitrary-scale", f"lr.tif --method arbitrary-scale {TINY_TRAIN}", "lr.tif"),
        _train("arbitrary-scale-fwhm", f"lr.tif --method arbitrary-scale --fwhm 40 {TINY_TRAIN}", "lr.tif", expect=ERR),
        _train("degradation-learning", "lr.tif --method degradation-learning --iterations 2 --patch-size 32 "
               "--set cycle_iterations=2", "lr.tif"),
        _train("degradation-learning-patch-24", "lr.tif --method degradation-learning --iterations 2 --patch-size 24 "
               "--set cycle_iterations=2", "lr.tif", expect=EITHER),
        _train("degradation-learning-recipe", "lr.tif --method degradation-learning --recipe box --iterations 2 "
               "--patch-size 32", "lr.tif", expect=ERR),
        _train("vae-two-stage", "lr.tif --method vae-two-stage --factor 10 --iterations 2 --patch-size 16 "
               "--set warmup_iterations=1 --set adversarial_iterations=1 --set compact_iterations=1", "lr.tif",
               timeout=180),
        _train("vae-two-stage-two-inputs", "lr.tif lr2.tif --method vae-two-stage --factor 10 --iterations 2 "
               "--patch-size 16 --set warmup_iterations=1 --set adversarial_iterations=1 --set compact_iterations=1",
               "lr.tif", "lr.tif->lr2.tif", timeout=180),
        _train("vae-two-stage-minutes", "lr.tif --method vae-two-stage --factor 10 --minutes 0.05", "lr.tif",
               expect=ERR),
        _train("vae-two-stage-no-factor", "lr.tif --method vae-two-stage --iterations 2 --patch-size 16 "
               "--set warmup_iterations=1 --set adversarial_iterations=1 --set compact_iterations=1", "lr.tif",
               expect=EITHER, timeout=180),
    ]


def _run(name, extra, expect=EITHER, **kw):
    """``run lr72.tif -o out.tif`` with EXTRA options; a clean refusal is fine unless told otherwise."""
    return case(f"run-{name}", f"run lr72.tif -o out.tif {extra}", "lr72.tif", expect=expect,
                out=("out.tif", "out_model"), **kw)


def _run_methods() -> list[Case]:
    """run with every method, demo, and degrade with a degradation-learning model."""
    return [
        _run("selfsup", "--iterations 2", expect=OK),
        _run("selfsup-minutes", "--minutes 0.05", expect=OK),
        case("run-selfsup-48px", "run lr.tif -o out.tif --iterations 2", "lr.tif", expect=EITHER,
             out=("out.tif", "out_model"), note="48 px planes, default patch 64; run has no --patch-size"),
        _run("supervised3d", "--method supervised3d --iterations 2", note="run has no --hr / --factor"),
        _run("arbitrary-scale", "--method arbitrary-scale --iterations 2"),
        _run("degradation-learning", "--method degradation-learning --iterations 2",
             note="--iterations 2 alone: stage one keeps its own budget (cycle_iterations)"),
        _run("vae-two-stage", "--method vae-two-stage --iterations 2", note="run has no --factor"),
        _run("degradation-learning-own-budget", "--method degradation-learning --iterations 2 "
             "--set cycle_iterations=2", expect=OK),
        _run("vae-two-stage-own-budget", "--method vae-two-stage --iterations 2 --set warmup_iterations=1 "
             "--set adversarial_iterations=1 --set compact_iterations=1 --set patch_size=16", expect=OK, timeout=180),
        case("demo-tiny", "demo lr72.tif -o d --iterations 2 --crop 72", "lr72.tif", expect=OK, out=("d",)),
        case("demo-default-sample", "demo -o d --iterations 2", expect=EITHER, out=("d",), timeout=900,
             note="the cached (or fetched) CREMI sample, 320 x 320 window, self-check included; "
                  "a clean one-line refusal is fine where the sample cannot be fetched"),
        case("degrade-ok", "degrade iso.tif -o d.tif --model dlmodel", "iso.tif", "dlmodel", expect=OK, out=("d.tif",)),
    ]
