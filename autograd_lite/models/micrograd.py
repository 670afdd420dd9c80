"""micrograd's `nn` shapes on our `Value`: `Neuron`, `Layer`, `MLP(nin, nouts)`.

Code written for micrograd's ``nn`` module runs here with only the import changed. The classes
keep micrograd's constructor signatures, call results (a Layer with one neuron and an MLP with
one output return the Value itself, a list otherwise), parameter order (each neuron's weights,
then its bias) and initialisation: every weight is drawn with ``random.uniform(-1, 1)`` from
Python's global `random` module and every bias starts at 0, so after the same ``random.seed`` a
model here holds the very weights micrograd's would. Hidden layers apply ReLU, the last layer
is linear.

Our own models (`autograd_lite.nn.ValueMLP`, `autograd_lite.nn.MLP`) keep their list-of-sizes
signature, seeds and state dicts; these classes are the bridge for existing micrograd code.

The import paths micrograd users type also work: ``autograd_lite.micrograd.engine`` holds
`Value` and ``autograd_lite.micrograd.nn`` these classes.

Example:
    >>> import random
    >>> from autograd_lite.micrograd import MLP
    >>> random.seed(0)
    >>> model = MLP(2, [4, 1])
    >>> y = model([1.0, -2.0])          # one output: a Value, not a list
    >>> loss = (y - 1.0) ** 2
    >>> loss.backward()
    >>> len(model.parameters())         # (2 + 1) * 4 + (4 + 1) * 1
    17
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any

from ..core.engine import zero_grad
from ..core.value import Value

__all__ = ["MLP", "Layer", "Module", "Neuron", "Value"]


class Module:
    """The base of micrograd's modules: `parameters()` and `zero_grad()`.

    Example:
        >>> Module().parameters()
        []
    """

    def zero_grad(self) -> None:
        """Set ``.grad`` of every parameter to 0.

        Example:
            >>> n = Neuron(2); n.w[0].grad = 3.0; n.zero_grad(); n.w[0].grad
            0.0
        """
        zero_grad(self.parameters())  # 0.0 for Values, and a running compile trace is told

    def parameters(self) -> list[Value]:
        """The trainable Values, in a fixed order (none for the base class)."""
        return []


class Neuron(Module):
    """One neuron: ``relu(w · x + b)`` (or ``w · x + b`` with ``nonlin=False``).

    ``w`` holds ``nin`` weights drawn by ``random.uniform(-1, 1)``; ``b`` starts at 0.

    Example:
        >>> n = Neuron(3, nonlin=False)
        >>> n
        LinearNeuron(3)
        >>> out = n([1.0, 0.0, 0.0])
        >>> out.data == n.w[0].data
        True
    """

    def __init__(self, nin: int, nonlin: bool = True) -> None:
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = nonlin

    def __call__(self, x: Iterable[Any]) -> Value:
        # the bias is the start value of the sum: the same graph (and the same float rounding)
        # as micrograd builds
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self) -> list[Value]:
        """The weights, then the bias.

        Example:
            >>> len(Neuron(4).parameters())
            5
        """
        return [*self.w, self.b]

    def __repr__(self) -> str:
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs; one neuron gives a Value, more a list.

    Keyword arguments (``nonlin=``) go to every `Neuron`.

    Example:
        >>> layer = Layer(2, 3)
        >>> len(layer([1.0, 2.0]))
        3
        >>> isinstance(Layer(2, 1)([1.0, 2.0]), Value)
        True
    """

    def __init__(self, nin: int, nout: int, **kwargs: Any) -> None:
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x: Iterable[Any]) -> Value | list[Value]:
        x = list(x)  # every neuron reads all inputs: a generator would be used up by the first
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        """Every neuron's parameters, neuron by neuron.

        Example:
            >>> len(Layer(3, 2).parameters())
            8
        """
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """A multilayer perceptron ``MLP(nin, nouts)``: ReLU hidden layers, a linear last layer.

    ``nouts`` lists the layer widths, e.g. ``MLP(2, [16, 16, 1])``. Called on one example (a list
    of ``nin`` numbers or Values) it returns a Value when the last width is 1, else a list.

    Example:
        >>> model = MLP(3, [4, 4, 1])
        >>> model
        MLP of [Layer of [ReLUNeuron(3), ReLUNeuron(3), ReLUNeuron(3), ReLUNeuron(3)], Layer of \
[ReLUNeuron(4), ReLUNeuron(4), ReLUNeuron(4), ReLUNeuron(4)], Layer of [LinearNeuron(4)]]
        >>> y = model([2.0, 3.0, -1.0])
        >>> (y - 1.0).data == y.data - 1.0
        True
    """

    def __init__(self, nin: int, nouts: Sequence[int]) -> None:
        if isinstance(nin, Sequence) or isinstance(nouts, int):
            raise TypeError(
                f"MLP(nin, nouts): micrograd's signature is an input size and a list of layer "
                f"widths, e.g. MLP(2, [16, 16, 1]); got MLP({nin!r}, {nouts!r}). For a list of "
                "all sizes use autograd_lite.nn.ValueMLP([2, 16, 16, 1]).")
        sizes = [nin, *nouts]
        last = len(nouts) - 1
        self.layers = [Layer(sizes[i], sizes[i + 1], nonlin=i != last) for i in range(len(nouts))]

    def __call__(self, x: Iterable[Any]) -> Any:
        out: Any = x
        for layer in self.layers:
            # a hidden layer one neuron wide gives a Value: the next layer reads it as one input
            out = layer([out] if isinstance(out, Value) else out)
        return out

    def parameters(self) -> list[Value]:
        """Every layer's parameters, layer by layer.

        Example:
            >>> len(MLP(2, [3, 1]).parameters())   # (2 + 1) * 3 + (3 + 1) * 1
            13
        """
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
