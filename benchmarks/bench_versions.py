"""Before/after: the same workloads on two versions of autograd_lite, paired round by round.

A change on a hot path states its paired before/after ratio in its commit message; this script
measures it. Each version runs in a worker process of its own, and the workers take turns (see
paired.py), so a change of the machine's speed falls on both versions of a round alike. The
workload code is this checkout's (benchmarks/): only the library differs. Each worker reports the
file its `autograd_lite` was imported from, and the run stops if the two are the same.

Workloads (one step each):
* ``mlp``: the scalar MLP(2, [16, 16, 1]) step on 100 moons points of bench_scalar_mlp.py
  (zero_grad, loss, backward, SGD);
* ``mlp-compiled``: the same step with the loss wrapped in `autograd_lite.compile`;
* ``chain``: build and backward of a deep chain of 2 x 10^5 scalar op nodes (bench_deep_chain.py);
* ``tensor``: the tiny Tensor MLP step (2-10-2, batch 100) of bench_tensor_mlp.py;
* ``tensor-compiled``: the same step compiled.

The printed ratio is new / base: below 1 the new version is faster. The spread (the quartiles of
the per-round ratios) says how far to trust it: on a shared machine a change smaller than the
spread is not a measured change. "same results" compares the steps' return values (losses, or
dy/dx): a change that alters the arithmetic shows there.

Usage:
    python benchmarks/bench_versions.py --base HEAD~1               # this working tree vs HEAD~1
    python benchmarks/bench_versions.py --base 65f2ef0 --new ../other/checkout --workloads mlp
    python benchmarks/bench_versions.py --quick                     # smoke run (vs HEAD)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from paired import Pool, median_time, paired_ratio, serve

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORKLOADS = ("mlp", "mlp-compiled", "chain", "tensor", "tensor-compiled")
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def make_step(workload: str, chain_n: int) -> Callable[[], Any]:
    """One step of ``workload`` for the autograd_lite found first on sys.path."""
    if workload in ("mlp", "mlp-compiled"):
        import bench_scalar_mlp as sm

        from autograd_lite import Value, compile
        xs, ys = sm.moons(100)
        layers = sm.build_model(Value, [2, 16, 16, 1])
        params = [p for layer in layers for neuron in layer for p in neuron]
        compiled = compile(lambda: sm.loss_fn(layers, xs, ys)) if workload == "mlp-compiled" else None

        def mlp_step() -> float:
            for p in params:
                p.grad = 0.0
            if compiled is None:
                loss = sm.loss_fn(layers, xs, ys)
                loss.backward()
                value = float(loss.data)
                del loss  # the graph is freed inside the timed step, as in a training loop
            else:
                value = float(compiled())
            for p in params:
                p.data -= 0.05 * p.grad
            return value

        return mlp_step
    if workload == "chain":
        import bench_deep_chain as dc

        from autograd_lite import Value

        def chain_step() -> float:
            x = Value(0.5)
            y = dc.chain(x, chain_n)
            y.backward()
            return float(x.grad)

        return chain_step
    import bench_tensor_mlp as tm
    d, dh, m, batch, _ = tm.CONFIGS["small"]
    engine = tm.compiled_engine if workload == "tensor-compiled" else tm.autograd_lite_engine
    return engine(tm.make_problem(d, dh, m, batch))  # type: ignore[no-any-return]


def worker(workload: str, root: str, chain_n: int, warmup: int) -> None:
    """A worker: import autograd_lite from ``root`` (the workloads from this benchmarks/)."""
    sys.path[:0] = [root, str(HERE)]
    import autograd_lite

    step = make_step(workload, chain_n)
    for _ in range(warmup):
        step()
    serve(step, info={"library": str(Path(autograd_lite.__file__).resolve())})


def checkout(spec: str, tmp: Path) -> tuple[Path, str]:
    """The directory holding the version ``spec`` (a directory, or a git revision of this
    repository, unpacked into ``tmp``), and how to name it."""
    path = Path(spec)
    if (path / "autograd_lite" / "__init__.py").is_file():
        return path.resolve(), str(path)
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", spec], check=True,
                             capture_output=True, text=True).stdout.strip()
        archive = tmp / "base.tar"
        subprocess.run(["git", "-C", str(REPO), "archive", "-o", str(archive), rev, "autograd_lite"],
                       check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as err:
        detail = getattr(err, "stderr", "") or str(err)
        sys.exit(f"bench_versions: {spec!r} is neither a checkout (a directory with "
                 f"autograd_lite/__init__.py) nor a git revision of {REPO}: {detail.strip()}")
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: refuse links out of the tree
            tar.extractall(tmp / rev, filter="data")
        else:  # our own git archive: its paths are the repository's
            tar.extractall(tmp / rev)
    return tmp / rev, f"{spec} ({rev})"


def quartiles(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> tuple[float, float]:
    """The first and third quartiles of the per-round ratios a / b."""
    ratios = [statistics.median(x["times"]) / statistics.median(y["times"]) for x, y in zip(a, b)]
    if len(ratios) < 2:
        return ratios[0], ratios[0]
    q = statistics.quantiles(ratios, n=4, method="inclusive")
    return q[0], q[2]


def compare(workload: str, roots: dict[str, Path], args: argparse.Namespace) -> None:
    env = {**os.environ, **{k: os.environ.get(k, "1") for k in THREAD_VARS}}
    env.pop("PYTHONPATH", None)  # each worker chooses its own autograd_lite
    pool = Pool({name: [sys.executable, __file__, "--worker", workload, str(root),
                        "--chain-n", str(args.chain_n), "--warmup", str(args.warmup)]
                 for name, root in roots.items()}, env=env)
    libs = {name: pool.info[name]["library"] for name in roots}
    if libs["base"] == libs["new"]:
        pool.close()
        sys.exit(f"bench_versions: both workers imported {libs['new']}: nothing to compare")
    for name, root in roots.items():
        if not libs[name].startswith(str(root.resolve())):
            pool.close()
            sys.exit(f"bench_versions: the {name} worker imported {libs[name]}, not the version "
                     f"in {root}: an installed copy shadows it; run from an environment without "
                     "autograd_lite installed (or pip uninstall autograd_lite first)")
    blocks = pool.run(args.rounds, args.steps)
    pool.finish()
    ratio = paired_ratio(blocks["new"], blocks["base"])
    lo, hi = quartiles(blocks["new"], blocks["base"])
    same = [r for b in blocks["new"] for r in b["results"]] == \
        [r for b in blocks["base"] for r in b["results"]]
    print(f"  {workload:>15}: new / base = {ratio:.3f}x  (per-round quartiles {lo:.3f}-{hi:.3f}); "
          f"medians {median_time(blocks['base']) * 1e3:.3f} ms -> {median_time(blocks['new']) * 1e3:.3f} ms; "
          f"same results: {'yes' if same else 'NO'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="HEAD",
                    help="the version before: a git revision or a checkout directory")
    ap.add_argument("--new", default=str(REPO),
                    help="the version after: a checkout directory (default: this one)")
    ap.add_argument("--workloads", default="mlp,chain,tensor",
                    help="comma-separated: " + ", ".join(WORKLOADS))
    ap.add_argument("--rounds", type=int, default=16, help="rounds; each version runs one block per round")
    ap.add_argument("--steps", type=int, default=5, help="steps per block (tensor workloads: x20)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps before timing")
    ap.add_argument("--chain-n", type=int, default=200_000, help="op nodes of the chain workload")
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 rounds of 1 step, a short chain")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], args.chain_n, args.warmup)
        return
    if args.quick:
        args.rounds, args.steps, args.warmup, args.chain_n = 2, 1, 1, 2_000
    workloads = args.workloads.split(",")
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        ap.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    tmp = Path(tempfile.mkdtemp(prefix="bench_versions_"))
    try:
        base, base_name = checkout(args.base, tmp)
        new, new_name = checkout(args.new, tmp)
        print(f"base: {base_name}\nnew:  {new_name}\n{args.rounds} round(s) x {args.steps} step(s) "
              "per version, each in its own process, in turn")
        for w in workloads:
            steps = args.steps * 20 if w.startswith("tensor") else args.steps
            compare(w, {"base": base, "new": new}, argparse.Namespace(**{**vars(args), "steps": steps}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
