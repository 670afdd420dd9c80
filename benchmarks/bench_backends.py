"""The same Tensor MLP step on numpy arrays and on PyTorch arrays (CPU; a GPU when one is present).

The seeds' one-hidden-layer MLP step of `bench_tensor_mlp.py` (784-256-10, batch 128, float64:
forward, fused cross-entropy, backward, SGD update), written once with autograd_lite Tensors and
run with the data and weights held as:

* ``numpy``: numpy arrays (the default and the fast path);
* ``torch-cpu``: ``torch.Tensor`` on the CPU (the rules run through the array API namespace);
* ``torch-cuda``: ``torch.Tensor`` on a GPU, only when ``torch.cuda.is_available()`` (reported,
  never required).

Each engine runs in its own process; runs alternate; each run times ``--steps`` steps after a
warm-up. Printed: medians, the ratio to numpy and the target of issue 15 (torch on the CPU within
1.3x of numpy at this size), and the losses after the run (they must agree to 1e-10).

Usage:
    python benchmarks/bench_backends.py            # full run (~1 minute)
    python benchmarks/bench_backends.py --quick    # smoke run (a few seconds)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_tensor_mlp import ALPHA, LR, make_problem

TARGET = 1.3  # torch-cpu / numpy, medium size (issue 15)
SIZE = (784, 256, 10, 128)


def engine(kind: str, p: dict[str, Any]) -> Any:
    from autograd_lite import Tensor, cross_entropy

    if kind == "numpy":
        move: Any = lambda a: a
    else:
        import torch

        device = "cuda" if kind == "torch-cuda" else "cpu"
        move = lambda a: torch.as_tensor(a, device=device)
    X = Tensor(move(p["x"]))
    y = p["y"]
    params = [Tensor(move(p[k].copy()), requires_grad=True) for k in ("W1", "b1", "W2", "b2")]
    W1, b1, W2, b2 = params

    def step() -> float:
        for q in params:
            q.grad = None
        hs = (X @ W1.T + b1).leaky_relu(ALPHA)
        loss = cross_entropy(hs @ W2.T + b2, y)
        loss.backward()
        for q in params:
            q.data -= LR * q.grad
        return float(loss.data)

    if kind == "torch-cuda":  # time the device's work, not just its queue
        import torch

        def synced() -> float:
            out = step()
            torch.cuda.synchronize()
            return out

        return synced
    return step


def child(kind: str, steps: int) -> None:
    step = engine(kind, make_problem(*SIZE))
    for _ in range(3):
        step()
    times = []
    loss = 0.0
    for _ in range(steps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"median": statistics.median(times), "loss": loss}))


def available() -> list[str]:
    kinds = ["numpy"]
    try:
        import torch
    except ImportError:
        print("torch not installed: only the numpy column")
        return kinds
    try:  # a torch Tensor runs the rules through the array API namespace
        import array_api_compat  # noqa: F401
    except ImportError:
        print("torch is installed but array-api-compat is not (pip install 'autograd_lite[backends]'): "
              "only the numpy column")
        return kinds
    kinds.append("torch-cpu")
    if torch.cuda.is_available():
        kinds.append("torch-cuda")
    else:
        print("no CUDA device: the GPU column is skipped")
    return kinds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: one round of a few steps")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1,
                    help="BLAS/OpenMP threads of every engine (the same for both libraries; default 1)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    rounds, steps = (1, 3) if args.quick else (args.rounds, args.steps)
    kinds = available()
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    env = {**os.environ, **{v: str(args.threads) for v in (
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
    for _ in range(rounds):
        for kind in kinds:  # alternating: each round runs every engine once, in its own process
            out = subprocess.run([sys.executable, __file__, "--child", kind, str(steps)],
                                 capture_output=True, text=True, check=True, env=env)
            runs[kind].append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = statistics.median(r["median"] for r in runs["numpy"])
    d, dh, m, batch = SIZE
    print(f"Tensor MLP step {d}-{dh}-{m}, batch {batch}, float64; {rounds} round(s) x {steps} steps, "
          f"{args.threads} thread(s) per engine; load average {os.getloadavg()[0]:.1f}")
    for kind in kinds:
        med = statistics.median(r["median"] for r in runs[kind])
        line = f"  {kind:<11} {med * 1e3:8.3f} ms  {med / base:5.2f}x numpy"
        if kind == "torch-cpu":
            line += f"  ({'meets' if med / base <= TARGET else 'MISSES'} the target <= {TARGET}x)"
        print(line)
    losses = {k: runs[k][-1]["loss"] for k in kinds}
    spread = max(losses.values()) - min(losses.values())
    print(f"  losses after the run agree to {spread:.1e} ({'ok' if spread < 1e-10 else 'DIFFER'})")
    if spread >= 1e-10:
        sys.exit(1)


if __name__ == "__main__":
    main()
