"""One training step of the seeds' one-hidden-layer MLP: autograd_lite vs hand-written numpy, PyTorch and JAX.

The network of the course (hw3, part 2): h^a = W1 x + b1, h^s = leaky_relu(h^a), o^a = W2 h^s + b2,
o^s = softmax(o^a), L = -log o^s_y, averaged over a mini-batch. One step = forward, softmax
cross-entropy, backward, SGD update. Four engines run the same step from the same weights:

* ``autograd_lite``: Tensors, h^a = X @ W1.T + b1 as in the seeds; the loss is the library's
  ``cross_entropy(o^a, y)`` (one fused op: logsumexp(o^a) - o^a_y, stable at |o^a| = 1000, VJP
  softmax(o^a) - onehot(y)).
* ``compiled``: the same loss function wrapped in `autograd_lite.compile` (traced in the warm-up).
* ``numpy``: the step written by hand with the seeds' derived gradients (dL/do^a = softmax(o^a) -
  onehot(y), dL/dW2 = g_o^T h^s, dL/dh^a = g_o W2 * leaky_relu'(h^a), ...): the floor to beat.
* ``torch``: PyTorch CPU autograd with F.cross_entropy (only if torch is importable).
* ``jax``: the step under one ``jax.jit`` (value_and_grad and the update), float64 (only if jax is
  importable).

Each engine runs in its own worker process, garbage collector on; after a short warm-up the
workers take turns, one block of ``--steps`` consecutive steps each per round (see paired.py), so a
change of the machine's speed falls on all engines of a round alike. The median step times and the
paired ratios (round by round) are printed, with the targets of issue 17 (large: eager and compiled
within 1.05x of numpy; small: eager within 2x and compiled within 1.5x of numpy, both faster than
PyTorch and JAX). The engines' losses after the run are compared as a check.

Usage:
    python benchmarks/bench_tensor_mlp.py            # full run (~1 minute)
    python benchmarks/bench_tensor_mlp.py --quick    # smoke run (a few seconds)
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import numpy as np
from paired import Pool, median_time, paired_ratio, serve

CONFIGS = {
    # name: (d, d_h, m, batch, (eager, compiled) target ratios to numpy (issue 17))
    "large": (784, 256, 10, 128, (1.05, 1.05)),
    "small": (2, 10, 2, 100, (2.0, 1.5)),
}
ALPHA = 0.01
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
LR = 0.05


def make_problem(d: int, dh: int, m: int, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Data and initial weights shared by every engine (W1 is d_h x d, as in the seeds)."""
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((batch, d)),
        "y": rng.integers(0, m, size=batch),
        "W1": rng.standard_normal((dh, d)) / np.sqrt(d),
        "b1": np.zeros(dh),
        "W2": rng.standard_normal((m, dh)) / np.sqrt(dh),
        "b2": np.zeros(m),
    }


def numpy_engine(p: dict[str, np.ndarray]) -> Any:
    x, y = p["x"], p["y"]
    W1, b1, W2, b2 = (p[k].copy() for k in ("W1", "b1", "W2", "b2"))
    batch, m = x.shape[0], W2.shape[0]
    onehot = np.eye(m)[y]

    def step() -> float:
        nonlocal W1, b1, W2, b2  # updated in place
        ha = x @ W1.T + b1
        hs = np.where(ha > 0, ha, ALPHA * ha)
        oa = hs @ W2.T + b2
        z = oa - oa.max(axis=1, keepdims=True)
        e = np.exp(z)
        se = e.sum(axis=1, keepdims=True)
        loss = float(np.log(se).sum() - (z * onehot).sum()) / batch
        g_oa = (e / se - onehot) / batch            # dL/do^a = softmax(o^a) - onehot(y)
        g_W2 = g_oa.T @ hs                          # dL/dW2 = (dL/do^a)^T h^s
        g_b2 = g_oa.sum(axis=0)
        g_ha = (g_oa @ W2) * np.where(ha > 0, 1.0, ALPHA)   # dL/dh^a = (W2^T dL/do^a) ⊙ lrelu'
        g_W1 = g_ha.T @ x
        g_b1 = g_ha.sum(axis=0)
        W1 -= LR * g_W1
        b1 -= LR * g_b1
        W2 -= LR * g_W2
        b2 -= LR * g_b2
        return loss

    return step


def autograd_lite_engine(p: dict[str, np.ndarray]) -> Any:
    from autograd_lite import Tensor, cross_entropy

    X = Tensor(p["x"])
    y = p["y"]
    params = [Tensor(p[k].copy(), requires_grad=True) for k in ("W1", "b1", "W2", "b2")]
    W1, b1, W2, b2 = params

    def step() -> float:
        for q in params:
            q.grad = None
        hs = (X @ W1.T + b1).leaky_relu(ALPHA)
        oa = hs @ W2.T + b2
        loss = cross_entropy(oa, y)
        loss.backward()
        for q in params:
            q.data -= LR * q.grad
        return float(loss.data)

    return step


def compiled_engine(p: dict[str, np.ndarray]) -> Any:
    """The autograd_lite step with the loss wrapped in `autograd_lite.compile` (the first warm-up
    call traces it); the batch is passed as a Tensor, so each call reads its current data."""
    from autograd_lite import Tensor, compile, cross_entropy

    X = Tensor(p["x"])
    y = p["y"]
    params = [Tensor(p[k].copy(), requires_grad=True) for k in ("W1", "b1", "W2", "b2")]
    W1, b1, W2, b2 = params

    @compile
    def loss_fn(x: Any, labels: Any) -> Any:
        hs = (x @ W1.T + b1).leaky_relu(ALPHA)
        oa = hs @ W2.T + b2
        return cross_entropy(oa, labels)

    def step() -> float:
        for q in params:
            q.grad = None
        loss = loss_fn(X, y)
        for q in params:
            q.data -= LR * q.grad
        return float(loss)

    return step


