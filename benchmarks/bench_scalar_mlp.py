"""One training step of a scalar MLP(2, [16, 16, 1]): autograd_lite (eager and compiled) versus
micrograd 0.1.0 and the same step written by hand with Python floats.

The step is micrograd's own demo: forward over 100 two-moons points, max-margin (hinge) loss plus
an L2 penalty, backward, SGD update. The model code below is written once against the micrograd
`Value` API and run unchanged on both engines, with the same weights and data. ``compiled`` wraps
the same loss function in `autograd_lite.compile` (its one-time trace and code generation are
timed apart, as the compile cost); ``floats`` is the forward and backward written out by hand over
lists of floats (no skipping of zero gradients: the same arithmetic the graph does), the floor.

Each engine runs in its own worker process (one engine's uncollected garbage slows every engine
sharing its heap), with the garbage collector on, as users have it. The workers take turns, one
block of consecutive steps each per round (see paired.py), so a change of the machine's speed falls
on all engines of a round alike. Prints the median step time of each engine, the paired ratios
(round by round) with the targets of issue 17, the node count and peak memory per graph node.

Usage:
    python benchmarks/bench_scalar_mlp.py            # full run, ~1 minute (needs micrograd==0.1.0)
    python benchmarks/bench_scalar_mlp.py --quick    # smoke run (a few steps, few points)
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
import tracemalloc
from typing import Any

import numpy as np
from paired import Pool, median_time, paired_ratio, serve


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


def float_step(W: list[list[list[float]]], xs: list[list[float]], ys: list[int]) -> float:
    """The step by hand over floats: forward, hinge + L2, backward, SGD; updates W in place."""
    n = len(xs)
    G = [[[0.0] * len(neuron) for neuron in layer] for layer in W]
    last = len(W) - 1
    total = 0.0
    for x, y in zip(xs, ys):
        ins, pres = [x], []
        h = x
        for li, layer in enumerate(W):
            pre = []
            for neuron in layer:
                s = neuron[-1]
                for wi, xi in zip(neuron, h):
                    s += wi * xi
                pre.append(s)
            pres.append(pre)
            h = pre if li == last else [p if p > 0 else 0.0 for p in pre]
            ins.append(h)
        margin = 1 - y * h[0]
        total += margin if margin > 0 else 0.0
        g = [(-y if margin > 0 else 0.0) / n]  # d(loss)/d(score)
        for li in range(last, -1, -1):
            if li != last:
                g = [gi if p > 0 else 0.0 for gi, p in zip(g, pres[li])]  # relu'
            h_in = ins[li]
            g_in = [0.0] * len(h_in)
            for j, neuron in enumerate(W[li]):
                gj = g[j]
                Gn = G[li][j]
                for i, xi in enumerate(h_in):
                    Gn[i] += gj * xi
                    g_in[i] += gj * neuron[i]
                Gn[-1] += gj
            g = g_in
    sq = 0.0
    for layer, g_layer in zip(W, G):
        for neuron, g_neuron in zip(layer, g_layer):
            for i, p in enumerate(neuron):
                sq += p * p
                neuron[i] = p - 0.05 * (g_neuron[i] + 2e-4 * p)
    return total / n + 1e-4 * sq


def float_worker(points: int) -> None:
    xs, ys = moons(points)
    W = [[[p.data for p in neuron] for neuron in layer] for layer in build_model(_Float, [2, 16, 16, 1])]
    first = float_step(W, xs, ys)  # untimed warm-up, as every engine's
    serve(lambda: float_step(W, xs, ys), info={"first": first})


class _Float:
    """Holds a float like a Value, so `build_model` draws the same weights for the float step."""

    def __init__(self, data: float) -> None:
        self.data = data


def worker(engine: str, points: int) -> None:
    """One engine's worker process (see paired.py): a step is zero_grad, loss, backward, SGD."""
    if engine == "floats":
        float_worker(points)
        return
    if engine == "micrograd":
        from micrograd.engine import Value
    else:
        from autograd_lite import Value, compile
    xs, ys = moons(points)
    layers = build_model(Value, [2, 16, 16, 1])
    params = [p for layer in layers for neuron in layer for p in neuron]
    compiled = compile(lambda: loss_fn(layers, xs, ys)) if engine == "compiled" else None

    def step() -> float:
        for p in params:
            p.grad = 0.0
        if compiled is None:
            loss = loss_fn(layers, xs, ys)
            loss.backward()
            value = loss.data
            del loss
        else:
            value = compiled()
        for p in params:
            p.data -= 0.05 * p.grad
        return value

    def memory() -> dict[str, Any]:
        """The peak memory while one graph is alive, divided by its node count."""
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        loss = loss_fn(layers, xs, ys)
        nodes = count_nodes(loss)
        loss.backward()
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        return {"nodes": nodes, "bytes_per_node": peak / nodes}

    t0 = time.perf_counter()
    first = step()  # untimed warm-up; compiled: the first call traces and generates the code
    if compiled is None:
        serve(step, info={"first": first}, finish=memory)
        return
    serve(step, info={"compile_s": time.perf_counter() - t0, "lines": compiled.stats["lines"],
                      "first": first})


