"""Optimizers: (batch) gradient descent, momentum / Nesterov, Adam; a learning-rate schedule hook.

The seeds' batch gradient descent is ``SGD(model.parameters(), lr)`` with full-batch gradients:
θ ← θ - η ∂R̃/∂θ. Parameters may be `Tensor`s (updated in place) or `Value`s (a scalar model).
``schedule`` is any function ``(step, base_lr) -> lr`` called before each update (``step`` counts
from 0); `exponential_decay` and `cosine_decay` are ready-made ones.

Example:
    >>> from autograd_lite import Tensor
    >>> w = Tensor([1.0, -2.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1)
    >>> (w * w).sum().backward()      # gradient 2w
    >>> opt.step(); w.data
    array([ 0.8, -1.6])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core import backend as _B
from ..core.engine import Node, zero_grad
from ..core.tensor import compute

__all__ = ["SGD", "Adam", "Optimizer", "cosine_decay", "exponential_decay"]

Schedule = Callable[[int, float], float]


def _positive(x: float, what: str, cls: str) -> float:
    x = float(x)
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"{cls}: {what} must be a finite number > 0, got {x}")
    return x


class Optimizer:
    """Base class: holds the parameters and the learning rate; ``step()`` updates, ``zero_grad()`` resets.

    ``params``: a list of Tensors/Values or a `Module` (its ``parameters()``). Parameters without a
    gradient (none reached them) are skipped by ``step()``.

    ``state_attrs`` names the attributes ``step()`` changes: `fit` saves them before each update
    and puts them back with the parameters when it undoes one (a diverging loss, Ctrl-C in the
    middle of an update). A subclass that keeps buffers of its own adds their names (a list
    holding one buffer per parameter, each replaced at every step, not changed in place).

    Example:
        >>> from autograd_lite import Value
        >>> opt = SGD([Value(1.0)], lr=0.5)
        >>> opt.lr, opt.steps
        (0.5, 0)
    """

    state_attrs: tuple[str, ...] = ("lr", "steps")

    def __init__(self, params: Any, lr: float, schedule: Schedule | None = None) -> None:
        if hasattr(params, "parameters"):
            params = params.parameters()
        self.params: list[Node] = list(params) if not isinstance(params, Node) else [params]
        name = type(self).__name__
        if not self.params:
            raise ValueError(f"{name}: got no parameters to optimize (an empty list?)")
        for p in self.params:
            if not isinstance(p, Node):
                raise TypeError(f"{name}: parameters must be Tensors or Values, got {type(p).__name__}")
            if not p.requires_grad:
                raise ValueError(f"{name}: a parameter does not require grad (create Tensors with "
                                 "requires_grad=True); it would never change")
        self.base_lr = _positive(lr, "lr", name)
        self.lr = self.base_lr
        self.schedule = schedule
        self.steps = 0

    def zero_grad(self) -> None:
        """Reset the gradients of all parameters (before each backward of a training step).

        Example:
            >>> from autograd_lite import Value
            >>> w = Value(3.0); (w * w).backward(); opt = SGD([w], lr=0.1); opt.zero_grad(); w.grad
            0.0
        """
        zero_grad(self.params)

    def step(self) -> None:
        """Apply one update with the current gradients (after ``backward()``)."""
        if self.schedule is not None:
            self.lr = float(self.schedule(self.steps, self.base_lr))
            if not (math.isfinite(self.lr) and self.lr >= 0):
                raise ValueError(f"{type(self).__name__}: the schedule returned lr={self.lr} at step "
                                 f"{self.steps}; it must be a finite number >= 0")
        elif not (math.isfinite(self.lr) and self.lr >= 0):  # set by hand: opt.lr = ...
            raise ValueError(f"{type(self).__name__}: lr={self.lr} at step {self.steps}; the learning "
                             "rate must be a finite number >= 0 (set opt.lr to one)")
        lazy = [p for p in self.params if _B.is_lazy(p.grad) and not _B.is_lazy(p.data)]
        if lazy:  # numpy parameters, Dask gradients (a lazy backward on Dask data): all their numbers
            compute(*lazy)  # in one compute, never one per parameter (Dask parameters stay lazy)
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None or (hasattr(g, "shape") and tuple(g.shape) != tuple(getattr(p.data, "shape", ()))):
                if g is not None:
                    raise ValueError(f"{type(self).__name__}: parameter {i} has shape {tuple(p.data.shape)} "
                                     f"but its gradient has shape {g.shape}")
                continue
            if isinstance(g, Node):
                g = g.data
            self._update(i, p, g)
        self.steps += 1

    def _update(self, i: int, p: Node, g: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _snapshot(self) -> dict[str, Any]:
        """What `step()` changes besides the parameters (step count, learning rate, the buffers of
        each parameter: the names in ``state_attrs``), for `_put_back`: `fit` undoes a step with it and
        the parameters together. The optimizers here replace a buffer at each step, never change
        one in place, so copying the lists is a whole snapshot."""
        return {k: list(v) if isinstance(v, list) else v
                for k in self.state_attrs for v in (getattr(self, k),)}

    def _saves_all(self) -> bool:
        """Whether ``state_attrs`` was named by this very class (so a snapshot holds all its state)."""
        return "state_attrs" in type(self).__dict__

    def _put_back(self, snapshot: dict[str, Any]) -> None:
        """Return to a `_snapshot` (a step undone).

        Example:
            >>> from autograd_lite import Value
            >>> w = Value(1.0); opt = Adam([w], lr=0.1); before = opt._snapshot()
            >>> (w * w).backward(); opt.step(); opt._put_back(before); opt.t, opt.m, opt.steps
            ([0], [0.0], 0)
        """
        for k, v in snapshot.items():
            setattr(self, k, list(v) if isinstance(v, list) else v)

    @staticmethod
    def _sub(p: Node, delta: Any) -> None:
        """p.data -= delta: in place for arrays, a new float for Values."""
        d = p.data
        if isinstance(d, np.ndarray):
            p.data -= delta
        elif isinstance(d, float | int):
            p.data = float(d - delta)
        else:  # another library's array: a new one (a lazy array stays lazy)
            p.data = d - delta

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr:g}, {len(self.params)} parameters)"


class SGD(Optimizer):
    """Gradient descent θ ← θ - η g, optionally with momentum μ (v ← μ v + g; θ ← θ - η v) or Nesterov
    (θ ← θ - η (g + μ v)), PyTorch's conventions. With full-batch gradients it is the seeds' batch
    gradient descent.

    Example:
        >>> from autograd_lite import Value
        >>> w = Value(1.0); opt = SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     opt.zero_grad(); (w * w).backward(); opt.step()
        >>> round(w.data, 6)        # 1 - 0.2 = 0.8; v = 0.9*2 + 1.6 = 3.4; 0.8 - 0.34
        0.46
    """

    state_attrs = (*Optimizer.state_attrs, "velocity")

    def __init__(self, params: Any, lr: float = 0.1, momentum: float = 0.0, nesterov: bool = False,
                 schedule: Schedule | None = None) -> None:
        super().__init__(params, lr, schedule)
        momentum = float(momentum)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum}")
        if nesterov and momentum == 0.0:
            raise ValueError("SGD: nesterov=True needs momentum > 0 (e.g. momentum=0.9)")
        self.momentum = momentum
        self.nesterov = bool(nesterov)
        self.velocity: list[Any] = [None] * len(self.params)

    def _update(self, i: int, p: Node, g: Any) -> None:
        if self.momentum:
            v = self.velocity[i]
            v = g * 1.0 if v is None else self.momentum * v + g
            self.velocity[i] = v
            g = g + self.momentum * v if self.nesterov else v
        self._sub(p, self.lr * g)

    def __repr__(self) -> str:
        extra = f", momentum={self.momentum:g}" if self.momentum else ""
        extra += ", nesterov=True" if self.nesterov else ""
        return f"SGD(lr={self.lr:g}{extra}, {len(self.params)} parameters)"


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): m ← β₁m + (1-β₁)g, v ← β₂v + (1-β₂)g², θ ← θ - η m̂ / (√v̂ + ε)
    with bias corrections m̂ = m / (1-β₁ᵗ), v̂ = v / (1-β₂ᵗ).

    Example:
        >>> from autograd_lite import Value
        >>> w = Value(1.0); opt = Adam([w], lr=0.1)
        >>> (w * w).backward(); opt.step(); round(w.data, 6)   # the first step moves by ~lr
        0.9
    """

    state_attrs = (*Optimizer.state_attrs, "m", "v", "t")

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, schedule: Schedule | None = None) -> None:
        super().__init__(params, lr, schedule)
        b1, b2 = (float(b) for b in betas)
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"Adam: betas must be in [0, 1), got {betas}")
        self.betas = (b1, b2)
        self.eps = _positive(eps, "eps", "Adam")
        self.m: list[Any] = [0.0] * len(self.params)
        self.v: list[Any] = [0.0] * len(self.params)
        self.t: list[int] = [0] * len(self.params)

    def _update(self, i: int, p: Node, g: Any) -> None:
        b1, b2 = self.betas
        self.t[i] += 1
        t = self.t[i]
        self.m[i] = b1 * self.m[i] + (1.0 - b1) * g
        self.v[i] = b2 * self.v[i] + (1.0 - b2) * (g * g)
        m_hat = self.m[i] / (1.0 - b1 ** t)
        v_hat = self.v[i] / (1.0 - b2 ** t)
        self._sub(p, self.lr * m_hat / (v_hat ** 0.5 + self.eps))

    def __repr__(self) -> str:
        return f"Adam(lr={self.lr:g}, betas={self.betas}, {len(self.params)} parameters)"


def exponential_decay(gamma: float, every: int = 1) -> Schedule:
    """Schedule lr = base_lr · gamma^(step // every).

    Example:
        >>> exponential_decay(0.5, every=10)(25, 1.0)
        0.25
    """
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"exponential_decay: gamma must be in (0, 1], got {gamma}")
    if every < 1:
        raise ValueError(f"exponential_decay: every must be >= 1, got {every}")
    return lambda step, base_lr: base_lr * gamma ** (step // every)


def cosine_decay(total_steps: int, min_lr: float = 0.0) -> Schedule:
    """Schedule lr = min_lr + (base_lr - min_lr)(1 + cos(π t / T)) / 2, constant min_lr after T steps.

    Example:
        >>> round(cosine_decay(100)(50, 1.0), 6)
        0.5
    """
    if total_steps < 1:
        raise ValueError(f"cosine_decay: total_steps must be >= 1, got {total_steps}")

    def schedule(step: int, base_lr: float) -> float:
        t = min(step, total_steps)
        return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * t / total_steps))

    return schedule