def torch_engine(p: dict[str, np.ndarray]) -> Any:
    import torch
    import torch.nn.functional as F

    X = torch.from_numpy(p["x"])
    Y = torch.from_numpy(p["y"]).long()
    params = [torch.tensor(p[k], requires_grad=True) for k in ("W1", "b1", "W2", "b2")]
    W1, b1, W2, b2 = params

    def step() -> float:
        for q in params:
            q.grad = None
        hs = F.leaky_relu(X @ W1.T + b1, ALPHA)
        oa = hs @ W2.T + b2
        loss = F.cross_entropy(oa, Y)
        loss.backward()
        with torch.no_grad():
            for q in params:
                q -= LR * q.grad
        return float(loss.detach())

    return step


def jax_engine(p: dict[str, np.ndarray]) -> Any:
    """JAX: the whole step (loss, gradients by `jax.value_and_grad`, SGD) under one `jax.jit`, in
    float64 like the other engines."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    X, Y = jnp.asarray(p["x"]), jnp.asarray(p["y"])
    params = tuple(jnp.asarray(p[k]) for k in ("W1", "b1", "W2", "b2"))

    def loss_fn(ps: Any) -> Any:
        W1, b1, W2, b2 = ps
        hs = jax.nn.leaky_relu(X @ W1.T + b1, ALPHA)
        oa = hs @ W2.T + b2
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(oa), Y[:, None], axis=1))

    @jax.jit
    def update(ps: Any) -> Any:
        loss, grads = jax.value_and_grad(loss_fn)(ps)
        return loss, tuple(q - LR * g for q, g in zip(ps, grads))

    def step() -> float:
        nonlocal params
        loss, params = update(params)
        return float(loss)  # waits for the result, as the other engines' float(loss) does

    return step


ENGINES = {"autograd_lite": autograd_lite_engine, "compiled": compiled_engine, "numpy": numpy_engine,
           "torch": torch_engine, "jax": jax_engine}


def worker(engine: str, config: str, warmup: int) -> None:
    """One engine's worker process (see paired.py), after ``warmup`` untimed steps."""
    d, dh, m, batch, _ = CONFIGS[config]
    step = ENGINES[engine](make_problem(d, dh, m, batch))
    for _ in range(warmup):
        step()
    serve(step)


def importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: one round of a few steps")
    ap.add_argument("--rounds", type=int, default=10, help="rounds; each engine runs one block per round")
    ap.add_argument("--steps", type=int, default=100, help="steps per block")
    ap.add_argument("--warmup", type=int, default=20, help="untimed steps before timing")
    ap.add_argument("--configs", default="large,small", help="comma-separated: " + ", ".join(
        f"{name} ({d}-{dh}-{m}, batch {b})" for name, (d, dh, m, b, _) in CONFIGS.items()))
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.steps, args.warmup = 1, 5, 2
    if args.worker:
        worker(args.worker[0], args.worker[1], args.warmup)
        return
    unknown = [c for c in args.configs.split(",") if c not in CONFIGS]
    if unknown:
        ap.error(f"--configs: unknown {', '.join(map(repr, unknown))}; choose from {', '.join(CONFIGS)}")
    engines = ["autograd_lite", "compiled", "numpy"]
    for peer in ("torch", "jax"):
        if importable(peer):
            engines.append(peer)
        else:
            print(f"{peer} is not importable: no {peer} column")
    # one BLAS thread each unless set: a waiting worker's idle BLAS threads spin on the core the
    # working one needs, and every engine then uses the same single-threaded kernels
    env = {k: os.environ.get(k, "1") for k in THREAD_VARS}
    print("BLAS/OpenMP threads per engine: " + ", ".join(f"{k}={v}" for k, v in env.items()))
    for config in args.configs.split(","):
        pool = Pool({e: [sys.executable, __file__, "--worker", e, config, "--warmup", str(args.warmup)]
                     for e in engines}, env={**os.environ, **env})
        blocks = pool.run(args.rounds, args.steps)
        pool.finish()
        _report(config, engines, blocks, args)


def _report(config: str, engines: list[str], blocks: dict[str, list[dict[str, Any]]],
            args: argparse.Namespace) -> None:
    d, dh, m, batch, target = CONFIGS[config]
    print(f"\n{config}: d={d}, d_h={dh}, m={m}, batch={batch} ({args.rounds} round(s) x {args.steps} "
          "steps per engine, each engine in its own process, in turn; median step time)")
    for e in engines:
        print(f"  {e:>14}: {median_time(blocks[e]) * 1e6:10.1f} us")
    print("  paired ratios (median over rounds of the ratio of the two engines' median steps):")
    for e, goal in zip(("autograd_lite", "compiled"), target):
        ratio = paired_ratio(blocks[e], blocks["numpy"])
        verdict = "meets" if ratio <= goal else "MISSES"
        print(f"  {e} / numpy = {ratio:.2f}x  ({verdict} the target <= {goal}x)")
        for peer in ("torch", "jax"):
            if peer in blocks:
                tr = paired_ratio(blocks[e], blocks[peer])
                line = f"  {e} / {peer} = {tr:.2f}x"
                if config == "small":
                    line += f"  ({'meets' if tr < 1 else 'MISSES'} the target < 1x)"
                print(line)
    final = {e: bs[-1]["results"][-1] for e, bs in blocks.items()}
    same = all(np.isclose(v, final["numpy"], rtol=1e-6) for v in final.values())
    print(f"  same loss after {args.warmup + args.rounds * args.steps} steps on every engine: {same} "
          f"({final['numpy']:.6f})")


if __name__ == "__main__":
    main()
