"""Data-parallel training on several GPUs (or CPU processes) with DistributedDataParallel.

Launch any training with ``torchrun``; nothing else changes::

    torchrun --nproc_per_node=4 $(which isovox) train volume.tif -o model --method selfsup
    torchrun --nproc_per_node=2 my_training_script.py          # calls isovox.train(...)

torchrun starts one process per GPU and sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the
rendezvous address. The training loop (:mod:`isovox.training.loop`) then, through this module:

- joins the process group on its first use (:func:`local_device`): NCCL when the device is CUDA,
  gloo on the CPU; each process trains on GPU ``LOCAL_RANK``;
- wraps every trainable network in ``torch.nn.parallel.DistributedDataParallel`` for the step
  functions (:func:`wrap`): rank 0's initial weights are broadcast, gradients are averaged over
  the processes during backward, so every process takes the same optimiser step and the weights
  stay identical everywhere. Checkpoints and validation use the unwrapped networks;
- gives each process its own batch stream (:func:`rank_sampler`): process ``r`` of ``W`` trains
  on ``sample_batch(W * i + r)`` at iteration ``i``, still a pure function of the iteration, so a
  resumed run draws the same batches. The effective batch is ``W`` times the recipe's batch size
  (the learning rate is not rescaled: pass a larger ``lr`` if the recipe needs it);
- lets only rank 0 write checkpoints (:func:`is_main`), and makes every process stop at the same
  iteration (:func:`agree`): a minutes budget or a Ctrl-C seen by rank 0 stops all of them.

Multi-network steps (GANs): each trainable network is wrapped on its own. An experiment with a
generator and a WGAN-GP critic (gradient penalty through ``torch.autograd.grad(...,
create_graph=True)``, critic and generator updates in one step) on 2 gloo processes kept both
networks bit-identical across ranks; the test covers one network (:func:`~isovox.training.fit`),
checked against one process trained on both processes' batches. Model folders: recipes should
write them from rank 0 only (:func:`is_main`). Without torchrun (``WORLD_SIZE`` unset or 1)
every function here is a no-op.
"""

from __future__ import annotations

import atexit
import os
from typing import Any, Callable, Mapping

import torch
import torch.distributed as dist
from torch import nn


def is_distributed() -> bool:
    """True inside a process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """The process that writes checkpoints, model folders and reports."""
    return rank() == 0


def local_device(device: torch.device) -> torch.device:
    """Join the torchrun process group if there is one; the device this process trains on."""
    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if launched and dist.is_available() and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        # Leave the group before the interpreter tears down: a gloo group still alive at exit can
        # abort the process ("terminate called without an active exception"), failing the run.
        atexit.register(_leave)
    if is_distributed() and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device


def _leave() -> None:
    if dist.is_initialized():
        dist.barrier()               # no rank leaves while another still talks to it
        dist.destroy_process_group()


def wrap(networks: Mapping[str, nn.Module], device: torch.device) -> dict[str, nn.Module]:
    """``networks`` with every trainable one inside DistributedDataParallel (a no-op alone)."""
    if not is_distributed():
        return dict(networks)
    wrapped = {}
    for name, network in networks.items():
        trainable = any(p.requires_grad for p in network.parameters())
        ids = [device.index] if device.type == "cuda" else None
        wrapped[name] = nn.parallel.DistributedDataParallel(network, device_ids=ids) if trainable else network
    return wrapped


def rank_sampler(sample_batch: Callable[[int], Any]) -> Callable[[int], Any]:
    """Each process's own batch stream: iteration ``i`` of rank ``r`` draws batch ``W i + r``."""
    if not is_distributed():
        return sample_batch
    size, own = world_size(), rank()
    return lambda iteration: sample_batch(size * iteration + own)


def agree(flag: bool) -> bool:
    """Rank 0's ``flag`` on every process (so that all stop at the same iteration)."""
    if not is_distributed():
        return bool(flag)
    value = torch.tensor([int(bool(flag))], dtype=torch.int32)
    if dist.get_backend() == "nccl":
        value = value.cuda()
    dist.broadcast(value, src=0)
    return bool(value.item())
