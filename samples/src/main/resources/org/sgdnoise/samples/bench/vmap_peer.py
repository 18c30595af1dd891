#!/usr/bin/env python3
"""Per-example gradients in PyTorch with torch.func.vmap(grad(...)): the peer of sgdnoise's `bench` matrix.

The same two architectures as the Java side (org.sgdnoise.models.SmallLeNet):
  mlp:   784 -> 64 (ReLU) -> 10 (softmax, cross-entropy), 50,890 parameters;
  lenet: conv 5x5 (8) -> BN -> ReLU -> max-pool 3/3 -> conv 5x5 (16) -> BN -> ReLU -> max-pool 2/2
         -> dense 128 -> BN -> ReLU -> dense 10, 13,338 trainable parameters (dropout is off in eval mode).
Both in eval mode (BatchNorm on its running statistics), float32, as the plugin's EVAL probe mode.

For each model it times, on k seeded inputs (uniform pixels, uniform labels; cost does not depend on values):
  per_example: torch.func.vmap(torch.func.grad(loss of one example)) over the k examples;
  batched:     one forward and backward pass of the summed loss over the same k examples.
Each is called `warmup` times untimed, then `reps` times; medians in ms. Prints one JSON object on stdout.

Threads: torch.set_num_threads(OMP_NUM_THREADS) when that is set, so the peer runs under the same limit as
the JVM. Run: OMP_NUM_THREADS=1 python3 vmap_peer.py --k 64 --reps 20
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 8, 5), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(3, 3),
        nn.Conv2d(8, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Linear(64, 128), nn.BatchNorm1d(128), nn.ReLU(),
        nn.Dropout(0.2), nn.Linear(128, 10))


def median_ms(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times), times


def measure(name, model, k, warmup, reps, seed):
    torch.manual_seed(seed)
    model.eval()
    params = {n: p.detach() for n, p in model.named_parameters()}
    buffers = {n: b.detach() for n, b in model.named_buffers()}
    x = torch.rand(k, 1, 28, 28)
    y = torch.randint(0, 10, (k,))

    def loss_one(p, xi, yi):
        out = functional_call(model, (p, buffers), (xi.unsqueeze(0),))
        return F.cross_entropy(out, yi.unsqueeze(0))

    per_example = vmap(grad(loss_one), in_dims=(None, 0, 0))

    def run_per_example():
        g = per_example(params, x, y)
        return sum(v.shape[0] for v in g.values())

    def run_batched():
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y, reduction="sum").backward()

    pe, pe_all = median_ms(run_per_example, warmup, reps)
    bt, bt_all = median_ms(run_batched, warmup, reps)
    return {
        "num_params": sum(p.numel() for p in model.parameters()),
        "per_example_median_ms": pe,
        "batched_median_ms": bt,
        "ratio": pe / bt,
        "per_example_ms": pe_all,
        "batched_ms": bt_all,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--models", default="mlp,lenet")
    a = ap.parse_args()
    omp = os.environ.get("OMP_NUM_THREADS")
    if omp:
        torch.set_num_threads(int(omp))
    builders = {"mlp": mlp, "lenet": lenet}
    result = {
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "omp_num_threads": omp,
        "k": a.k,
        "warmup": a.warmup,
        "reps": a.reps,
        "seed": a.seed,
        "models": {m: measure(m, builders[m](), a.k, a.warmup, a.reps, a.seed) for m in a.models.split(",")},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
