"""Two-stage VAE recipe of paper 003 (tiny networks, tiny volumes): data, the step, both stages."""

import json

import numpy as np
import pytest
import torch

import isovox
from isovox.errors import IsovoxError
from isovox.intensity import Normalisation
from isovox.models import create_model
from isovox.store import read_card, read_history
from isovox.training.recipes.vae_two_stage import (METHOD, SliceTriplets, VAETwoStageConfig, _lateral_views,
                                                   load_stage1_vae, stage1_step, train_stage1,
                                                   train_vae_two_stage)
from isovox.volume import Volume

TINY_VAE = {"slice_size": 16, "latent": 4, "n_blocks": 2, "n_feats": 4, "max_feats": 8}
TINY = dict(vae_kwargs=TINY_VAE, arch="deepresolve", warmup_iterations=2, adversarial_iterations=2, compact_iterations=2,
            vae_batch_size=2, stage2_iterations=2, patch_size=8, batch_size=2, device="cpu",
            stage2_options={"model_kwargs": {"n_feats": 4, "n_layers": 2}, "validation_fraction": 0})


@pytest.fixture(scope="module")
def thick() -> Volume:
    """12 slices of 20 x 24 along y at 4 mm, 1 mm in plane (slice axis y)."""
    data = np.random.default_rng(0).random((20, 12, 24)).astype(np.float32) * 100
    return Volume(data, spacing=(1.0, 4.0, 1.0), unit="mm")


class Recorder:
    """A StepContext stand-in that keeps each update's gradients instead of stepping."""

    def __init__(self, networks, iteration):
        self.networks, self.iteration, self.device, self.grads = networks, iteration, torch.device("cpu"), {}

    def autocast(self):
        return torch.autocast("cpu", enabled=False)

    def tensor(self, values):
        return torch.as_tensor(values, dtype=torch.float32)

    def update(self, name, loss):
        for net in self.networks.values():
            net.zero_grad(set_to_none=True)
        loss.backward()
        self.grads[name] = {f"{n}.{p}": (None if t.grad is None else t.grad.clone())
                            for n, net in self.networks.items() for p, t in net.named_parameters()}


def test_triplets_are_neighbouring_slices_and_depend_on_the_iteration_only():
    stack = np.arange(5, dtype=np.float32)[:, None, None] + np.zeros((5, 20, 30), np.float32)
    sampler = SliceTriplets([stack], 16, seed=1).batch_sampler(6)
    batch = sampler(3)
    assert batch.shape == (6, 3, 16, 16)
    assert np.all(batch[:, 1] - batch[:, 0] == 1) and np.all(batch[:, 2] - batch[:, 1] == 1)
    assert np.array_equal(batch, sampler(3)) and not np.array_equal(batch, sampler(4))
    small = SliceTriplets([np.zeros((3, 10, 12), np.float32)], 16).sample(2, np.random.default_rng(0))
    assert small.shape == (2, 3, 16, 16)                       # planes smaller than a slice: padded
    with pytest.raises(IsovoxError, match="at least 3"):
        SliceTriplets([np.zeros((2, 20, 20), np.float32)], 16)


def test_phases_follow_the_schedule():
    config = VAETwoStageConfig(warmup_iterations=2, adversarial_iterations=3, compact_iterations=1)
    assert [config.weights_at(i)[1] for i in range(7)] == [0, 0, 1, 1, 1, 1, 1]     # beta
    assert [config.weights_at(i)[3] for i in range(7)] == [0, 0, 0, 0, 0, 0.02, 0.02]  # eta
    with pytest.raises(IsovoxError, match="4 non-negative"):
        VAETwoStageConfig(compact_weights=(1, 1, 1)).phases()


def test_adversarial_loss_trains_the_decoder_but_never_the_encoder():
    """eq. 10-11: with only beta > 0 the encoder gets no gradient, the decoder and critic do."""
    torch.manual_seed(0)
    networks = {"vae": create_model("slice_vae", **TINY_VAE), "critic": create_model("slice_critic", n_feats=4)}
    config = VAETwoStageConfig(warmup_iterations=0, adversarial_iterations=1, compact_iterations=0,
                               adversarial_weights=(0.0, 1.0, 0.0, 0.0))
    ctx = Recorder(networks, iteration=0)
    terms = stage1_step(config)(ctx, np.random.default_rng(0).random((2, 3, 16, 16)))
    assert set(ctx.grads) == {"critic", "vae"} and terms["adv"].item() != 0
    vae_grads = ctx.grads["vae"]
    encoder = [g for n, g in vae_grads.items() if n.startswith("vae.encoder")]
    decoder = [g for n, g in vae_grads.items() if n.startswith("vae.decoder") or n.startswith("vae.project")]
    assert all(g is None or torch.count_nonzero(g) == 0 for g in encoder)
    assert all(g is not None for g in decoder) and any(torch.count_nonzero(g) for g in decoder)
    # the critic's own update reaches the critic only
    critic_update = ctx.grads["critic"]
    assert all(g is None for n, g in critic_update.items() if n.startswith("vae."))


