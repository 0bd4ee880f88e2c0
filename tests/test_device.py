"""isovox.device: what '--device' means, and which device a network is on.

CUDA's presence is patched, so every branch runs the same on a laptop and on a GPU machine.
"""

import pytest
import torch
from torch import nn

from isovox.device import model_device, resolve_device
from isovox.errors import IsovoxError


def gpus(monkeypatch, count):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


@pytest.mark.parametrize("count, expected", [(0, "cpu"), (2, "cuda")])
def test_auto_is_cuda_when_torch_sees_a_gpu(monkeypatch, count, expected):
    gpus(monkeypatch, count)
    assert resolve_device("auto") == resolve_device() == torch.device(expected)
    assert resolve_device("cpu") == torch.device("cpu")


def test_cuda_must_exist_on_this_machine(monkeypatch):
    gpus(monkeypatch, 0)
    with pytest.raises(IsovoxError, match="not available on this machine") as error:
        resolve_device("cuda")
    assert "\n" not in str(error.value)
    gpus(monkeypatch, 2)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(IsovoxError, match="torch sees 2 CUDA device"):
        resolve_device("cuda:2")


@pytest.mark.parametrize("spec", ["nope", "mps", "meta", "cuda:x", ""])
def test_other_strings_are_refused_in_one_line(spec):
    with pytest.raises(IsovoxError, match="use 'auto', 'cpu' or 'cuda") as error:
        resolve_device(spec)
    assert "\n" not in str(error.value)


def test_a_torch_device_is_the_callers_choice_and_passes_unchanged(monkeypatch):
    gpus(monkeypatch, 0)
    for device in (torch.device("meta"), torch.device("cuda", 3), torch.device("cpu")):
        assert resolve_device(device) is device


def test_model_device_follows_parameters_then_buffers_then_defaults_to_cpu():
    with torch.device("meta"):
        conv = nn.Conv2d(1, 1, 3)
    assert model_device(conv) == torch.device("meta")
    fixed_filter = nn.Module()
    fixed_filter.register_buffer("kernel", torch.ones(3, device="meta"))
    assert model_device(fixed_filter) == torch.device("meta")
    assert model_device(nn.ReLU()) == torch.device("cpu")
