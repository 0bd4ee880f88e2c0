"""Degradation learning (paper 000) end to end: CycleGAN stage, learned pairs, model folder, degrade."""

import json

import numpy as np
import pytest
import torch

from isovox import io
from isovox.cli import main
from isovox.errors import IsovoxError
from isovox.intensity import Normalisation
from isovox.reconstruction import reconstruct
from isovox.store import load_model, read_card, read_history
from isovox.training.recipes.common import default_workdir
from isovox.training.recipes.degradation_learning import (DEGRADATION_CONFIG, DEGRADATION_WEIGHTS,
                                                          degrade_volume, load_degradation,
                                                          train_degradation_learning)
from isovox.training.recipes.selfsup import train_selfsup
from isovox.volume import Volume

TINY = {"n_feats": 8, "n_blocks": 1}
QUICK = dict(model_kwargs=TINY, g_hl="g_hl", g_hl_kwargs=TINY, d_l_kwargs={"n_feats": (8, 8, 8, 8)},
             d_h_kwargs={"n_feats": 8, "n_layers": 2}, patch_size=32, batch_size=4, validate_every=5,
             checkpoint_every=5, validation_pairs=8, device="cpu")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, blobs):
    folder = tmp_path_factory.mktemp("dl") / "model"
    torch.set_num_threads(1)
    return train_degradation_learning(blobs, folder, cycle_iterations=6, iterations=10, **QUICK)


def test_model_folder_holds_the_backbone_and_the_learned_degradation(trained, blobs):
    assert sorted(p.name for p in trained.iterdir()) == sorted(
        ["config.json", "weights.pt", DEGRADATION_WEIGHTS, DEGRADATION_CONFIG, "training.json", "history.json",
         "history.png"])
    # both stages' loops are in the history, in training order
    assert [phase["name"] for phase in read_history(trained)] == ["degradation", "reconstruction"]
    assert [phase["iterations"] for phase in read_history(trained)] == [6, 10]
    assert not default_workdir(trained).exists()
    model, card = load_model(trained)
    assert card.method == "degradation-learning" and card.architecture["kwargs"] == TINY
    assert (card.factor, card.lowres_spacing, card.target_spacing) == (4.0, 4.0, 1.0)
    assert card.degradation["recipe"] == "learned" and card.degradation["ops"] is None
    stage_one = card.training["degradation_learning"]
    assert stage_one["iterations"] == 6 and card.training["iterations"] == 10
    assert set(stage_one["final_losses"]) == {"loss", "d_loss", "adv_hl", "adv_lh", "cycle", "d_l", "d_h"}
    assert stage_one["epoch_iterations"] == 24 * 64 * 64 // (4 * 32 * 32)      # every voxel once
    assert len(stage_one["epoch_losses"]["cycle"]) == 1                         # 6 iterations < 1 epoch
    assert stage_one["epoch_losses"]["d_l"][0] == pytest.approx(stage_one["final_losses"]["d_l"])
    info = json.loads((trained / DEGRADATION_CONFIG).read_text())
    assert info["factor"] == 4.0 and info["axis"] == "z" and info["network"]["name"] == "g_hl"
    # reconstructed slice-wise exactly as a self-supervised model
    assert reconstruct(blobs, model=trained).shape == reconstruct(blobs, "cubic").shape


def test_profile_degradation_is_learned_recorded_and_reloaded(blobs, tmp_path):
    quick = {key: value for key, value in QUICK.items() if key not in ("g_hl", "g_hl_kwargs")}
    folder = train_degradation_learning(blobs, tmp_path / "profile", cycle_iterations=4, iterations=2,
                                        **quick)                                  # the default G_hl
    stage_one = read_card(folder).training["degradation_learning"]
    profile = stage_one["learned_profile"]
    assert len(profile) == 5 and sum(profile) == pytest.approx(1.0) and profile != [0.0] * 5
    assert stage_one["learned_noise_sigma"] > 0
    network, info = load_degradation(folder)
    assert info["network"]["name"] == "g_hl_profile"
    assert torch.allclose(network.profile(), torch.tensor(profile), atol=1e-6)