def test_warm_up_trains_encoder_with_compactness_and_leaves_the_critic_alone():
    torch.manual_seed(0)
    networks = {"vae": create_model("slice_vae", **TINY_VAE), "critic": create_model("slice_critic", n_feats=4)}
    config = VAETwoStageConfig(warmup_weights=(0.0, 0.0, 0.0, 1.0))   # L_comp alone
    ctx = Recorder(networks, iteration=0)
    terms = stage1_step(config)(ctx, np.random.default_rng(0).random((2, 3, 16, 16)))
    assert set(ctx.grads) == {"vae"} and terms["comp"].item() > 0 and terms["critic"].item() == 0
    encoder = [g for n, g in ctx.grads["vae"].items() if n.startswith("vae.encoder")]
    assert all(g is not None for g in encoder) and any(torch.count_nonzero(g) for g in encoder)


def test_stage1_resumes_from_its_finished_checkpoint(thick, tmp_path):
    norm = Normalisation(0.0, 100.0)
    config = VAETwoStageConfig(**TINY)
    first, summary = train_stage1([thick], [1], [norm], config, tmp_path, resume=True)
    assert summary["iterations"] == 6 and set(summary["final_terms"]) >= {"center", "prior", "comp", "adv"}
    again, _ = train_stage1([thick], [1], [norm], config, tmp_path, resume=True)
    for (name, a), b in zip(first.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name


def test_two_stages_write_a_model_folder_that_reconstructs(thick, tmp_path):
    folder = train_vae_two_stage(thick, tmp_path / "model", **TINY)
    card = read_card(folder)
    assert card.method == METHOD and card.factor == pytest.approx(4.0)
    assert card.architecture["name"] == "deepresolve"
    # the default pairs: the 2 in-plane axes swapped into the slice axis' place
    assert card.degradation["recipe"] == "take" and card.degradation["volumes"] == 2
    stage1 = card.training["stage1"]
    assert [p["name"] for p in stage1["phases"]] == ["warm-up", "adversarial", "compactness"]
    history = read_history(folder)                    # stage I's loop, then stage II's (from its folder)
    assert [p["name"] for p in history] == ["stage 1", "stage 2 l1"]
    assert history[0]["iterations"] == stage1["iterations"] and history[1]["iterations"] == card.training["iterations"]
    assert json.loads((folder / "training.json").read_text())["config_type"].endswith("VAETwoStageConfig")
    vae, info = load_stage1_vae(folder)
    assert vae.slice_size == 16 and info["axes"] == ["y"] and info["synthesis"] == "residual"
    assert not (tmp_path / ".model.isovox-train").exists()       # the work folder is gone
    result = isovox.reconstruct(thick, model=folder)
    assert result.shape == (20, 45, 24) and result.spacing == (1.0, 1.0, 1.0)
    with pytest.raises(IsovoxError, match="exists"):
        train_vae_two_stage(thick, folder, **TINY)


def test_lateral_views_put_each_in_plane_axis_where_the_slice_axis_was():
    data = np.random.default_rng(1).random((5, 6, 7)).astype(np.float32)
    volume = Volume(data, spacing=(1.0, 2.0, 3.0), unit="mm")
    views = _lateral_views(volume, 1)
    assert [v.shape for v in views] == [(6, 5, 7), (5, 7, 6)]
    assert [v.spacing for v in views] == [(2.0, 1.0, 3.0), (1.0, 3.0, 2.0)]
    assert np.array_equal(views[0].numpy()[:, 2], data[2])          # z now runs along axis 1
    assert np.array_equal(views[1].numpy()[:, 4], data[:, :, 4])     # x now runs along axis 1


def test_a_second_stage_two_can_reuse_the_first_vae(thick, tmp_path):
    first = train_vae_two_stage(thick, tmp_path / "first", **TINY)
    second = train_vae_two_stage(thick, tmp_path / "second", **{**TINY, "vae_from": str(first),
                                                                 "stage2_pairs": "slice"})
    card = read_card(second)
    assert card.degradation["volumes"] == 4                         # slice-axis phases only (the paper)
    both = train_vae_two_stage(thick, tmp_path / "both", **{**TINY, "vae_from": str(first), "stage2_pairs": "both"})
    assert read_card(both).degradation["volumes"] == 6
    assert card.training["stage1"]["reused_from"] == str(first.resolve())
    for (name, a), b in zip(load_stage1_vae(first)[0].state_dict().items(),
                            load_stage1_vae(second)[0].state_dict().values()):
        assert torch.equal(a, b), name


def test_bad_inputs_raise_one_line_errors(thick, tmp_path):
    other = thick.replace(spacing=(1.0, 3.0, 1.0))
    with pytest.raises(IsovoxError, match="different factors"):
        train_vae_two_stage([thick, other], tmp_path / "a", **TINY)
    with pytest.raises(IsovoxError, match="synthesis"):
        train_vae_two_stage(thick, tmp_path / "b", **{**TINY, "synthesis": "nearest"})
    with pytest.raises(IsovoxError, match="stage2_pairs"):
        train_vae_two_stage(thick, tmp_path / "b", **{**TINY, "stage2_pairs": "all"})
    with pytest.raises(IsovoxError, match="slice axes differ"):
        train_vae_two_stage([thick, Volume(thick.data, spacing=(4.0, 1.0, 1.0), unit="mm")], tmp_path / "c", **TINY)
    with pytest.raises(IsovoxError, match="unknown training setting"):
        train_vae_two_stage(thick, tmp_path / "d", epochs=3)
    with pytest.raises(IsovoxError, match="no stage-I VAE"):
        load_stage1_vae(tmp_path)
