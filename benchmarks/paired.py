"""Paired timing of engines that each live in their own process.

Each engine runs in a worker process of its own (one engine's garbage must not slow another's
heap), and the workers take turns: in every round each worker runs one block of steps while the
others wait, the order rotating from round to round. A change of the machine's speed (a shared VM's
moves by up to 1.5x within a minute) then falls on every engine of a round alike, and the ratio of
two engines is taken round by round: the paired ratio is the median over the rounds of
``median(steps of A in round r) / median(steps of B in round r)``.

A worker is the benchmark script itself, started with the arguments its `serve` call reads; the
parent talks to it over its standard input and output, one JSON line per reply. Step times are
taken inside the worker, around the step only.

Use in a benchmark script (see bench_scalar_mlp.py):
    worker side:  serve(step, info={"compile_s": 1.2}, finish=lambda: {"nodes": 10})
    parent side:  pool = Pool({"a": [sys.executable, __file__, "--worker", "a"], ...})
                  blocks = pool.run(rounds=10, steps=20); reports = pool.finish()
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any


def serve(step: Callable[[], Any], info: dict[str, Any] | None = None,
          finish: Callable[[], dict[str, Any]] | None = None) -> None:
    """The worker's loop: say ready (with ``info``), then run ``step`` on request.

    Commands on stdin, a JSON reply on stdout each: ``run N`` (N timed steps: their times and
    results), ``finish`` (what ``finish()`` returns, then exit).
    """
    out = sys.stdout
    sys.stdout = sys.stderr  # a stray print of the engine's must not break the protocol
    clock = time.perf_counter
    _reply(out, {"ready": True, **(info or {})})
    for line in sys.stdin:
        cmd = line.split()
        if cmd and cmd[0] == "run":
            times, results = [], []
            for _ in range(int(cmd[1])):
                t0 = clock()
                r = step()
                times.append(clock() - t0)
                results.append(r)
            _reply(out, {"times": times, "results": results})
        else:
            _reply(out, finish() if finish is not None else {})
            return


def _reply(out: Any, obj: dict[str, Any]) -> None:
    out.write(json.dumps(obj) + "\n")
    out.flush()


class Pool:
    """Worker processes, one per engine, stepped in turn (see the module docstring)."""

    def __init__(self, commands: dict[str, list[str]], env: dict[str, str] | None = None) -> None:
        self.names = list(commands)
        self.procs = {name: subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             text=True, env=env) for name, cmd in commands.items()}
        self.info = {name: self._read(name) for name in self.names}  # waits for each set-up

    def _read(self, name: str) -> dict[str, Any]:
        proc = self.procs[name]
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            code = proc.wait()
            self.close()
            raise RuntimeError(f"the {name} worker exited (code {code}) without replying; its "
                               "error is printed above")
        return json.loads(line)

    def _ask(self, name: str, command: str) -> dict[str, Any]:
        proc = self.procs[name]
        assert proc.stdin is not None
        proc.stdin.write(command + "\n")
        proc.stdin.flush()
        return self._read(name)

    def run(self, rounds: int, steps: int | dict[str, int]) -> dict[str, list[dict[str, Any]]]:
        """``rounds`` rounds; in each, every worker runs its block of ``steps`` (a number, or one per
        engine) in turn. Returns each engine's blocks ({"times", "results"}), in round order."""
        blocks: dict[str, list[dict[str, Any]]] = {name: [] for name in self.names}
        n = len(self.names)
        for r in range(rounds):
            for k in range(n):
                name = self.names[(r + k) % n]
                count = steps[name] if isinstance(steps, dict) else steps
                blocks[name].append(self._ask(name, f"run {count}"))
        return blocks

    def finish(self) -> dict[str, dict[str, Any]]:
        """Each worker's final report; the workers exit."""
        out = {name: self._ask(name, "finish") for name in self.names}
        self.close()
        return out

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for f in (proc.stdin, proc.stdout):
                if f is not None:
                    f.close()


def median_time(blocks: list[dict[str, Any]]) -> float:
    """The median step time over all of an engine's blocks."""
    return statistics.median(t for b in blocks for t in b["times"])


def paired_ratio(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> float:
    """Median over rounds of (A's median step in the round) / (B's median step in the round)."""
    return statistics.median(statistics.median(x["times"]) / statistics.median(y["times"])
                             for x, y in zip(a, b))
