"""Losses and regularizers, for `Tensor` outputs and for the `Value` lists of the scalar modules.

The seeds' classification loss: L(x, y) = -log o^s_y = logsumexp(o^a) - o^a_y, computed exactly in
that form (never as the log of a softmax), so it stays finite at |o^a| = 1000; its gradient is
dL/do^a = o^s - onehot(y). The empirical risk R̂ is the mean over the examples (``reduction="mean"``,
the default); ``"sum"`` adds them up, ``"none"`` returns one loss per example.

Regularizers (the seeds' elastic net): R̃ = R̂ + Σ_layers (λ_l1 |W|₁ + λ_l2 |W|²₂), weights only by
default (biases opt-in); the subgradient of |w| at 0 is 0.

Labels are class indices 0..m-1 (the seeds number classes 1..m: pass ``y - 1``).

Example:
    >>> import numpy as np
    >>> from autograd_lite import Tensor
    >>> logits = Tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]], requires_grad=True)
    >>> loss = cross_entropy(logits, [0, 2])
    >>> loss.backward()
    >>> round(loss.item(), 6)
    0.634229
    >>> logits.grad.round(4)          # (softmax - onehot) / n
    array([[-0.0781,  0.0571,  0.021 ],
           [ 0.1667,  0.1667, -0.3333]])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..core.engine import Node, _mode, scope
from ..core.rules import SOFTMAX_CROSS_ENTROPY
from ..core.tensor import Tensor, _op1
from ..core.value import Value

__all__ = [
    "ElasticNet",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "elastic_net",
    "hinge",
    "l1",
    "l2",
    "mse",
    "nll_loss",
]

REDUCTIONS = ("mean", "sum", "none")


# ---------------------------------------------------------------------------------------- checks

def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS} (mean = empirical risk), got "
                         f"{reduction!r}")


def _as_tensor(x: Any, op: str, what: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, Node):
        raise TypeError(f"{op}: {what} is a single {type(x).__name__}; pass a list of Values (one per "
                        "class) or a Tensor")
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{op}: {what} must be numbers (a Tensor or an array), got dtype {arr.dtype}")
    return Tensor(arr.astype(np.float64))


_highest = np.maximum.reduce  # y.max() without the wrapper


def _check_labels(labels: Any, n: int | None, m: int, op: str) -> np.ndarray:
    """Validate class indices: integer dtype, shape (n,) (or a scalar for one example), 0 <= y < m."""
    y = labels if labels.__class__ is np.ndarray else np.asarray(
        labels.data if isinstance(labels, Node) else labels)
    if y.dtype.kind not in "iu":  # (bool is kind "b": refused too)
        hint = " (use y.astype(int))" if y.dtype.kind == "f" else ""
        raise TypeError(f"{op}: labels must be integer class indices 0..{m - 1}, got dtype {y.dtype}{hint}")
    if n is None:
        if y.ndim != 0:
            raise ValueError(f"{op}: logits are one example (shape ({m},)) so the label must be one integer, "
                             f"got labels of shape {y.shape}")
    elif y.shape != (n,):
        raise ValueError(f"{op}: logits have a batch of {n} examples (shape ({n}, {m})) but labels have "
                         f"shape {y.shape}; pass one label per example, shape ({n},)")
    out = y.astype(np.int64)  # a copy: the graph keeps these labels, whatever happens to y
    # one reduction for both bounds: seen unsigned, a negative label is >= 2^63 > m
    if out.size and _highest(out.view(np.uint64), axis=None) >= m:
        bad = y[(y < 0) | (y >= m)].ravel()[0]
        hint = " (classes numbered 1..m? pass y - 1)" if int(bad) == m else ""
        raise ValueError(f"{op}: label {int(bad)} is out of range for {m} classes; labels must be in "
                         f"0..{m - 1}{hint}")
    return out


def _reduce(per_example: Any, reduction: str, op: str) -> Any:
    n = len(per_example) if isinstance(per_example, list) else (
        per_example.shape[0] if per_example.ndim else 1)
    if n == 0 and reduction != "none":  # a mean over nothing is nan: say so instead
        raise ValueError(f"{op}: the batch is empty (0 examples), so the {reduction} loss is undefined; "
                         "check the batch indices or the data split")
    if isinstance(per_example, list):  # Value path
        if reduction == "none":
            return per_example
        total = per_example[0]
        for v in per_example[1:]:
            total = total + v
        return total * (1.0 / len(per_example)) if reduction == "mean" else total
    if reduction == "none":
        return per_example
    return per_example.mean() if reduction == "mean" else per_example.sum()


def _is_value_rows(x: Any) -> bool:
    return isinstance(x, list | tuple) and len(x) > 0 and (
        isinstance(x[0], Value) or (isinstance(x[0], list | tuple) and len(x[0]) > 0 and
                                    isinstance(x[0][0], Value)))


# ------------------------------------------------------------------------------- picked logit o^a_y

def _picked(logits: Tensor, y: np.ndarray) -> Tensor:
    """o^a_y for each row by integer-array indexing (O(n) forward, scatter-add VJP)."""
    if logits.ndim == 1:  # a length-1 index, then sum: the gradient reaching the index stays an array
        return logits[np.array([int(y)])].sum()
    return logits[np.arange(len(y)), y]


def _value_lse(row: list[Value]) -> Value:
    """logsumexp of a list of Values, shifted by the (constant) max: exact gradient softmax(row)."""
    top = max(v.data for v in row)
    acc = (row[0] - top).exp()
    for v in row[1:]:
        acc = acc + (v - top).exp()
    return acc.log() + top


def _value_rows(logits: Any) -> tuple[list[list[Value]], bool]:
    single = isinstance(logits[0], Value)
    rows = [list(logits)] if single else [list(r) for r in logits]
    m = len(rows[0])
    if any(len(r) != m for r in rows):
        raise ValueError("cross_entropy: every row of Value logits must have the same number of classes")
    return rows, single


# ------------------------------------------------------------------------------------------ losses

# the tag ``scope("cross_entropy")`` gives its nodes outside any other scope (shared, never mutated)
_CE_SCOPE: dict[str, Any] = {"scope": ("cross_entropy",), "owners": (None,)}


def cross_entropy(logits: Any, labels: Any, reduction: str = "mean") -> Any:
    """Softmax cross-entropy L = logsumexp(o^a) - o^a_y (never log of softmax): stable at |o^a| = 1000.

    ``logits``: a Tensor of shape (n, m) (a batch) or (m,) (one example), or the output of a `Value`
    model (a list of m Values, or a list of such lists). ``labels``: integer class indices 0..m-1,
    shape (n,) (or one integer for one example). ``reduction``: "mean" (R̂, default), "sum", "none".
    Gradient: dL/do^a = softmax(o^a) - onehot(y) (divided by n for "mean").

    Example:
        >>> from autograd_lite import Tensor
        >>> round(cross_entropy(Tensor([1000.0, 0.0]), 1).item(), 6)
        1000.0
    """
    if logits.__class__ is Tensor and reduction == "mean" and not _mode.get():
        z = logits.data  # the training step's case, in the plain mode: no scope to enter
        if type(z) is np.ndarray and z.ndim == 2 and z.shape[0] and z.dtype.kind == "f":
            y = _check_labels(labels, z.shape[0], z.shape[1], "cross_entropy")
            node = _op1(SOFTMAX_CROSS_ENTROPY, logits, {"labels": y, "mean": True})
            node._meta = _CE_SCOPE
            return node
    _check_reduction(reduction, "cross_entropy")
    with scope("cross_entropy"):
        if _is_value_rows(logits):
            rows, single = _value_rows(logits)
            y = _check_labels(labels, None if single else len(rows), len(rows[0]), "cross_entropy")
            ys = [int(y)] if single else y.tolist()
            per = [_value_lse(r) - r[k] for r, k in zip(rows, ys)]
            return per[0] if single else _reduce(per, reduction, "cross_entropy")
        z = _as_tensor(logits, "cross_entropy", "logits")
        if z.ndim not in (1, 2):
            raise ValueError(f"cross_entropy: logits must have shape (n, m) or (m,), got {z.shape}")
        y = _check_labels(labels, None if z.ndim == 1 else z.shape[0], z.shape[-1], "cross_entropy")
        # one fused op: logsumexp(o) - o_y forward, softmax(o) - onehot(y) back (the seeds' formula)
        if z.ndim == 2 and reduction == "mean" and z.shape[0]:  # the mean inside the fused op
            return Tensor._apply(SOFTMAX_CROSS_ENTROPY, (z,), {"labels": y, "mean": True})
        per_example = Tensor._apply(SOFTMAX_CROSS_ENTROPY, (z,), {"labels": y})
        return per_example if z.ndim == 1 else _reduce(per_example, reduction, "cross_entropy")


def nll_loss(log_probs: Any, labels: Any, reduction: str = "mean") -> Any:
    """Negative log-likelihood -log p_y from log-probabilities (e.g. ``logits.log_softmax()``).

    ``cross_entropy(z, y) == nll_loss(z.log_softmax(), y)``.

    Example:
        >>> from autograd_lite import Tensor
        >>> z = Tensor([[1.0, 2.0, 3.0]])
        >>> bool(abs(nll_loss(z.log_softmax(), [0]).item() - cross_entropy(z, [0]).item()) < 1e-12)
        True
    """
    _check_reduction(reduction, "nll_loss")
    with scope("nll_loss"):
        z = _as_tensor(log_probs, "nll_loss", "log_probs")
        if z.ndim not in (1, 2):
            raise ValueError(f"nll_loss: log_probs must have shape (n, m) or (m,), got {z.shape}")
        y = _check_labels(labels, None if z.ndim == 1 else z.shape[0], z.shape[-1], "nll_loss")
        per_example = -_picked(z, y)
        return per_example if z.ndim == 1 else _reduce(per_example, reduction, "nll_loss")


def _targets(targets: Any, shape: tuple[int, ...], op: str) -> np.ndarray:
    t = np.asarray(targets.data if isinstance(targets, Node) else targets)
    if t.dtype.kind not in "fiub":
        raise TypeError(f"{op}: targets must be numbers, got dtype {t.dtype}")
    t = t.astype(np.float64)
    if t.shape != shape:
        raise ValueError(f"{op}: predictions have shape {shape} but targets have shape {t.shape}; they must "
                         "match exactly (no silent broadcasting)")
    return t


def mse(pred: Any, target: Any, reduction: str = "mean") -> Any:
    """Mean squared error (the seeds' definition): mse(Ŷ, Y) = 1/(q p) Σᵢⱼ (Ŷᵢⱼ - Yᵢⱼ)² for Ŷ of shape (q, p).

    Gradient: ∂mse/∂Ŷ = 2/(q p) (Ŷ - Y). ``reduction="sum"`` drops the 1/(q p); ``"none"`` returns
    the squared errors elementwise. The target is a constant (numbers or a Tensor).

    Example:
        >>> from autograd_lite import Tensor
        >>> Y_hat = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> loss = mse(Y_hat, [[1.0, 0.0], [3.0, 5.0]]); loss.backward()
        >>> loss.item(), Y_hat.grad
        (1.25, array([[ 0. ,  1. ],
               [ 0. , -0.5]]))
    """
    _check_reduction(reduction, "mse")
    with scope("mse"):
        if isinstance(target, Tensor) and target.requires_grad:
            p = _as_tensor(pred, "mse", "pred")
            if p.shape != target.shape:
                raise ValueError(f"mse: shapes {p.shape} and {target.shape} differ")
            diff = p - target
        else:
            p = _as_tensor(pred, "mse", "pred")
            diff = p - _targets(target, p.shape, "mse")
        return _reduce(diff * diff, reduction, "mse")


def binary_cross_entropy_with_logits(logits: Any, targets: Any, reduction: str = "mean") -> Any:
    """Binary cross-entropy on logits z with targets t in [0, 1]: softplus(z) - t z (stable at |z| = 1000).

    Equals -t log σ(z) - (1 - t) log(1 - σ(z)); gradient σ(z) - t.

    Example:
        >>> from autograd_lite import Tensor
        >>> z = Tensor([0.0, 1000.0, -1000.0], requires_grad=True)
        >>> loss = binary_cross_entropy_with_logits(z, [1.0, 1.0, 1.0], reduction="none")
        >>> loss.data.round(4).tolist()
        [0.6931, 0.0, 1000.0]
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    with scope("binary_cross_entropy"):
        z = _as_tensor(logits, "binary_cross_entropy_with_logits", "logits")
        t = _targets(targets, z.shape, "binary_cross_entropy_with_logits")
        if ((t < 0) | (t > 1)).any():
            raise ValueError("binary_cross_entropy_with_logits: targets must be probabilities in [0, 1] "
                             f"(class 1 = 1.0), got values in [{t.min()}, {t.max()}]")
        return _reduce(z.softplus() - z * t, reduction, "binary_cross_entropy_with_logits")


def hinge(scores: Any, labels: Any, margin: float = 1.0, reduction: str = "mean") -> Any:
    """Binary hinge loss max(0, margin - y s) with labels y in {-1, +1}.

    Example:
        >>> from autograd_lite import Tensor
        >>> hinge(Tensor([2.0, 0.5, -1.0]), [1, 1, 1], reduction="none").data
        array([0. , 0.5, 2. ])
    """
    _check_reduction(reduction, "hinge")
    with scope("hinge"):
        s = _as_tensor(scores, "hinge", "scores")
        y = np.asarray(labels.data if isinstance(labels, Node) else labels)
        if y.dtype.kind not in "iuf" or not np.isin(y, (-1, 1)).all():
            raise ValueError("hinge: labels must be -1 or +1 (for 0/1 labels pass 2 * y - 1)")
        t = _targets(y, s.shape, "hinge")
        return _reduce((margin - s * t).relu(), reduction, "hinge")


# ------------------------------------------------------------------------------------ regularizers

def _nodes(params: Any) -> list[Node]:
    if hasattr(params, "parameters"):
        params = params.parameters()
    if isinstance(params, Node):
        return [params]
    out = list(params)
    for p in out:
        if not isinstance(p, Node):
            raise TypeError(f"regularizer: expected Tensors or Values (or a Module), got {type(p).__name__}")
    if len({type(p) for p in out}) > 1:
        raise TypeError("regularizer: the parameters mix Tensors and Values; penalize each kind separately")
    return out


def _sum_nodes(terms: list[Any]) -> Any:
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def _abs_sum(p: Any) -> Any:
    return p.abs().sum() if isinstance(p, Tensor) else p.abs()


def _square_sum(p: Any) -> Any:
    return (p * p).sum() if isinstance(p, Tensor) else p * p


def l1(params: Any) -> Any:
    """Σ |θ| over the given parameters (Tensors, Values or a Module); subgradient sign(θ), 0 at 0.

    Example:
        >>> from autograd_lite import Tensor
        >>> W = Tensor([[1.0, -2.0], [0.0, 3.0]], requires_grad=True)
        >>> r = l1([W]); r.backward(); r.item(), W.grad
        (6.0, array([[ 1., -1.],
               [ 0.,  1.]]))
    """
    nodes = _nodes(params)
    if not nodes:
        raise ValueError("l1: no parameters given")
    return _sum_nodes([_abs_sum(p) for p in nodes])


def l2(params: Any) -> Any:
    """Σ θ² (the squared L2 norm, the seeds' |W|²₂) over the given parameters; gradient 2θ.

    Example:
        >>> from autograd_lite import Tensor
        >>> W = Tensor([1.0, -2.0], requires_grad=True)
        >>> r = l2([W]); r.backward(); r.item(), W.grad
        (5.0, array([ 2., -4.]))
    """
    nodes = _nodes(params)
    if not nodes:
        raise ValueError("l2: no parameters given")
    return _sum_nodes([_square_sum(p) for p in nodes])


def _split_name(name: str) -> tuple[str, str]:
    """'fc1.W' -> ('fc1', 'W'); 'fc1.W[0,3]' -> ('fc1', 'W'); 'b' -> ('', 'b')."""
    group, _, last = name.rpartition(".")
    return group, last.split("[", 1)[0]


def _is_bias(kind: str) -> bool:
    return kind in ("b", "bias")


class ElasticNet:
    """The seeds' elastic-net penalty Σ_layers (λ₁ |W|₁ + λ₂ |W|²₂): a callable ``model -> penalty node``.

    ``l1``, ``l2``: one global pair for every layer; or ``per_layer=[(λ11, λ12), (λ21, λ22), ...]``,
    one pair per layer in `named_parameters` order (a layer is the module holding the weights, e.g.
    ``fc1``). Weights only by default; ``biases=True`` also penalizes biases (with the same λ).
    The gradient added to a weight is λ₁ sign(W) + 2 λ₂ W (sign(0) = 0).

    Example:
        >>> from autograd_lite.nn import MLP
        >>> model = MLP([2, 3, 2], seed=0)
        >>> penalty = ElasticNet(per_layer=[(0.1, 0.0), (0.0, 0.5)])
        >>> penalty
        ElasticNet(per_layer=[(0.1, 0.0), (0.0, 0.5)])
        >>> import numpy as np
        >>> W1, W2 = model.fc1.W.data, model.fc2.W.data
        >>> bool(np.isclose(penalty(model).item(), 0.1 * np.abs(W1).sum() + 0.5 * (W2 ** 2).sum()))
        True
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0,
                 per_layer: Iterable[tuple[float, float]] | None = None, biases: bool = False) -> None:
        self.per_layer = None if per_layer is None else [(float(a), float(b)) for a, b in per_layer]
        self.l1 = float(l1)
        self.l2 = float(l2)
        pairs = self.per_layer if self.per_layer is not None else [(self.l1, self.l2)]
        for a, b in pairs:
            if not (np.isfinite(a) and np.isfinite(b) and a >= 0 and b >= 0):
                raise ValueError(f"ElasticNet: lambdas must be finite and >= 0, got ({a}, {b})")
        if per_layer is not None and (l1 or l2):
            raise ValueError("ElasticNet: give either global l1/l2 or per_layer pairs, not both")
        self.biases = bool(biases)

    def __repr__(self) -> str:
        if self.per_layer is not None:
            body = f"per_layer={self.per_layer}"
        else:
            body = f"l1={self.l1:g}, l2={self.l2:g}"
        return f"ElasticNet({body}{', biases=True' if self.biases else ''})"

    def layers(self, model: Any) -> list[tuple[str, list[Node]]]:
        """The penalized parameters grouped by layer: [(layer name, [params]), ...] in model order.

        Example:
            >>> from autograd_lite.nn import MLP
            >>> [(name, len(ps)) for name, ps in ElasticNet(l1=1.0).layers(MLP([2, 3, 2]))]
            [('fc1', 1), ('fc2', 1)]
        """
        groups: dict[str, list[Node]] = {}
        for name, p in model.named_parameters():
            group, kind = _split_name(name)
            if _is_bias(kind) and not self.biases:
                continue
            groups.setdefault(group, []).append(p)
        return list(groups.items())

    def __call__(self, model: Any) -> Any:
        layers = self.layers(model)
        if self.per_layer is not None and len(self.per_layer) != len(layers):
            raise ValueError(
                f"ElasticNet: per_layer has {len(self.per_layer)} (l1, l2) pairs but the model has "
                f"{len(layers)} weight layers {[n for n, _ in layers]}; give one pair per layer")
        pairs = self.per_layer if self.per_layer is not None else [(self.l1, self.l2)] * len(layers)
        terms: list[Any] = []
        with scope("elastic_net"):
            for (_, params), (a, b) in zip(layers, pairs):
                if a:
                    terms.append(a * l1(params))
                if b:
                    terms.append(b * l2(params))
            if not terms:  # all lambdas zero: a zero penalty that still depends on the weights
                first = layers[0][1][0]
                terms.append(_abs_sum(first) * 0.0)
            return _sum_nodes(terms)


def elastic_net(model: Any, l1: float = 0.0, l2: float = 0.0,
                per_layer: Iterable[tuple[float, float]] | None = None, biases: bool = False) -> Any:
    """The elastic-net penalty of ``model`` now (see `ElasticNet`); add it to the empirical risk.

    Example:
        >>> from autograd_lite.nn import MLP
        >>> elastic_net(MLP([2, 2, 2], init="zeros"), l1=1.0, l2=1.0).item()
        0.0
    """
    return ElasticNet(l1, l2, per_layer, biases)(model)


Regularizer = Callable[[Any], Any]
