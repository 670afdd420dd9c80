"""One training step of a scalar MLP(2, [16, 16, 1]): autograd_lite (eager and compiled) versus
micrograd 0.1.0 and the same step written by hand with Python floats.

The step is micrograd's own demo: forward over 100 two-moons points, max-margin (hinge) loss plus
an L2 penalty, backward, SGD update. The model code below is written once against the micrograd
`Value` API and run unchanged on both engines, with the same weights and data. ``compiled`` wraps
the same loss function in `autograd_lite.compile` (its one-time trace and code generation are
timed apart, as the compile cost); ``floats`` is the forward and backward written out by hand over
lists of floats (no skipping of zero gradients: the same arithmetic the graph does), the floor.

Each engine runs in its own process (one engine's uncollected garbage slows every engine sharing
its heap); runs alternate between engines; each run times at least 10 consecutive steps with the
garbage collector on, as users have it. Prints the median step time of each engine, the ratios
with the targets of issue 17, the node count and peak memory per graph node.

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


def child_floats(steps: int, points: int) -> None:
    xs, ys = moons(points)
    W = [[[p.data for p in neuron] for neuron in layer] for layer in build_model(_Float, [2, 16, 16, 1])]
    times, loss_values = [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        loss_values.append(float_step(W, xs, ys))
        times.append(time.perf_counter() - t0)
    print(json.dumps({"engine": "floats", "times": times, "loss": loss_values}))


class _Float:
    """Holds a float like a Value, so `build_model` draws the same weights for the float step."""

    def __init__(self, data: float) -> None:
        self.data = data


def child(engine: str, steps: int, points: int) -> None:
    if engine == "floats":
        child_floats(steps, points)
        return
    if engine == "micrograd":
        from micrograd.engine import Value
    else:
        from autograd_lite import Value, compile
    xs, ys = moons(points)
    layers = build_model(Value, [2, 16, 16, 1])
    params = [p for layer in layers for neuron in layer for p in neuron]
    compiled = compile(lambda: loss_fn(layers, xs, ys)) if engine == "compiled" else None
    times = []
    loss_values = []
    compile_s = 0.0
    for k in range(steps + (compiled is not None)):
        t0 = time.perf_counter()
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
        loss_values.append(value)
        if compiled is not None and k == 0:
            compile_s = time.perf_counter() - t0  # the first call traces and generates the code
            continue
        times.append(time.perf_counter() - t0)
    loss_values = loss_values[:steps]
    if compiled is not None:
        print(json.dumps({"engine": engine, "times": times, "loss": loss_values, "compile_s": compile_s,
                          "lines": compiled.stats["lines"]}))
        return
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
    engines = ["autograd_lite", "compiled", "floats"]
    try:
        import micrograd  # noqa: F401

        engines.append("micrograd")
    except ImportError:
        print("micrograd is not installed (pip install micrograd==0.1.0): no micrograd column")
    results: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
    for _ in range(args.rounds):
        for e in engines:
            out = subprocess.run(
                [sys.executable, __file__, "--child", e, "--steps", str(args.steps),
                 "--points", str(args.points)], check=True, capture_output=True, text=True)
            results[e].append(json.loads(out.stdout.strip().splitlines()[-1]))
    summary = {e: _summary(e, runs) for e, runs in results.items()}
    _report(summary)


def _summary(engine: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    times = [t for r in runs for t in r["times"]]
    out = {"median_s": statistics.median(times), "steps": len(times), "loss": runs[0]["loss"]}
    if "nodes" in runs[0]:
        out["nodes"] = runs[0]["nodes"]
        out["bytes_per_node"] = statistics.median(r["bytes_per_node"] for r in runs)
    if "compile_s" in runs[0]:
        out["compile_s"] = statistics.median(r["compile_s"] for r in runs)
        out["lines"] = runs[0]["lines"]
    return out


def _report(summary: dict[str, dict[str, Any]]) -> None:
    for e, s in summary.items():
        extra = ""
        if "nodes" in s:
            extra = f" | {s['nodes']} nodes | {s['bytes_per_node']:.0f} B/node"
        if "compile_s" in s:
            extra = f" | compile (first call) {s['compile_s']:.2f} s, {s['lines']} lines generated"
        print(f"{e:>14}: median step {s['median_s'] * 1e3:9.2f} ms over {s['steps']} steps{extra}")
    t = {e: s["median_s"] for e, s in summary.items()}

    def line(what: str, ratio: float, target: str, ok: bool) -> None:
        print(f"  {what} = {ratio:.2f}x  ({'meets' if ok else 'misses'} the target {target})")

    if "micrograd" in t:
        m = t["micrograd"]
        eager = m / t["autograd_lite"]
        line("micrograd / autograd_lite (eager)", eager, ">= 15x", eager >= 15)
        line("micrograd / compiled", m / t["compiled"], ">= 100x", m / t["compiled"] >= 100)
        mem = summary["autograd_lite"]["bytes_per_node"] / summary["micrograd"]["bytes_per_node"]
        line("memory per node, autograd_lite / micrograd", mem, "<= 0.5x", mem <= 0.5)
    floor = t["compiled"] / t["floats"]
    line("compiled / hand-written floats", floor, "<= 2x", floor <= 2)
    print(f"  autograd_lite (eager) / hand-written floats = {t['autograd_lite'] / t['floats']:.1f}x")
    ref = summary["autograd_lite"]["loss"]
    same = all(np.allclose(s["loss"], ref, rtol=1e-9) for s in summary.values())
    exact = summary["compiled"]["loss"] == ref
    print(f"  same losses on every engine (rtol 1e-9): {same}; compiled == eager bit for bit: {exact}")


if __name__ == "__main__":
    main()
