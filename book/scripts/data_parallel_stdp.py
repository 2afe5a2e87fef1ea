"""Data-parallel STDP: a batch split across processes learns as one process on the whole batch.

Launch one process per GPU (or per share of the CPU) with torchrun::

    torchrun --nproc_per_node=2 data_parallel_stdp.py

Every process builds the same layer (same seed: the weights start identical), takes its own
slice of the batch (slices of unequal size are fine) and learns with ``process_group=True``.
At every step the learner all-reduces the batch-summed correlations, so every process applies
the update of the whole batch and the weights stay identical; the traces of a sample stay in
the process that owns it. Rank 0 then repeats the run in a single process on the whole batch
and reports the largest difference (printed, and written as JSON with ``--out``).

GPUs: with a CUDA device for every process the script uses the NCCL backend and one GPU per
process (``cuda:LOCAL_RANK``); otherwise gloo on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch
import torch.distributed as dist
from torch import nn

from stdpwidgets import STDPLearner, STDPRule

RULE = STDPRule(tau_pre=16.8, tau_post=33.7, a_plus=0.01, a_minus=0.0105,
                weight_dependence="multiplicative", w_min=0.0, w_max=1.0)


def make_layer() -> nn.Linear:
    """The same nn.Linear(100, 20) on every process: weights uniform in [0, 1], seed 0."""
    torch.manual_seed(0)
    layer = nn.Linear(100, 20, bias=False)
    with torch.no_grad():
        layer.weight.uniform_(0.0, 1.0)
    return layer


def make_spikes(steps: int, batch: int):
    """The spikes of the whole batch (every process makes all of them, then takes its slice)."""
    generator = torch.Generator().manual_seed(1)
    pre = torch.rand(steps, batch, 100, generator=generator) < 0.02
    post = torch.rand(steps, batch, 20, generator=generator) < 0.02
    return pre, post


def learn(layer, pre, post, process_group):
    """``run`` over the first half of the steps, then one ``step`` per remaining step."""
    learner = STDPLearner(layer, RULE, dt=1.0, reduction="mean", process_group=process_group)
    half = pre.shape[0] // 2
    learner.run(pre[:half], post[:half])
    for t in range(half, pre.shape[0]):
        learner.step(pre[t], post[t])
    return layer.weight.detach()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="time steps of 1 ms")
    parser.add_argument("--batch", type=int, default=7, help="the whole batch, over all processes")
    parser.add_argument("--out", help="write the result as JSON here (rank 0)")
    args = parser.parse_args()

    world = int(os.environ.get("WORLD_SIZE", "1"))  # set by torchrun
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and torch.cuda.device_count() >= world
    if use_cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if use_cuda else "gloo")
    rank = dist.get_rank()
    device = torch.device(f"cuda:{local_rank}" if use_cuda else "cpu")

    pre, post = make_spikes(args.steps, args.batch)
    mine = torch.arange(args.batch).tensor_split(world)[rank]  # 7 over 2: samples 0-3 and 4-6
    layer = make_layer().to(device)
    weight = learn(layer, pre[:, mine].to(device), post[:, mine].to(device), process_group=True)

    # every rank's weight, to check that they are identical
    weights = [torch.empty_like(weight) for _ in range(world)]
    dist.all_gather(weights, weight)
    if rank == 0:
        alone = learn(make_layer().to(device), pre.to(device), post.to(device), process_group=None)
        result = {
            "world_size": world,
            "backend": dist.get_backend(),
            "samples_per_rank": [len(s) for s in torch.arange(args.batch).tensor_split(world)],
            "ranks_identical": all(torch.equal(w, weight) for w in weights),
            "largest_difference": (weight - alone).abs().max().item(),
            "largest_change": (alone - make_layer().weight.to(device)).abs().max().item(),
        }
        print(json.dumps(result))
        if args.out:
            with open(args.out, "w") as file:
                json.dump(result, file)
    # wait for rank 0's single-process run before tearing down together: a rank that leaves the
    # group while another still holds its connections can abort in gloo's shutdown
    dist.barrier()
    dist.destroy_process_group()
    # Leave without running C++ static destructors: under load, gloo can still hold a joinable
    # background thread here, and destroying it at exit aborts the process ("terminate called
    # without an active exception") after the work is done and written.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
