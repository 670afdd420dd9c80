"""Elementwise ops on big arrays: forward + backward through Tensor vs the same maths by hand in numpy.

For sigmoid, softmax, log and div at n = 10^4, 10^5, 10^6, one timed call builds the leaf
Tensor(s), runs the op and backpropagates a random cotangent g (``y.backward(gradient=g)``); the
hand-written side computes the same forward and gradient with plain O(n) numpy expressions:

* sigmoid: s = 1 / (1 + e^-x), g s (1 - s)
* softmax: s = e^(x - max x) / Σ e^(x - max x), s (g - Σ g s)
* log: ln x, g / x
* div: x / y, g / y and -g (x / y) / y

Both run in the same process with numpy's default allocator, alternating call by call, and the
medians are compared. Targets (issue 17): at n = 10^6 autograd_lite takes at most 2x the hand
version, and its growth exponent from 10^4 to 10^6 (the slope of log time against log n) is no
steeper than numpy's (within 0.05, the run-to-run noise of the fit). The gradients are checked
against the hand ones.

Usage:
    python benchmarks/bench_elementwise.py            # full run (~20 s)
    python benchmarks/bench_elementwise.py --quick    # smoke run: few repetitions, n up to 10^5
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from autograd_lite import Tensor

TARGET_RATIO = 2.0
SLOPE_SLACK = 0.05


def inputs(op: str, n: int) -> tuple[list[np.ndarray], np.ndarray]:
    """The op's input arrays (inside its domain) and a random cotangent, all of length n."""
    rng = np.random.default_rng(n)
    g = rng.standard_normal(n)
    if op == "log":
        return [rng.uniform(0.5, 2.0, n)], g
    if op == "div":
        return [rng.standard_normal(n), rng.uniform(0.5, 2.0, n)], g
    return [rng.standard_normal(n)], g


def ours(op: str, xs: list[np.ndarray], g: np.ndarray) -> list[Any]:
    """Forward + backward through autograd_lite; returns the input gradients."""
    ts = [Tensor(x, requires_grad=True) for x in xs]
    y = ts[0] / ts[1] if op == "div" else getattr(ts[0], op)()
    y.backward(gradient=g)
    return [y.data, *(t.grad for t in ts)]


def hand(op: str, xs: list[np.ndarray], g: np.ndarray) -> list[np.ndarray]:
    """The same forward and gradient written directly in numpy (the forward result is kept, as
    a program uses it: both sides hold the same live arrays at the end)."""
    x = xs[0]
    if op == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-x))
        return [s, g * s * (1.0 - s)]
    if op == "softmax":
        e = np.exp(x - x.max())
        s = e / e.sum()
        return [s, s * (g - (g * s).sum())]
    if op == "log":
        return [np.log(x), g / x]
    q = x / xs[1]
    return [q, g / xs[1], -g * q / xs[1]]


def paired(op: str, n: int, reps: int) -> tuple[float, float]:
    """Median times (ours, hand) over ``reps`` alternating calls, after one warm-up call each."""
    xs, g = inputs(op, n)
    a: list[float] = []
    b: list[float] = []
    for fn in (ours, hand):
        fn(op, xs, g)
    for _ in range(reps):
        for fn, times in ((ours, a), (hand, b)):
            t0 = time.perf_counter()
            fn(op, xs, g)
            times.append(time.perf_counter() - t0)
    return statistics.median(a), statistics.median(b)


def same_gradients(op: str) -> bool:
    xs, g = inputs(op, 1000)
    return all(np.allclose(u, v, rtol=1e-12, atol=1e-15) for u, v in zip(ours(op, xs, g), hand(op, xs, g)))


def slope(sizes: list[int], times: list[float]) -> float:
    return float(np.polyfit(np.log(sizes), np.log(times), 1)[0])


def run(sizes: list[int], reps_of: Callable[[int], int]) -> bool:
    """Print one table per op; True when every op meets both targets at the largest size."""
    ok = True
    for op in ("sigmoid", "softmax", "log", "div"):
        rows = [(n, *paired(op, n, reps_of(n))) for n in sizes]
        ratio = rows[-1][1] / rows[-1][2]
        s_ours = slope(sizes, [r[1] for r in rows])
        s_hand = slope(sizes, [r[2] for r in rows])
        met = ratio <= TARGET_RATIO and s_ours <= s_hand + SLOPE_SLACK
        ok &= met
        print(f"\n{op} (same gradients as by hand: {same_gradients(op)}):")
        for n, t_ours, t_hand in rows:
            print(f"  n = {n:>8}: autograd_lite {t_ours * 1e6:9.1f} us   numpy {t_hand * 1e6:9.1f} us"
                  f"   ratio {t_ours / t_hand:5.2f}")
        print(f"  growth exponent {sizes[0]}..{sizes[-1]}: autograd_lite {s_ours:.2f}, numpy {s_hand:.2f}; "
              f"ratio at n = {sizes[-1]}: {ratio:.2f} (target <= {TARGET_RATIO}) -> "
              f"{'PASS' if met else 'MISS'}")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: n up to 10^5, few repetitions")
    args = ap.parse_args()
    sizes = [10**4, 10**5] if args.quick else [10**4, 10**5, 10**6]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"forward + backward, medians of alternating calls (load average {load:.2f}, "
          f"{os.cpu_count()} cores)")
    ok = run(sizes, (lambda n: 3) if args.quick else (lambda n: max(15, min(400, int(4e7 // n)))))
    if args.quick:
        print("\nquick run: the targets apply to the full run (n up to 10^6)")
    else:
        print("\nall targets met" if ok else "\nsome target MISSED")


if __name__ == "__main__":
    main()
