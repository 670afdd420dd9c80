"""Neural-network modules on `Tensor` (fast path) and on `Value` (scalar path for teaching).

The seeds' model (one hidden layer): h^a = W1 x + b1, h^s = LeakyReLU_α(h^a), o^a = W2 h^s + b2,
o^s = softmax(o^a). `MLP` builds it from `Linear` layers (W of shape (d_out, d_in) as in the seeds;
a batch X of shape (n, d_in) gives X Wᵀ + b); `ValueMLP` builds the same network from `Value`
`Neuron`s, with the same constructor, parameter names (``fc1.W``, ``fc1.b``, ...), state dicts and
initial weights for a given seed, so both can be compared number by number. The softmax lives in
the loss (`autograd_lite.losses.cross_entropy`): models return the logits o^a.

Every module call runs inside `autograd_lite.core.engine.scope`, so each node a module creates is
tagged with the module; `draw_graph` draws those nodes as one box per module.

Example:
    >>> import numpy as np
    >>> from autograd_lite.nn import MLP
    >>> model = MLP([4, 8, 3], activation="leaky_relu", alpha=0.1, seed=0)
    >>> model.num_parameters()          # n_θ = d_h d + d_h + m d_h + m
    67
    >>> model(np.ones((5, 4))).shape
    (5, 3)
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..core.engine import Node, scope, zero_grad
from ..core.ops import leaky_relu, relu, sigmoid, softplus, tanh
from ..core.tensor import Tensor
from ..core.value import Value

__all__ = [
    "MLP",
    "Identity",
    "Layer",
    "LeakyReLU",
    "Linear",
    "Module",
    "Neuron",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softplus",
    "Tanh",
    "ValueMLP",
    "activation",
    "leaky_relu",
    "relu",
    "sigmoid",
    "softplus",
    "tanh",
]

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "softplus", "identity")


# ------------------------------------------------------------------------------ activation functions

# ------------------------------------------------------------------------------------------ Module

class Module:
    """Base class: parameters, names, train/eval mode, state dicts and ``.npz`` files.

    Subclasses set their parameters (Tensors with ``requires_grad=True``, or `Value`s) and their
    sub-modules as attributes and define ``forward``. Names follow attribute order, dotted for
    sub-modules (``fc1.W``), so they are stable. Calling a module runs ``forward`` inside
    ``engine.scope`` (the graph renderer draws each module as a box).

    Example:
        >>> import numpy as np
        >>> from autograd_lite import Tensor
        >>> class Scale(Module):
        ...     def __init__(self):
        ...         self.s = Tensor([2.0], requires_grad=True)
        ...     def forward(self, x):
        ...         return x * self.s
        >>> m = Scale()
        >>> [name for name, _ in m.named_parameters()], m(np.ones(3)).data
        (['s'], array([2., 2., 2.]))
    """

    training: bool = True
    _name: str | None = None
    _atomic = False  # True: the module handles its own state/parameters (children are not walked)

    def forward(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.forward is not defined")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        label = f"{self._name}: {type(self).__name__}" if self._name else type(self).__name__
        with scope(label, self):
            return self.forward(*args, **kwargs)

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Module) and not name.startswith("_"):
            object.__setattr__(value, "_name", name)
        object.__setattr__(self, name, value)

    # --- walking -------------------------------------------------------------------------------------
    def _members(self) -> Iterator[tuple[str, Any]]:
        """(name, sub-module or node) for every public attribute, lists flattened as name.i."""
        for name, v in vars(self).items():
            if name.startswith("_"):
                continue
            if isinstance(v, Module | Node):
                yield name, v
            elif isinstance(v, list | tuple) and v and all(isinstance(e, Module | Node) for e in v):
                for i, e in enumerate(v):
                    yield f"{name}.{i}", e

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules with their attribute names.

        Example:
            >>> [n for n, _ in MLP([2, 3, 2]).named_children()]
            ['fc1', 'act1', 'fc2']
        """
        if self._atomic:
            return
        for name, v in self._members():
            if isinstance(v, Module):
                yield name, v

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and all sub-modules, depth first, with dotted names ('' for this one).

        Example:
            >>> [n for n, _ in MLP([2, 3, 2]).named_modules()]
            ['', 'fc1', 'act1', 'fc2']
        """
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Node]]:
        """(dotted name, parameter) pairs in a stable order (attribute order, depth first).

        Example:
            >>> [n for n, _ in MLP([2, 3, 2]).named_parameters()]
            ['fc1.W', 'fc1.b', 'fc2.W', 'fc2.b']
        """
        for name, v in self._members():
            full = f"{prefix}.{name}" if prefix else name
            if isinstance(v, Module):
                yield from v.named_parameters(full)
            elif v.requires_grad:
                yield full, v

    def parameters(self) -> list[Node]:
        """All parameters (the nodes an optimizer updates), in `named_parameters` order.

        Example:
            >>> [p.shape for p in MLP([2, 3, 2]).parameters()]
            [(3, 2), (3,), (2, 3), (2,)]
        """
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        """The number of scalar parameters n_θ.

        Example:
            >>> MLP([64, 32, 10]).num_parameters()   # 32*64 + 32 + 10*32 + 10
            2410
        """
        return sum(int(np.size(p.data)) for p in self.parameters())

    def zero_grad(self) -> None:
        """Reset the gradient of every parameter (call before each backward of a training step).

        Example:
            >>> import numpy as np
            >>> m = MLP([2, 2, 2]); m(np.ones((1, 2))).sum().backward(); m.zero_grad()
            >>> m.fc1.W.grad is None
            True
        """
        zero_grad(self.parameters())

    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and all sub-modules (returns self).

        Example:
            >>> MLP([2, 2, 2]).train().training
            True
        """
        for _, m in self.named_modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Set evaluation mode (``training = False``) everywhere (returns self).

        Example:
            >>> MLP([2, 2, 2]).eval().fc1.training
            False
        """
        return self.train(False)

    # --- state -----------------------------------------------------------------------------------------
    def _own_state(self, what: str = "data") -> dict[str, np.ndarray]:
        """Copies of the parameters this module holds directly (not through sub-modules);
        ``what="grad"`` gives their gradients instead (zeros where none was computed)."""
        out: dict[str, np.ndarray] = {}
        for name, v in vars(self).items():
            if name.startswith("_"):
                continue
            if isinstance(v, Node) and v.requires_grad:
                out[name] = _read(v, what)
            elif isinstance(v, list | tuple) and v and all(isinstance(e, Value) for e in v):
                out[name] = np.array([_read(e, what) for e in v], dtype=np.float64)
        return out

    def _load_own(self, arrays: dict[str, np.ndarray]) -> None:
        """Write validated arrays (same keys and shapes as `_own_state`) into the parameters."""
        for name, arr in arrays.items():
            v = getattr(self, name)
            if isinstance(v, Value):
                v.data = float(arr)
            elif isinstance(v, Node):
                v.data[...] = arr
            else:
                for e, a in zip(v, arr.tolist()):
                    e.data = float(a)

    def grad_dict(self) -> dict[str, np.ndarray]:
        """Name -> gradient array of every parameter, in the layout of `state_dict` (zeros before backward).

        Handy to compare with a hand derivation: ``model.grad_dict()["fc1.W"]`` is dL/dW1 for a
        `Tensor` MLP and for its `Value` twin alike.

        Example:
            >>> import numpy as np
            >>> m = MLP([2, 3, 2]); m(np.ones((1, 2))).sum().backward()
            >>> m.grad_dict()["fc2.b"]
            array([1., 1.])
        """
        out: dict[str, np.ndarray] = {}
        for prefix, module in self.named_modules():
            for name, arr in module._own_state("grad").items():
                out[f"{prefix}.{name}" if prefix else name] = arr
        return out

    def state_dict(self) -> dict[str, np.ndarray]:
        """Name -> ndarray copy of every parameter (``fc1.W`` of shape (d_h, d), ...).

        `Tensor` and `Value` versions of a network give the same keys and shapes, so either can load
        the other's state.

        Example:
            >>> {k: v.shape for k, v in MLP([3, 2, 2]).state_dict().items()}
            {'fc1.W': (2, 3), 'fc1.b': (2,), 'fc2.W': (2, 2), 'fc2.b': (2,)}
        """
        out: dict[str, np.ndarray] = {}
        for prefix, module in self.named_modules():
            for name, arr in module._own_state().items():
                out[f"{prefix}.{name}" if prefix else name] = arr
        return out

    def load_state_dict(self, state: dict[str, Any]) -> Module:
        """Load parameters from ``state`` (e.g. another model's `state_dict`); returns self.

        Everything is checked before anything is written (same keys, same shapes, real finite
        numbers), so a bad state raises a `ValueError` naming the problem and leaves the model
        unchanged.

        Example:
            >>> a, b = MLP([3, 4, 2], seed=0), MLP([3, 4, 2], seed=1)
            >>> bool((b.load_state_dict(a.state_dict()).fc1.W.data == a.fc1.W.data).all())
            True
        """
        current = self.state_dict()
        where = type(self).__name__
        missing = [k for k in current if k not in state]
        extra = [k for k in state if k not in current]
        if missing or extra:
            raise ValueError(
                f"{where}.load_state_dict: the keys do not match this model: missing {missing}, "
                f"unexpected {extra}. Expected {list(current)}; was the state saved from a model "
                "with other layer sizes or names?")
        checked: dict[str, np.ndarray] = {}
        for key, ref in current.items():
            arr = np.asarray(state[key].data if isinstance(state[key], Node) else state[key])
            if arr.dtype.kind not in "fiu":
                raise ValueError(f"{where}.load_state_dict: {key!r} has dtype {arr.dtype}; parameters "
                                 "must be real numbers")
            if arr.shape != ref.shape:
                raise ValueError(
                    f"{where}.load_state_dict: {key!r} has shape {arr.shape} but this model's parameter "
                    f"has shape {ref.shape}; build the model with the sizes the state was saved from")
            if not np.isfinite(arr).all():
                raise ValueError(f"{where}.load_state_dict: {key!r} contains NaN or infinite values")
            checked[key] = arr.astype(ref.dtype)
        for prefix, module in self.named_modules():
            own = module._own_state()
            if own:
                module._load_own({name: checked[f"{prefix}.{name}" if prefix else name] for name in own})
        return self

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the `state_dict` to ``path`` as an ``.npz`` file (exactly that path, no suffix added).

        Example:
            >>> import tempfile, os
            >>> m = MLP([2, 3, 2], seed=0)
            >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
            >>> m.save(path); bool((MLP([2, 3, 2], seed=5).load(path).fc2.W.data == m.fc2.W.data).all())
            True
        """
        with open(path, "wb") as f:
            arrays: dict[str, Any] = self.state_dict()
            np.savez(f, **arrays)

    def load(self, path: str | os.PathLike[str]) -> Module:
        """Load parameters saved by `save` (``np.load`` with ``allow_pickle=False``); returns self.

        A file that is not an ``.npz`` of plain arrays (e.g. a pickled object), or whose keys or
        shapes do not match this model, raises a `ValueError` and leaves the model unchanged.

        Example:
            >>> MLP([2, 2, 2]).load("/nonexistent.npz")
            Traceback (most recent call last):
            ...
            FileNotFoundError: [Errno 2] No such file or directory: '/nonexistent.npz'
        """
        where = f"{type(self).__name__}.load({os.fspath(path)!r})"
        try:
            loaded = np.load(path, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):  # np.load of a .npy file: one array
                raise ValueError(f"{where}: this is a single .npy array, not an .npz archive written by "
                                 "Module.save")
            with loaded as f:
                state = {k: f[k] for k in f.files}
        except FileNotFoundError:
            raise
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
            if str(err).startswith(where):
                raise
            raise ValueError(
                f"{where}: cannot read the file as an .npz archive of plain arrays ({err}). Only files "
                "written by Module.save (numpy arrays, no pickled Python objects) can be loaded; "
                "pickles are refused because loading them can run arbitrary code.") from None
        try:
            return self.load_state_dict(state)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None

    # --- display ----------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's one-line repr (sizes, options)."""
        return ""

    def __repr__(self) -> str:
        lines = self._repr_lines()
        if self._name is None:  # the outermost module: add the parameter count
            lines.append(f"n_params = {self.num_parameters():,}")
        return "\n".join(lines)

    def _repr_lines(self) -> list[str]:
        children = list(self.named_children())
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not children:
            return [head + ")"]
        lines = [head + ("" if head.endswith("(") else ",")]
        for name, child in children:
            sub = child._repr_lines()
            lines.append(f"  ({name}): {sub[0]}")
            lines.extend("  " + s for s in sub[1:])
        lines.append(")")
        return lines


def _read(node: Node, what: str) -> np.ndarray:
    """A copy of ``node.data`` or ``node.grad`` as an array (a missing Tensor gradient reads as zeros)."""
    x = getattr(node, what)
    if x is None:
        return np.zeros_like(node.data)
    if isinstance(x, Node):  # a gradient built with create_graph=True
        x = x.data
    return np.array(x, dtype=np.float64 if isinstance(node, Value) else node.data.dtype)


# ------------------------------------------------------------------------------- activation modules

class _Activation(Module):
    fn: Callable[..., Any]

    def forward(self, x: Any) -> Any:
        return type(self).fn(x)


class Identity(Module):
    """The identity (no activation).

    Example:
        >>> Identity()(3.0)
        3.0
    """

    def forward(self, x: Any) -> Any:
        return x


def _activation_class(name: str, fn: Callable[..., Any]) -> type[_Activation]:
    doc = (f"`{fn.__name__}` as a module.\n\n"
           "Example:\n"
           "    >>> from autograd_lite import Tensor\n"
           f"    >>> x = Tensor([-1.0, 0.5])\n"
           f"    >>> {name}()(x).data.tolist() == {fn.__name__}(x).data.tolist()\n"
           "    True\n")
    return type(name, (_Activation,), {"fn": staticmethod(fn), "__doc__": doc, "__module__": __name__})


ReLU = _activation_class("ReLU", relu)
Tanh = _activation_class("Tanh", tanh)
Sigmoid = _activation_class("Sigmoid", sigmoid)
Softplus = _activation_class("Softplus", softplus)


class LeakyReLU(Module):
    """`leaky_relu` with slope ``alpha`` (< 1) for negative inputs, as a module.

    Example:
        >>> from autograd_lite import Tensor
        >>> LeakyReLU(0.1)(Tensor([-1.0, 2.0])).data
        array([-0.1,  2. ])
    """

    def __init__(self, alpha: float = 0.01) -> None:
        alpha = float(alpha)
        if not (np.isfinite(alpha) and 0.0 <= alpha < 1.0):
            raise ValueError(f"LeakyReLU: alpha must satisfy 0 <= alpha < 1 (the seeds' α < 1), got {alpha}")
        self.alpha = alpha

    def forward(self, x: Any) -> Any:
        return leaky_relu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha:g}"


