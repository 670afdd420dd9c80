"""Every op as a function: ``F.softmax(t)``, ``F.sigmoid(v)``, ``F.relu([v, w])``...

The functions are made from the rule table: each rule with a method becomes a function that calls
that method, so it works on a `Tensor`, on a `Value` (for the elementwise ops), on a (nested) list
of Values (elementwise, keeping the graph), and on numpy arrays and numbers (constant Tensors).
``concatenate, stack, where, maximum, minimum, clip, matmul, one_hot`` are `autograd_lite.core.tensor`'s
functions, re-exported; ``squeeze, unsqueeze, flatten`` are shape helpers built on ``reshape``.

Example:
    >>> import autograd_lite.functional as F
    >>> from autograd_lite import Tensor, Value
    >>> x = Tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    >>> round(F.log_softmax(x).exp().sum().item(), 12)
    1.0
    >>> v, w = Value(-1.0), Value(2.0)
    >>> ys = F.relu([v, w]); (ys[0] + ys[1]).backward(); v.grad, w.grad
    (0.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .engine import Node
from .rules import RULES
from .tensor import Tensor, _lift, clip, concatenate, matmul, maximum, minimum, one_hot, stack, where  # noqa: F401  (re-exported)
from .value import Value

_TENSOR_FUNCTIONS = ["clip", "concatenate", "matmul", "maximum", "minimum", "one_hot", "stack", "where"]
_SHAPE_HELPERS = ["squeeze", "unsqueeze", "flatten"]


def _apply_method(x: Any, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``x.method(*args, **kwargs)`` for a node, elementwise over a (nested) list of Values, or on
    a constant Tensor for an array or a number. Iterative, so long lists need no recursion."""
    values = isinstance(x, Value) or (isinstance(x, list | tuple) and _holds_values(x))
    if values and "Value" not in RULES_BY_METHOD[method].nodes:
        raise TypeError(f"{method}: works on Tensors (an array op), got Values; use Tensor(...) "
                        "for arrays, or Tensor ops throughout")
    if isinstance(x, Node):
        return getattr(x, method)(*args, **kwargs)
    if not values:
        return getattr(_lift(x, method), method)(*args, **kwargs)
    out: list[Any] = []
    stack_: list[tuple[Any, list[Any]]] = [(x, out)]
    while stack_:
        items, into = stack_.pop()
        for item in items:
            if isinstance(item, list | tuple):
                into.append([])
                stack_.append((item, into[-1]))
            else:
                v = item if isinstance(item, Node) else Value(item, requires_grad=False)
                into.append(getattr(v, method)(*args, **kwargs))
    return out


def _holds_values(x: list[Any] | tuple[Any, ...]) -> bool:
    stack_ = [x]
    while stack_:
        for item in stack_.pop():
            if isinstance(item, Value):
                return True
            if isinstance(item, list | tuple):
                stack_.append(item)
    return False


# arguments for the generated examples of ops that need some
_EXAMPLE_ARGS = {"reshape": "(2, 1)", "broadcast_to": "(3, 1, 2)", "astype": "'float32'", "clip": "0.0, 1.0",
                 "unsqueeze": "0", "leaky_relu": "0.1"}


def _function(method: str, doc: str) -> Callable[..., Any]:
    def op(x: Any, *args: Any, **kwargs: Any) -> Any:
        return _apply_method(x, method, args, kwargs)

    a = _EXAMPLE_ARGS.get(method, "")
    op.__name__ = op.__qualname__ = method
    op.__doc__ = (f"``x.{method}(...)`` as a function: {doc}\n\n"
                  "Example:\n"
                  "    >>> import numpy as np\n"
                  "    >>> from autograd_lite import Tensor, functional as F\n"
                  "    >>> t = Tensor([[0.5, 2.0]])\n"
                  f"    >>> bool(np.array_equal(F.{method}(t{', ' + a if a else ''}).data,\n"
                  f"    ...                     t.{method}({a}).data))\n"
                  "    True\n")
    return op


RULES_BY_METHOD = {r.method: r for r in RULES.values() if r.method}
_shape_doc = "A shape helper built on reshape (the gradient is reshaped back)."
for _m, _doc in [*((m, r.doc) for m, r in RULES_BY_METHOD.items()),
                 *((m, _shape_doc) for m in _SHAPE_HELPERS)]:
    globals()[_m] = _function(_m, _doc)
RULES_BY_METHOD.update({m: RULES["reshape"] for m in _SHAPE_HELPERS})

__all__ = sorted({*RULES_BY_METHOD, *_TENSOR_FUNCTIONS})


def __getattr__(name: str) -> Callable[..., Any]:
    """An op that is not in the table: say which ones are (also lets type checkers see the
    functions made above)."""
    raise AttributeError(f"autograd_lite.functional has no op {name!r}; the ops are: {', '.join(__all__)}")