# steps per round: blocks of a few tenths of a second (micrograd's one step is over a second)
BLOCK = {"autograd_lite": 3, "compiled": 30, "floats": 30, "micrograd": 1}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: one round of 2 steps on 10 points")
    ap.add_argument("--rounds", type=int, default=10, help="rounds; each engine runs one block per round")
    ap.add_argument("--points", type=int, default=100, help="two-moons points per step")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.points = 1, 10
    if args.worker:
        worker(args.worker, args.points)
        return
    engines = ["autograd_lite", "compiled", "floats"]
    try:
        import micrograd  # noqa: F401

        engines.append("micrograd")
    except ImportError:
        print("micrograd is not installed (pip install micrograd==0.1.0): no micrograd column")
    pool = Pool({e: [sys.executable, __file__, "--worker", e, "--points", str(args.points)]
                 for e in engines})
    blocks = pool.run(args.rounds, {e: 2 if args.quick else BLOCK[e] for e in engines})
    reports = pool.finish()
    print(f"scalar MLP(2, [16, 16, 1]) step on {args.points} two-moons points: {args.rounds} round(s) "
          "(each engine in its own process runs one block of steps per round, in turn)")
    _report(blocks, pool.info, reports)


def _report(blocks: dict[str, list[dict[str, Any]]], info: dict[str, dict[str, Any]],
            reports: dict[str, dict[str, Any]]) -> None:
    for e, bs in blocks.items():
        extra = ""
        if "nodes" in reports[e]:
            extra = f" | {reports[e]['nodes']} nodes | {reports[e]['bytes_per_node']:.0f} B/node"
        if "compile_s" in info[e]:
            extra = (f" | compile (first call) {info[e]['compile_s']:.2f} s, "
                     f"{info[e]['lines']} lines generated")
        steps = sum(len(b["times"]) for b in bs)
        print(f"{e:>14}: median step {median_time(bs) * 1e3:9.2f} ms over {steps} steps{extra}")

    def line(what: str, ratio: float, target: str, ok: bool) -> None:
        print(f"  {what} = {ratio:.2f}x  ({'meets' if ok else 'misses'} the target {target})")

    def ratio(a: str, b: str) -> float:
        return paired_ratio(blocks[a], blocks[b])

    print("paired ratios (median over rounds of the ratio of the two engines' median steps):")
    if "micrograd" in blocks:
        eager = ratio("micrograd", "autograd_lite")
        line("micrograd / autograd_lite (eager)", eager, ">= 15x", eager >= 15)
        comp = ratio("micrograd", "compiled")
        line("micrograd / compiled", comp, ">= 100x", comp >= 100)
        mem = reports["autograd_lite"]["bytes_per_node"] / reports["micrograd"]["bytes_per_node"]
        line("memory per node, autograd_lite / micrograd", mem, "<= 0.5x", mem <= 0.5)
    floor = ratio("compiled", "floats")
    line("compiled / hand-written floats", floor, "<= 2x", floor <= 2)
    print(f"  autograd_lite (eager) / hand-written floats = {ratio('autograd_lite', 'floats'):.1f}x")
    losses = {e: [r for b in bs for r in b["results"]] for e, bs in blocks.items()}
    losses = {e: [info[e]["first"], *v] for e, v in losses.items()}  # with the warm-up step
    k = min(len(v) for v in losses.values())
    ref = losses["autograd_lite"][:k]
    same = all(np.allclose(v[:k], ref, rtol=1e-9) for v in losses.values())
    exact = losses["compiled"][:k] == ref
    print(f"  same losses on every engine over the first {k} steps (rtol 1e-9): {same}; "
          f"compiled == eager bit for bit: {exact}")


if __name__ == "__main__":
    main()