def activation(name: str, alpha: float = 0.01) -> Module:
    """The activation module for a name: 'relu', 'leaky_relu', 'tanh', 'sigmoid', 'softplus', 'identity'.

    Example:
        >>> activation("leaky_relu", alpha=0.2)
        LeakyReLU(alpha=0.2)
        n_params = 0
    """
    if isinstance(name, Module):
        return name
    table: dict[str, Callable[[], Module]] = {
        "relu": ReLU, "leaky_relu": lambda: LeakyReLU(alpha), "tanh": Tanh, "sigmoid": Sigmoid,
        "softplus": Softplus, "identity": Identity,
    }
    if name not in table:
        raise ValueError(f"activation: unknown activation {name!r}; choose one of {list(ACTIVATIONS)}")
    return table[name]()


# ------------------------------------------------------------------------------------ initialization

INITS = ("auto", "he", "glorot", "zeros")


def init_weight(d_in: int, d_out: int, init: str = "he", rng: np.random.Generator | int | None = 0,
                alpha: float = 0.0) -> np.ndarray:
    """A seeded initial weight matrix of shape (d_out, d_in).

    * "he": normal with std √(2 / ((1 + α²) d_in)) (He et al. 2015; α the leaky slope, 0 for ReLU).
    * "glorot": uniform on [-a, a], a = √(6 / (d_in + d_out)) (Glorot & Bengio 2010; tanh, sigmoid).
    * "zeros": all zeros (for tests; a network initialized this way cannot break symmetry).

    Example:
        >>> init_weight(3, 2, "glorot", rng=0).shape
        (2, 3)
    """
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if init == "he":
        return gen.normal(0.0, np.sqrt(2.0 / ((1.0 + alpha ** 2) * d_in)), size=(d_out, d_in))
    if init == "glorot":
        a = np.sqrt(6.0 / (d_in + d_out))
        return gen.uniform(-a, a, size=(d_out, d_in))
    if init == "zeros":
        return np.zeros((d_out, d_in))
    raise ValueError(f"init_weight: unknown init {init!r}; choose 'he', 'glorot' or 'zeros'")


