"""One training step of a scalar MLP(2, [16, 16, 1]) in autograd_lite versus micrograd 0.1.0.

The step is micrograd's own demo: forward over 100 two-moons points, max-margin (hinge) loss plus
an L2 penalty, backward, SGD update. The model code below is written once against the micrograd
`Value` API and run unchanged on both engines, with the same weights and data.

Each engine runs in its own process (one engine's uncollected garbage slows every engine sharing
its heap); runs alternate between engines; each run times at least 10 consecutive steps with the
garbage collector on, as users have it. Prints the median step time of each engine, the speed
ratio, the node count and peak memory per graph node.

Usage:
    python benchmarks/bench_scalar_mlp.py            # full run (needs `pip install micrograd==0.1.0`)
    python benchmarks/bench_scalar_mlp.py --quick    # smoke run (a few steps, few points)
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from typing import Any

import numpy as np


def moons(n: int, seed: int = 1) -> tuple[list[list[float]], list[int]]:
    """Two interleaving half circles with noise 0.1, labels in {-1, +1} (as micrograd's demo)."""
    rng = np.random.default_rng(seed)
    a = n // 2
    t1 = np.linspace(0, np.pi, a)
    t2 = np.linspace(0, np.pi, n - a)
    x = np.concatenate([np.c_[np.cos(t1), np.sin(t1)], np.c_[1 - np.cos(t2), 0.5 - np.sin(t2)]])
    x += rng.normal(scale=0.1, size=x.shape)
    y = np.r_[-np.ones(a), np.ones(n - a)]
    return x.tolist(), [int(v) for v in y]


def build_model(value_cls: Any, sizes: list[int], seed: int = 1337) -> list[list[list[Any]]]:
    """Layers as lists of neurons; a neuron is [w_1, ..., w_n, b]; same weights for any engine."""
    rnd = random.Random(seed)
    layers = []
    for nin, nout in zip(sizes[:-1], sizes[1:]):
        layers.append([[value_cls(rnd.uniform(-1, 1)) for _ in range(nin)] + [value_cls(0.0)]
                       for _ in range(nout)])
    return layers


def forward(layers: list[list[list[Any]]], x: list[Any]) -> Any:
    for i, layer in enumerate(layers):
        last = i == len(layers) - 1
        out = []
        for neuron in layer:
            act = sum((wi * xi for wi, xi in zip(neuron[:-1], x)), neuron[-1])
            out.append(act if last else act.relu())
        x = out
    return x[0]


def loss_fn(layers: list[list[list[Any]]], xs: list[list[float]], ys: list[int]) -> Any:
    scores = [forward(layers, x) for x in xs]
    losses = [(1 + -yi * si).relu() for yi, si in zip(ys, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg = 1e-4 * sum(p * p for layer in layers for neuron in layer for p in neuron)
    return data_loss + reg


def count_nodes(root: Any) -> int:
    seen = {id(root)}
    stack = [root]
    while stack:
        node = stack.pop()
        for p in getattr(node, "_parents", None) or getattr(node, "_prev", ()):
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return len(seen)


def child(engine: str, steps: int, points: int) -> None:
    if engine == "micrograd":
        from micrograd.engine import Value
    else:
        from autograd_lite import Value
    xs, ys = moons(points)
    layers = build_model(Value, [2, 16, 16, 1])
    params = [p for layer in layers for neuron in layer for p in neuron]
    times = []
    loss_values = []
    for _ in range(steps):
        t0 = time.perf_counter()
        for p in params:
            p.grad = 0.0
        loss = loss_fn(layers, xs, ys)
        loss.backward()
        for p in params:
            p.data -= 0.05 * p.grad
        times.append(time.perf_counter() - t0)
        loss_values.append(loss.data)
        del loss
    # memory per node: the peak while one graph is alive, divided by its node count
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    loss = loss_fn(layers, xs, ys)
    nodes = count_nodes(loss)
    loss.backward()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    print(json.dumps({"engine": engine, "times": times, "nodes": nodes,
                      "bytes_per_node": peak / nodes, "loss": loss_values}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 3 steps on 10 points")
    ap.add_argument("--rounds", type=int, default=3, help="alternating runs per engine")
    ap.add_argument("--steps", type=int, default=10, help="consecutive steps timed per run")
    ap.add_argument("--points", type=int, default=100, help="two-moons points per step")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.steps, args.points = 1, 3, 10
    if args.child:
        child(args.child, args.steps, args.points)
        return
    engines = ["autograd_lite"]
    try:
        import micrograd  # noqa: F401

        engines.append("micrograd")
    except ImportError:
        print("micrograd is not installed (pip install micrograd==0.1.0): timing autograd_lite only")
    results: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
    for _ in range(args.rounds):
        for e in engines:
            out = subprocess.run(
                [sys.executable, __file__, "--child", e, "--steps", str(args.steps),
                 "--points", str(args.points)], check=True, capture_output=True, text=True)
            results[e].append(json.loads(out.stdout.strip().splitlines()[-1]))
    summary = {}
    for e, runs in results.items():
        times = [t for r in runs for t in r["times"]]
        summary[e] = {"median_s": statistics.median(times), "nodes": runs[0]["nodes"],
                      "bytes_per_node": statistics.median(r["bytes_per_node"] for r in runs),
                      "loss": runs[0]["loss"]}
        print(f"{e:>14}: median step {summary[e]['median_s'] * 1e3:9.1f} ms over {len(times)} "
              f"steps | {summary[e]['nodes']} nodes | {summary[e]['bytes_per_node']:.0f} B/node")
    if "micrograd" in summary:
        a, m = summary["autograd_lite"], summary["micrograd"]
        same = np.allclose(a["loss"], m["loss"], rtol=1e-9)
        print(f"speed ratio (micrograd / autograd_lite): {m['median_s'] / a['median_s']:.1f}x")
        print(f"memory per node (autograd_lite / micrograd): "
              f"{a['bytes_per_node'] / m['bytes_per_node']:.2f}")
        print(f"same losses on both engines: {same}")


if __name__ == "__main__":
    main()