def test_learned_degradation_applies_to_a_sharp_volume(trained, blobs):
    sharp = Volume((blobs.numpy()[:, :40, :40] * 2).astype(np.uint16), spacing=(1.0, 1.0, 1.0), unit="nm",
                   origin=(5.0, 0.0, 0.0))
    lowres = degrade_volume(sharp, trained, device="cpu")
    assert lowres.shape == (6, 40, 40) and lowres.dtype == np.uint16          # slices 0, 4, ..., 20
    assert lowres.spacing == (4.0, 1.0, 1.0) and lowres.origin == sharp.origin
    network, _ = load_degradation(trained)
    assert not network.training
    # the same by hand: normalised xz planes (rows z, columns x) through G_hl, mapped back, rounded
    norm = Normalisation.measure(sharp)
    planes = torch.from_numpy(norm.apply(sharp.numpy()).transpose(1, 0, 2)[:, None].copy())
    with torch.no_grad():
        by_hand = norm.invert(network(planes)[:, 0].numpy().transpose(1, 0, 2).copy())
    np.testing.assert_array_equal(lowres.numpy(), np.clip(np.rint(by_hand), 0, 65535).astype(np.uint16))
    with pytest.raises(IsovoxError, match="spacing along z is 4"):
        degrade_volume(blobs, trained)


def test_degrade_command(trained, blobs, tmp_path):
    sharp = Volume(blobs.numpy()[:, :32, :32], spacing=(1.0, 1.0, 1.0), unit="nm")
    io.write(sharp, tmp_path / "sharp.tif")
    code = main(["degrade", str(tmp_path / "sharp.tif"), "-o", str(tmp_path / "low.tif"), "--model", str(trained),
                 "--device", "cpu"])
    assert code == 0
    written = io.read(tmp_path / "low.tif")
    assert written.shape == (6, 32, 32) and written.spacing == pytest.approx((4.0, 1.0, 1.0))
    assert main(["degrade", str(tmp_path / "sharp.tif"), "-o", str(tmp_path / "low.tif"), "--model",
                 str(trained)]) == 2                                           # exists, no --overwrite


def test_a_folder_without_learned_degradation_is_refused(blobs, tmp_path):
    folder = train_selfsup(blobs, tmp_path / "selfsup", iterations=2, model_kwargs=TINY, patch_size=32,
                           batch_size=2, validation_pairs=4, device="cpu")
    with pytest.raises(IsovoxError, match="no learned degradation"):
        load_degradation(folder)
    with pytest.raises(IsovoxError, match="finetune"):
        train_degradation_learning(blobs, tmp_path / "m", finetune=True, cycle_model_kwargs={"n_feats": 4},
                                   cycle_iterations=1, iterations=1, **QUICK)


def test_interrupted_run_resumes_in_its_stage_with_the_epoch_decay(blobs, tmp_path, interrupt_sampling):
    from isovox.pairs import LateralPairs

    resume = interrupt_sampling(LateralPairs, after=3)
    options = dict(cycle_iterations=5, epoch_iterations=2, iterations=8, **QUICK)
    with pytest.raises(KeyboardInterrupt):
        train_degradation_learning(blobs, tmp_path / "model", **options)
    workdir = default_workdir(tmp_path / "model")
    state = torch.load(workdir / "degradation" / "checkpoint.pt", weights_only=False)
    assert state["iteration"] == 5
    # the generators' lr at the last iteration (index 4): 2e-4 * 0.98 ** (4 // 2); D's fixed
    assert state["optimizers"]["generators"]["param_groups"][0]["lr"] == pytest.approx(2e-4 * 0.98 ** 2)
    assert state["optimizers"]["discriminators"]["param_groups"][0]["lr"] == pytest.approx(1e-4)
    assert (workdir / "reconstruction" / "checkpoint.pt").is_file()
    resume()
    with pytest.raises(IsovoxError, match="other settings"):
        train_degradation_learning(blobs, tmp_path / "model", **{**options, "weight_cycle": 5.0})
    out = train_degradation_learning(blobs, tmp_path / "model", **options)
    card = load_model(out)[1]
    assert card.training["iterations"] == 8 and card.training["runs"] == 2
    assert card.training["degradation_learning"]["iterations"] == 5
    assert card.training["degradation_learning"]["runs"] == 2       # restored, finished: not retrained
    assert not workdir.exists()


def test_non_integer_factor_trains_end_to_end(blobs, tmp_path):
    # x6.5: a restored patch holds one section fewer than a real one; the cycle must cope
    volume = blobs.replace(spacing=(6.5, 1.0, 1.0))
    out = train_degradation_learning(volume, tmp_path / "m", cycle_iterations=2, iterations=2, **QUICK)
    card = load_model(out)[1]
    assert card.factor == 6.5 and card.training["degradation_learning"]["patches"]["lowres_rows"] == 5
    sharp = Volume(volume.numpy()[:, :32, :32], spacing=(1.0, 1.0, 1.0), unit="nm")
    assert degrade_volume(sharp, out, device="cpu").shape == (4, 32, 32)           # rows 0, 6.5, 13, 19.5