def _mlp_plan(mlp: Module, sizes: Sequence[int], activation: str, alpha: float, init: str,
              seed: int | None, output_activation: str | None) -> tuple[list[int], Any, str, float]:
    """What `MLP` and `ValueMLP` share: the layer sizes, the seeded generator (so both make the same
    draws in the same order), the init kind and the init slope; records the hyperparameters."""
    plan = _layer_plan(sizes, activation, output_activation)
    mlp.sizes, mlp.activation_name, mlp.alpha = plan, activation, float(alpha)
    return plan, np.random.default_rng(seed), _auto_init(init, activation), (
        alpha if activation == "leaky_relu" else 0.0)


def _auto_init(init: str, act: str) -> str:
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {list(INITS)}")
    if init != "auto":
        return init
    return "he" if act in ("relu", "leaky_relu") else "glorot"


def _check_size(n: Any, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"{what} must be a positive integer, got {n!r}")
    return int(n)


# -------------------------------------------------------------------------------------- Tensor layers

class Linear(Module):
    """Affine layer y = W x + b with W of shape (d_out, d_in) and b of shape (d_out,), as in the seeds.

    A batch X of shape (n, d_in) (one example per row) gives X Wᵀ + b of shape (n, d_out); a single
    example of shape (d_in,) gives shape (d_out,). Inputs may be ndarrays (constants) or Tensors.

    Example:
        >>> import numpy as np
        >>> lin = Linear(3, 2, seed=0)
        >>> lin.W.shape, lin.b.shape, lin(np.ones((4, 3))).shape
        ((2, 3), (2,), (4, 2))
    """

    def __init__(self, d_in: int, d_out: int, init: str = "he", seed: np.random.Generator | int | None = 0,
                 alpha: float = 0.0, bias: bool = True) -> None:
        self.d_in = _check_size(d_in, "Linear: d_in")
        self.d_out = _check_size(d_out, "Linear: d_out")
        self.W = Tensor(init_weight(self.d_in, self.d_out, _auto_init(init, "relu"), seed, alpha),
                        requires_grad=True)
        if bias:
            self.b = Tensor(np.zeros(self.d_out), requires_grad=True)

    def forward(self, x: Any) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(np.asarray(x, dtype=np.float64))
        if x.ndim not in (1, 2) or x.shape[-1] != self.d_in:
            raise ValueError(
                f"Linear({self.d_in} -> {self.d_out}): input has shape {x.shape}; expected ({self.d_in},) "
                f"for one example or (n, {self.d_in}) for a batch of n examples (one per row)")
        y = x @ self.W.T
        return y + self.b if hasattr(self, "b") else y

    def extra_repr(self) -> str:
        return f"{self.d_in} -> {self.d_out}" + ("" if hasattr(self, "b") else ", bias=False")


