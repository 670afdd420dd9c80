"""Small, seeded training loops shared by the memory and concurrency tests.

Each factory builds a model, its data and its optimizer and returns ``step() -> loss`` (one full
training step: zero the gradients, forward, backward, update). ``params`` of the returned step
are the model's parameters, for tests that compare final weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from autograd_lite import Value

Step = Callable[[], float]


def value_model_step(seed: int = 0, hidden: int = 2, examples: int = 2, lr: float = 0.02) -> Step:
    """micrograd-style: a 2-hidden-1 tanh network of Values, hinge loss, plain SGD on ``.data``."""
    rng = np.random.default_rng(seed)
    w1 = [[Value(float(v)) for v in row] for row in rng.normal(size=(hidden, 2))]
    b1 = [Value(0.0) for _ in range(hidden)]
    w2 = [Value(float(v)) for v in rng.normal(size=hidden)]
    b2 = Value(0.0)
    params = [p for row in w1 for p in row] + b1 + w2 + [b2]
    X = rng.normal(size=(examples, 2)).tolist()
    Y = [1.0 if a > b else -1.0 for a, b in X]

    def step() -> float:
        total = Value(0.0)
        for x, y in zip(X, Y):
            h = [(wi[0] * x[0] + wi[1] * x[1] + bi).tanh() for wi, bi in zip(w1, b1)]
            s = sum((a * b for a, b in zip(w2, h)), b2)
            total = total + (1.0 - y * s).relu()
        for p in params:
            p.grad = 0.0
        total.backward()
        for p in params:
            p.data -= lr * p.grad
        return total.data

    step.params = params  # type: ignore[attr-defined]
    return step


def tensor_model_step(seed: int = 0, sizes: tuple[int, ...] = (4, 16, 3), optimizer: str = "SGD",
                      lr: float = 0.05) -> Step:
    """A small Tensor MLP trained with the library's own nn, losses and optim."""
    nn = pytest.importorskip("autograd_lite.nn")
    losses = pytest.importorskip("autograd_lite.losses")
    optim = pytest.importorskip("autograd_lite.optim")
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(32, sizes[0]))
    y = (X[:, 0] > X[:, 1]).astype(int) + (X[:, -1] > 0) * (sizes[-1] > 2)
    model = nn.MLP(list(sizes), activation="leaky_relu", seed=seed)
    opt: Any = getattr(optim, optimizer)(model.parameters(), lr=lr)

    def step() -> float:
        opt.zero_grad()
        loss = losses.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        return float(loss.data)

    step.params = model.parameters()  # type: ignore[attr-defined]
    return step
