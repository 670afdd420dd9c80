"""Softmax and sigmoid backward are O(n): growth exponent and speed-up over the n x n Jacobian.

For n = 10^2 ... 10^6, times the backward pass (a vector-Jacobian product with a random
cotangent g) through ``x.softmax()`` and ``x.sigmoid()`` in autograd_lite, whose rules are
s ⊙ (g - Σ g s) and g s (1 - s). Fits log(time) against log(n): the exponent must be at most 1.1.
At n = 10^4 it also times what a naive engine does, multiplying g by the materialized Jacobian
(diag(s) - s sᵀ, and diag(s (1 - s))), and prints the speed-up (target: at least 100x). Building
the Jacobian is timed separately and not counted against the naive side.

Usage:
    python benchmarks/bench_softmax_sigmoid_scaling.py            # full run (~30 s, 0.8 GB Jacobian)
    python benchmarks/bench_softmax_sigmoid_scaling.py --quick    # smoke run: n up to 10^4
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from autograd_lite import Tensor


def median_time(fn: Callable[[], object], reps: int, setup: Callable[[], object] | None = None) -> float:
    """Median wall time of ``fn`` over ``reps`` calls (``setup`` runs untimed before each)."""
    times = []
    for _ in range(reps):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def backward_time(op: str, n: int, reps: int) -> float:
    """Median time of one backward pass through ``op`` for an n-vector (forward not timed)."""
    rng = np.random.default_rng(n)
    x = Tensor(rng.normal(size=n), requires_grad=True)
    g = rng.normal(size=n)
    y = getattr(x, op)()

    def reset() -> None:
        x.grad = None

    return median_time(lambda: y.backward(gradient=g, retain_graph=True), reps, reset)


def jacobian(op: str, x: np.ndarray) -> np.ndarray:
    """The materialized n x n Jacobian of softmax or sigmoid at x (what the O(n) rules avoid)."""
    if op == "softmax":
        s = np.exp(x - x.max())
        s /= s.sum()
        return np.diag(s) - np.outer(s, s)
    s = 1.0 / (1.0 + np.exp(-x))
    return np.diag(s * (1.0 - s))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: n = 10^2..10^4, Jacobian at 10^3")
    args = ap.parse_args()
    sizes = [10**k for k in range(2, 5 if args.quick else 7)]
    n_jac = 10**3 if args.quick else 10**4
    print(f"backward (vector-Jacobian product) time, median; Jacobian comparison at n = {n_jac}")
    ok = True
    for op in ("softmax", "sigmoid"):
        times = []
        for n in sizes:
            reps = max(5, min(200, int(2e6 // n)))
            times.append(backward_time(op, n, reps))
        slope = float(np.polyfit(np.log(sizes), np.log(times), 1)[0])
        top = float(np.log(times[-1] / times[-2]) / np.log(sizes[-1] / sizes[-2]))
        print(f"\n{op}:")
        for n, t in zip(sizes, times):
            print(f"  n = {n:>8}: {t * 1e6:10.1f} us   ({t / n * 1e9:7.2f} ns per element)")
        verdict = "meets" if slope <= 1.1 else "MISSES"
        print(f"  fitted growth exponent over n = {sizes[0]}..{sizes[-1]}: {slope:.2f} "
              f"({verdict} the target <= 1.1); over the last decade: {top:.2f}")
        ok &= slope <= 1.1
        # the naive backward: g times the materialized Jacobian
        rng = np.random.default_rng(0)
        x0 = rng.normal(size=n_jac)
        g = rng.normal(size=n_jac)
        t0 = time.perf_counter()
        J = jacobian(op, x0)
        build = time.perf_counter() - t0
        naive = median_time(lambda J=J, g=g: J.T @ g, 5)
        fast = backward_time(op, n_jac, 50)
        x = Tensor(x0, requires_grad=True)
        getattr(x, op)().backward(gradient=g)
        same = np.allclose(x.grad, J.T @ g, rtol=1e-9, atol=1e-12)
        del J
        speedup = naive / fast
        verdict = ("quick run: the target applies at n = 10^4" if args.quick else
                   "meets the target >= 100x" if speedup >= 100 else "MISSES the target >= 100x")
        print(f"  n = {n_jac}: O(n) rule {fast * 1e6:.1f} us vs Jacobian product {naive * 1e6:.1f} us "
              f"(+ {build * 1e3:.1f} ms to build it): {speedup:.0f}x faster ({verdict}); "
              f"same gradient: {same}")
        ok &= speedup >= 100 or args.quick
    print("\nall targets met" if ok else "\nsome target MISSED")


if __name__ == "__main__":
    main()
