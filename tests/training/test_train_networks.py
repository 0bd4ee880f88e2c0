"""fit_networks: several networks and optimisers in one loop (the GAN recipes' base)."""

import pytest
import torch
from torch import nn

from isovox.errors import IsovoxError
from isovox.training import TrainSettings
from isovox.training.loop import fit_networks


def sampler(iteration):
    g = torch.Generator().manual_seed(iteration)
    x = torch.randn(4, 1, 8, 8, generator=g)
    return x, 2 * x


def build():
    torch.manual_seed(0)
    return {"G": nn.Conv2d(1, 1, 3, padding=1), "D": nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.LazyLinear(1))}


def gan_step(ctx, batch):
    """Two critic updates, then one generator update: a toy adversarial step."""
    x, y = (ctx.tensor(b) for b in batch)
    G, D = ctx.networks["G"], ctx.networks["D"]
    for _ in range(2):
        d_loss = D(G(x).detach()).mean() - D(y).mean()
        ctx.update("D", d_loss)
    fake = G(x)
    g_loss = (fake - y).abs().mean() - 0.1 * D(fake).mean()
    ctx.update("G", g_loss)
    return {"loss": g_loss, "d_loss": d_loss}


def settings(**changes):
    return TrainSettings(**{**dict(iterations=12, batch_size=4, lr=1e-3, warmup=0, checkpoint_every=4,
                                   validate_every=4, device="cpu", seed=0), **changes})


def train(workdir, sample=sampler, **changes):
    nets = build()
    nets["D"](torch.zeros(1, 1, 8, 8))            # materialise the lazy layer
    history = fit_networks(nets, {"G": {"lr": 1e-2}, "D": {"lr": 1e-3, "lr_lambda": lambda i: 0.5 ** i}},
                           gan_step, sample, settings(**changes), workdir,
                           validation=sampler(999), evaluate="G", keep_best=False)
    return nets, history


def flat(nets):
    return torch.cat([p.detach().flatten() for net in nets.values() for p in net.parameters()])


def test_every_term_is_logged_and_the_primary_loss_is_the_generators(tmp_path):
    nets, history = train(tmp_path)
    assert len(history["terms"]["loss"]) == len(history["terms"]["d_loss"]) == 12
    assert history["loss"] == history["terms"]["loss"]
    assert [v["iteration"] for v in history["validation"]] == [4, 8, 12]   # G is the one scored
    assert history["best_psnr"] == max(v["psnr"] for v in history["validation"])


def test_an_optimisers_lr_lambda_replaces_the_schedule(tmp_path):
    from isovox.training.loop import Trainer
    nets = build()
    nets["D"](torch.zeros(1, 1, 8, 8))
    trainer = Trainer(nets, {"G": {"lr": 1e-2}, "D": {"lr": 1e-3, "lr_lambda": lambda i: 0.5 ** i}},
                      gan_step, None, settings(schedule="constant"), tmp_path)
    trainer.started, trainer.iteration = 0.0, 3
    trainer.set_learning_rates()
    assert trainer.optimizers["D"].param_groups[0]["lr"] == pytest.approx(1e-3 / 8)
    assert trainer.optimizers["G"].param_groups[0]["lr"] == pytest.approx(1e-2)


def test_interrupted_gan_run_resumes_to_the_same_weights(tmp_path):
    full, _ = train(tmp_path / "full")

    def interrupting(iteration):
        if iteration == 6:
            raise KeyboardInterrupt
        return sampler(iteration)

    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "cut", sample=interrupting)
    resumed, history = train(tmp_path / "cut")
    assert history["runs"] == 2 and torch.equal(flat(full), flat(resumed))


def test_keep_best_false_keeps_the_final_weights(tmp_path):
    nets, history = train(tmp_path)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert torch.equal(state["networks"]["G"]["weight"], nets["G"].weight.detach())


def test_bad_specs_are_refused(tmp_path):
    with pytest.raises(IsovoxError, match="unknown network"):
        fit_networks(build(), {"G": {"networks": ("H",)}}, gan_step, sampler, settings(), tmp_path)
    with pytest.raises(IsovoxError, match="evaluate"):
        fit_networks(build(), {"G": {}}, gan_step, sampler, settings(), tmp_path, validation=sampler(0))