class Sequential(Module):
    """Modules applied one after the other; children are named '0', '1', ... or by keyword.

    Example:
        >>> import numpy as np
        >>> net = Sequential(Linear(2, 3), ReLU(), Linear(3, 1))
        >>> net(np.ones((5, 2))).shape, [n for n, _ in net.named_children()]
        ((5, 1), ['0', '1', '2'])
    """

    def __init__(self, *modules: Module, **named: Module) -> None:
        for i, m in enumerate(modules):
            self._add(str(i), m)
        for name, m in named.items():
            self._add(name, m)

    def _add(self, name: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: {name!r} is a {type(module).__name__}, not a Module")
        setattr(self, name, module)

    def forward(self, x: Any) -> Any:
        for _, m in self.named_children():
            x = m(x)
        return x

    def intermediates(self, x: Any) -> dict[str, Any]:
        """Run forward and return every child's output by name (h^a, h^s, o^a for the seeds' MLP).

        Their ``.grad`` after ``backward()`` are dL/dh^a, dL/dh^s, dL/do^a.

        Example:
            >>> import numpy as np
            >>> out = MLP([2, 3, 2]).intermediates(np.ones((4, 2)))
            >>> {k: v.shape for k, v in out.items()}
            {'fc1': (4, 3), 'act1': (4, 3), 'fc2': (4, 2)}
        """
        out: dict[str, Any] = {}
        with scope(self._name or type(self).__name__, self):
            for name, m in self.named_children():
                x = m(x)
                out[name] = x
        return out


def _layer_plan(sizes: Sequence[int], act: str, output_activation: str | None) -> list[int]:
    if isinstance(sizes, int) and isinstance(act, list | tuple):  # micrograd's MLP(nin, nouts)
        widths = [sizes, *act]
        raise TypeError(f"MLP({sizes!r}, {list(act)!r}) is micrograd's signature (nin, nouts); here all "
                        f"sizes go in one list: MLP({widths!r}) / ValueMLP({widths!r}), or use "
                        f"autograd_lite.micrograd.MLP({sizes!r}, {list(act)!r}) for micrograd's model")
    if isinstance(sizes, int) or len(sizes) < 2:
        raise ValueError(f"MLP: sizes must list at least [d_in, d_out] (e.g. [64, 32, 10] for one hidden "
                         f"layer), got {sizes!r}")
    if act not in ACTIVATIONS:
        raise ValueError(f"MLP: unknown activation {act!r}; choose one of {list(ACTIVATIONS)}")
    if output_activation is not None and output_activation not in ACTIVATIONS:
        raise ValueError(f"MLP: unknown output_activation {output_activation!r}; choose one of "
                         f"{list(ACTIVATIONS)} or None (logits)")
    return [_check_size(n, f"MLP: sizes[{i}]") for i, n in enumerate(sizes)]


class MLP(Sequential):
    """Multilayer perceptron: ``fc1, act1, fc2, act2, ..., fcL`` (the last layer gives logits).

    ``MLP([d, d_h, m], activation="leaky_relu", alpha=α)`` is the seeds' network; add
    ``output_activation`` only for non-classification outputs (the softmax belongs to the loss).
    Weights use a seeded He (ReLU family) or Glorot (tanh, sigmoid) init, biases start at 0.

    Example:
        >>> MLP([64, 32, 10], activation="leaky_relu", alpha=0.01, seed=0)
        MLP(
          (fc1): Linear(64 -> 32)
          (act1): LeakyReLU(alpha=0.01)
          (fc2): Linear(32 -> 10)
        )
        n_params = 2,410
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", alpha: float = 0.01,
                 init: str = "auto", seed: int | None = 0, output_activation: str | None = None) -> None:
        sizes, rng, kind, slope = _mlp_plan(self, sizes, activation, alpha, init, seed, output_activation)
        n = len(sizes) - 1
        for i in range(n):
            setattr(self, f"fc{i + 1}", Linear(sizes[i], sizes[i + 1], kind, rng, slope))
            if i < n - 1:
                setattr(self, f"act{i + 1}", _activation_module(activation, alpha))
        if output_activation not in (None, "identity"):
            self.out_act = _activation_module(output_activation, alpha)


def _activation_module(name: str, alpha: float) -> Module:
    return activation(name, alpha)


# -------------------------------------------------------------------------------- Value (scalar) path

def _is_batch(x: Any) -> bool:
    if isinstance(x, np.ndarray):
        return x.ndim == 2
    return isinstance(x, list | tuple) and len(x) > 0 and isinstance(x[0], list | tuple | np.ndarray)


def _apply_node_activation(v: Value, name: str, alpha: float) -> Value:
    if name == "identity":
        return v
    if name == "leaky_relu":
        return v.leaky_relu(alpha)
    return getattr(v, name)()


class Neuron(Module):
    """One scalar neuron built from `Value`s: act(Σᵢ wᵢ xᵢ + b) (micrograd-style).

    ``w`` is a list of ``d_in`` Values, ``b`` a Value; ``activation`` is one of the activation
    names (default 'identity': the pre-activation). Parameters are named ``w[0], w[1], ..., b``.

    Example:
        >>> n = Neuron(2, activation="relu", weights=[1.0, -1.0], bias=0.5)
        >>> y = n([3.0, 1.0]); y.backward()
        >>> y.data, [w.grad for w in n.w], n.b.grad
        (2.5, [3.0, 1.0], 1.0)
    """

    def __init__(self, d_in: int, activation: str = "identity", alpha: float = 0.01,
                 weights: Sequence[float] | None = None, bias: float = 0.0, init: str = "auto",
                 seed: np.random.Generator | int | None = 0) -> None:
        d_in = _check_size(d_in, "Neuron: d_in")
        if activation not in ACTIVATIONS:
            raise ValueError(f"Neuron: unknown activation {activation!r}; choose one of {list(ACTIVATIONS)}")
        if weights is None:
            weights = init_weight(d_in, 1, _auto_init(init, activation), seed,
                                  alpha if activation == "leaky_relu" else 0.0)[0].tolist()
        if len(weights) != d_in:
            raise ValueError(f"Neuron: got {len(weights)} weights for d_in={d_in}")
        self.w = [Value(float(wi)) for wi in weights]
        self.b = Value(float(bias))
        self.activation_name = activation
        self.alpha = float(alpha)

    def forward(self, x: Any) -> Value:
        xs = x.tolist() if isinstance(x, np.ndarray) else list(x)
        if len(xs) != len(self.w):
            raise ValueError(f"Neuron({len(self.w)} inputs): got an input of length {len(xs)}")
        acc = self.b
        for wi, xi in zip(self.w, xs):
            acc = acc + wi * xi
        return _apply_node_activation(acc, self.activation_name, self.alpha)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Node]]:
        p = f"{prefix}." if prefix else ""
        for i, w in enumerate(self.w):
            yield f"{p}w[{i}]", w
        yield f"{p}b", self.b

    def extra_repr(self) -> str:
        return f"{len(self.w)}, {self.activation_name}"


class Layer(Module):
    """A layer of ``d_out`` `Neuron`s on ``d_in`` inputs: the scalar twin of `Linear` (+ activation).

    Same state as `Linear`: ``W`` (d_out, d_in) and ``b`` (d_out,); parameters are named
    ``W[j,i]`` and ``b[j]``. Calling it on one example (a list of d_in numbers or Values) returns a
    list of d_out Values; on a batch (a 2-D array or list of rows) a list of such lists.

    Example:
        >>> layer = Layer(3, 2, seed=0)
        >>> out = layer([1.0, 2.0, 3.0]); len(out), type(out[0]).__name__
        (2, 'Value')
        >>> [n for n, _ in layer.named_parameters()][:3]
        ['W[0,0]', 'W[0,1]', 'W[0,2]']
    """

    _atomic = True

    def __init__(self, d_in: int, d_out: int, activation: str = "identity", alpha: float = 0.01,
                 init: str = "he", seed: np.random.Generator | int | None = 0, *,
                 init_slope: float | None = None) -> None:
        self.d_in = _check_size(d_in, "Layer: d_in")
        self.d_out = _check_size(d_out, "Layer: d_out")
        if init_slope is None:
            init_slope = alpha if activation == "leaky_relu" else 0.0
        W = init_weight(self.d_in, self.d_out, _auto_init(init, "relu"), seed, init_slope)
        self.neurons = [Neuron(self.d_in, activation, alpha, weights=row.tolist()) for row in W]
        for j, n in enumerate(self.neurons):
            object.__setattr__(n, "_name", f"neuron {j}")
        self.activation_name = activation

    def forward(self, x: Any) -> list[Any]:
        if _is_batch(x):
            return [self.forward(row) for row in x]
        xs = x.tolist() if isinstance(x, np.ndarray) else list(x)
        if len(xs) != self.d_in:
            raise ValueError(f"Layer({self.d_in} -> {self.d_out}): got an example of length {len(xs)}; "
                             f"expected {self.d_in} numbers (or a batch: a 2-D array, one example per row)")
        return [n(xs) for n in self.neurons]

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Node]]:
        p = f"{prefix}." if prefix else ""
        for j, n in enumerate(self.neurons):
            for i, w in enumerate(n.w):
                yield f"{p}W[{j},{i}]", w
        for j, n in enumerate(self.neurons):
            yield f"{p}b[{j}]", n.b

    def _own_state(self, what: str = "data") -> dict[str, np.ndarray]:
        return {"W": np.array([[getattr(w, what) for w in n.w] for n in self.neurons], dtype=np.float64),
                "b": np.array([getattr(n.b, what) for n in self.neurons], dtype=np.float64)}

    def _load_own(self, arrays: dict[str, np.ndarray]) -> None:
        for n, row, bj in zip(self.neurons, arrays["W"].tolist(), arrays["b"].tolist()):
            for w, v in zip(n.w, row):
                w.data = float(v)
            n.b.data = float(bj)

    def extra_repr(self) -> str:
        act = "" if self.activation_name == "identity" else f", {self.activation_name}"
        return f"{self.d_in} -> {self.d_out}{act}"


class ValueMLP(Sequential):
    """The scalar twin of `MLP`: same arguments, names, state dict and (for one seed) initial weights.

    Built from `Layer`s of `Value` `Neuron`s, so every multiply is a node you can draw and inspect.
    Called on one example it returns a list of m logit Values; on a batch, a list of such lists.

    Example:
        >>> import numpy as np
        >>> vm, tm = ValueMLP([3, 4, 2], seed=0), MLP([3, 4, 2], seed=0)
        >>> x = np.array([0.5, -1.0, 2.0])
        >>> np.allclose([v.data for v in vm(x)], tm(x).data)
        True
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", alpha: float = 0.01,
                 init: str = "auto", seed: int | None = 0, output_activation: str | None = None) -> None:
        sizes, rng, kind, slope = _mlp_plan(self, sizes, activation, alpha, init, seed, output_activation)
        n = len(sizes) - 1
        for i in range(n):
            # same draws, in the same order, as MLP's Linear layers
            setattr(self, f"fc{i + 1}", Layer(sizes[i], sizes[i + 1], "identity", alpha, kind, rng,
                                              init_slope=slope))
            if i < n - 1:
                setattr(self, f"act{i + 1}", _activation_module(activation, alpha))
        if output_activation not in (None, "identity"):
            self.out_act = _activation_module(output_activation, alpha)
