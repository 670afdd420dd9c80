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

import json
import os
import zipfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..core import backend as _B
from ..core.engine import Node, scope, zero_grad
from ..core.ops import leaky_relu, relu, sigmoid, softplus, tanh
from ..core.tensor import Tensor
from ..core.value import Value
from .files import atomic_write

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
    "load",
    "relu",
    "sigmoid",
    "softplus",
    "tanh",
]

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "softplus", "identity")
#: the key of the architecture record (JSON text) in a file written by `Module.save`
ARCHITECTURE_KEY = "__architecture__"
SAVE_FORMAT = "autograd_lite.model/1"


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
        return sum(int(np.prod(getattr(p, "shape", ()))) for p in self.parameters())

    def zero_grad(self) -> None:
        """Reset the gradient of every parameter (call before each backward of a training step).

        Example:
            >>> import numpy as np
            >>> m = MLP([2, 2, 2]); m(np.ones((1, 2))).sum().backward(); m.zero_grad()
            >>> m.fc1.W.grad is None
            True
        """
        zero_grad(self.parameters())

    def to(self, backend: str, device: Any = None) -> Module:
        """Move every parameter to another array library (and device), in place; returns self.
        ``backend``: 'numpy', 'torch', 'cupy', 'jax' or 'array_api_strict' (the `Tensor.to` names).
        Gradients are cleared; make the optimizer after moving (it keeps per-parameter state).

        Example:
            >>> MLP([2, 3, 2]).to("numpy").fc1.W.backend
            'numpy'
        """
        for p in self.parameters():
            if isinstance(p, Tensor):
                p.data = _B.to(p.data, backend, device=device)
                p.grad = None
        return self

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
            elif isinstance(v, Node) and not isinstance(v.data, np.ndarray):
                v.data = _B.like(arr, v.data)  # into the parameter's own library and device
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
        """Write the parameters and the architecture to ``path`` as an ``.npz`` file (exactly that path).

        The file holds one plain array per `state_dict` entry plus the architecture as JSON text
        (key ``__architecture__``), so `autograd_lite.load` rebuilds the model from the file alone;
        nothing is pickled. Writing is all or nothing (a temporary file in the same folder, then
        ``os.replace``). Parameters that are not finite float arrays are refused with a
        `ValueError` before anything is written, so an existing file stays intact.

        Example:
            >>> import tempfile, os
            >>> m = MLP([2, 3, 2], seed=0)
            >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
            >>> m.save(path); bool((MLP([2, 3, 2], seed=5).load(path).fc2.W.data == m.fc2.W.data).all())
            True
        """
        where = f"{type(self).__name__}.save({os.fspath(path)!r})"
        state = self.state_dict()
        for key, arr in state.items():
            _check_savable(key, arr, where, os.path.exists(path))
        header = {"format": SAVE_FORMAT, "model": self._spec(),
                  "dtypes": {k: str(v.dtype) for k, v in state.items()}}
        arrays: dict[str, Any] = dict(state)
        arrays[ARCHITECTURE_KEY] = np.array(json.dumps(header))  # a unicode array: no pickle needed
        with atomic_write(path) as f:
            np.savez(f, **arrays)

    def load(self, path: str | os.PathLike[str]) -> Module:
        """Load parameters saved by `save` (``np.load`` with ``allow_pickle=False``); returns self.

        A file that is not an ``.npz`` of plain arrays (e.g. a pickled object), whose keys or
        shapes do not match this model, or whose recorded architecture differs from this model's
        (e.g. another activation: the weights would compute another function) raises a
        `ValueError` and leaves the model unchanged. Values are cast to this model's dtypes.

        Example:
            >>> MLP([2, 2, 2]).load("/nonexistent.npz")
            Traceback (most recent call last):
            ...
            FileNotFoundError: [Errno 2] No such file or directory: '/nonexistent.npz'
        """
        where = f"{type(self).__name__}.load({os.fspath(path)!r})"
        state, header = _read_npz(path, where)
        current = self.state_dict()
        same_layout = current.keys() == state.keys() and all(
            state[k].shape == v.shape for k, v in current.items())
        if same_layout and header is not None and isinstance(header.get("model"), dict):
            # same names and shapes: only the record can tell, e.g., relu weights from tanh ones
            _check_same_architecture(header["model"], self._spec(), where)
        try:
            return self.load_state_dict(state)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None

    def _spec(self) -> dict[str, Any]:
        """The architecture as JSON-ready data; classes `load` cannot rebuild say so."""
        return {"type": type(self).__qualname__, "module": type(self).__module__, "rebuildable": False}

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
        return np.zeros_like(_B.to_numpy(node.data))
    if isinstance(x, Node):  # a gradient built with create_graph=True
        x = x.data
    if isinstance(node, Value):
        return np.array(x, dtype=np.float64)
    return np.array(_B.to_numpy(x))  # (another library's array: a host copy)


def _check_savable(key: str, arr: np.ndarray, where: str, exists: bool) -> None:
    """Refuse what `load` could not give back: non-float or non-finite parameters."""
    kept = "; nothing was written" + (" and the existing file is unchanged" if exists else "")
    if arr.dtype.kind != "f":
        raise ValueError(f"{where}: parameter {key!r} has dtype {arr.dtype}; only float parameters can be "
                         f"saved (cast it, e.g. p.data = p.data.astype(np.float64)){kept}")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{where}: parameter {key!r} holds {int(bad.sum())} NaN or infinite value(s) (the first at "
            f"index {first}: {arr[first]}){kept}. Restore finite weights before saving (load the last "
            "good file, or train again with a lower learning rate)")


def _read_npz(path: str | os.PathLike[str], where: str
              ) -> tuple[dict[str, np.ndarray], dict[str, Any] | None]:
    """The arrays of a `Module.save` file and its architecture record (None in older files)."""
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
    record = state.pop(ARCHITECTURE_KEY, None)
    if record is None:
        return state, None
    try:
        header = json.loads(str(record[()])) if record.ndim == 0 and record.dtype.kind == "U" else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != SAVE_FORMAT:
        raise ValueError(f"{where}: the file's architecture record ({ARCHITECTURE_KEY}) is not one "
                         f"Module.save writes (format {SAVE_FORMAT}); the file was changed or written by "
                         "another tool")
    return state, header


def _layers(spec: Any) -> list[str]:
    """The computation a rebuildable spec describes, as a flat list of steps ("Linear(2 -> 3)",
    "relu", ...), so that an MLP, its Value twin and the same Sequential compare equal."""
    steps: list[str] = []
    todo = [spec]
    while todo:  # explicit stack, children pushed in reverse to keep their order
        s = todo.pop()
        kind = s["type"]
        if kind in ("MLP", "ValueMLP"):
            sizes = s["sizes"]
            act = _act_step(s["activation"], s["alpha"])
            for i in range(len(sizes) - 1):
                steps.append(f"Linear({sizes[i]} -> {sizes[i + 1]})")
                if i < len(sizes) - 2 and act:
                    steps.append(act)
            out = _act_step(s.get("output_activation") or "identity", s["alpha"])
            steps += [out] if out else []
        elif kind == "Sequential":
            todo += [child for _, child in reversed(s["children"])]
        elif kind in ("Linear", "Layer", "Neuron"):
            d_out = s.get("d_out", 1)
            bias = "" if s.get("bias", True) else ", bias=False"
            steps.append(f"Linear({s['d_in']} -> {d_out}{bias})")
            act = _act_step(s.get("activation", "identity"), s.get("alpha", 0.0))
            steps += [act] if act else []
        else:
            act = _act_step(kind, s.get("alpha", 0.0))
            steps += [act] if act else []
    return steps


def _act_step(name: str, alpha: float) -> str:
    name = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "Softplus": "softplus",
            "LeakyReLU": "leaky_relu", "Identity": "identity"}.get(name, name)
    if name == "identity":
        return ""
    return f"leaky_relu(alpha={alpha:g})" if name == "leaky_relu" else name


def _unbuildable(spec: Any) -> str | None:
    """The class name of the first module in ``spec`` that `load` cannot rebuild, or None."""
    todo = [spec]
    while todo:
        s = todo.pop()
        if not isinstance(s, dict) or s.get("rebuildable") is False or s.get("type") not in _BUILDERS:
            return str(s.get("type")) if isinstance(s, dict) else repr(s)
        if s["type"] == "Sequential":
            todo += [child for _, child in s["children"]]
    return None


def _check_same_architecture(saved: dict[str, Any], own: dict[str, Any], where: str) -> None:
    if _unbuildable(saved) or _unbuildable(own):
        return  # a custom module: only the keys and shapes can be compared
    try:
        theirs = _layers(saved)
    except (KeyError, TypeError, IndexError):
        raise ValueError(f"{where}: the file's architecture record is malformed") from None
    ours = _layers(own)
    if theirs != ours:
        raise ValueError(
            f"{where}: the file holds another architecture: {', '.join(theirs)}; this model is "
            f"{', '.join(ours)}. The weights would compute another function; build the model the file "
            "describes, or let autograd_lite.load(path) rebuild it")


# ------------------------------------------------------------------------------- activation modules

class _Activation(Module):
    fn: Callable[..., Any]

    def forward(self, x: Any) -> Any:
        return type(self).fn(x)

    def _spec(self) -> dict[str, Any]:
        simple = (ReLU, Tanh, Sigmoid, Softplus)
        return {"type": type(self).__name__} if type(self) in simple else super()._spec()


class Identity(Module):
    """The identity (no activation).

    Example:
        >>> Identity()(3.0)
        3.0
    """

    def forward(self, x: Any) -> Any:
        return x

    def _spec(self) -> dict[str, Any]:
        return {"type": "Identity"} if type(self) is Identity else super()._spec()


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

    def _spec(self) -> dict[str, Any]:
        return {"type": "LeakyReLU", "alpha": self.alpha} if type(self) is LeakyReLU else super()._spec()


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
    mlp.output_activation = output_activation
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
            x = Tensor(x if _B.is_array_of_library(x) else np.asarray(x, dtype=np.float64))
        if x.ndim not in (1, 2) or x.shape[-1] != self.d_in:
            raise ValueError(
                f"Linear({self.d_in} -> {self.d_out}): input has shape {x.shape}; expected ({self.d_in},) "
                f"for one example or (n, {self.d_in}) for a batch of n examples (one per row)")
        y = x @ self.W.T
        return y + self.b if hasattr(self, "b") else y

    def extra_repr(self) -> str:
        return f"{self.d_in} -> {self.d_out}" + ("" if hasattr(self, "b") else ", bias=False")

    def _spec(self) -> dict[str, Any]:
        if type(self) is not Linear:
            return super()._spec()
        return {"type": "Linear", "d_in": self.d_in, "d_out": self.d_out, "bias": hasattr(self, "b")}


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

    def _spec(self) -> dict[str, Any]:
        if type(self) in (MLP, ValueMLP):  # rebuilt from their arguments (recorded by _mlp_plan)
            own = vars(self)
            return {"type": type(self).__name__, "sizes": list(own["sizes"]),
                    "activation": own["activation_name"], "alpha": own["alpha"],
                    "output_activation": own["output_activation"]}
        if type(self) is not Sequential:
            return super()._spec()
        return {"type": "Sequential", "children": [[n, m._spec()] for n, m in self.named_children()]}

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

    def _spec(self) -> dict[str, Any]:
        if type(self) is not Neuron:
            return super()._spec()
        return {"type": "Neuron", "d_in": len(self.w), "activation": self.activation_name,
                "alpha": self.alpha}


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

    def _spec(self) -> dict[str, Any]:
        if type(self) is not Layer:
            return super()._spec()
        return {"type": "Layer", "d_in": self.d_in, "d_out": self.d_out, "activation": self.activation_name,
                "alpha": self.neurons[0].alpha}


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


# ------------------------------------------------------------------------- rebuilding a saved model

def _sizes(spec: dict[str, Any]) -> list[int]:
    sizes = spec["sizes"]
    if not isinstance(sizes, list) or len(sizes) < 2 or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes):
        raise ValueError(f"sizes {sizes!r} are not a list of positive integers")
    return sizes


def _dims(spec: dict[str, Any], d_out: bool = True) -> tuple[int, int]:
    """(d_in, d_out) of a layer spec (d_out = 1 for a Neuron), checked to be positive integers."""
    dims = (spec["d_in"], spec["d_out"] if d_out else 1)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in dims):
        raise ValueError(f"{spec['type']}: sizes {dims} are not positive integers")
    return dims


def _spec_size(spec: dict[str, Any]) -> int:
    """The number of scalar parameters ``spec`` describes (checked before anything is built, so a
    file cannot make `load` allocate more than it holds)."""
    total, todo = 0, [spec]
    while todo:
        s = todo.pop()
        kind = s["type"]
        if kind in ("MLP", "ValueMLP"):
            n = _sizes(s)
            total += sum(a * b + b for a, b in zip(n, n[1:]))
        elif kind == "Sequential":
            todo += [child for _, child in s["children"]]
        elif kind in ("Linear", "Layer", "Neuron"):
            d_in, d_out = _dims(s, kind != "Neuron")
            total += d_in * d_out + (d_out if s.get("bias", True) else 0)
    return total


def _build_sequential(spec: dict[str, Any]) -> Module:
    return Sequential(**{str(name): _build(child) for name, child in spec["children"]})


_BUILDERS: dict[str, Any] = {
    "MLP": lambda s: MLP(_sizes(s), s["activation"], s["alpha"], "zeros", None, s["output_activation"]),
    "ValueMLP": lambda s: ValueMLP(_sizes(s), s["activation"], s["alpha"], "zeros", None,
                                   s["output_activation"]),
    "Sequential": _build_sequential,
    "Linear": lambda s: Linear(*_dims(s), init="zeros", bias=bool(s["bias"])),
    "Layer": lambda s: Layer(*_dims(s), activation=s["activation"], alpha=s["alpha"], init="zeros"),
    "Neuron": lambda s: Neuron(_dims(s, False)[0], s["activation"], s["alpha"], init="zeros"),
    "LeakyReLU": lambda s: LeakyReLU(s["alpha"]),
    "ReLU": lambda s: ReLU(), "Tanh": lambda s: Tanh(), "Sigmoid": lambda s: Sigmoid(),
    "Softplus": lambda s: Softplus(), "Identity": lambda s: Identity(),
}


def _build(spec: dict[str, Any]) -> Module:
    return _BUILDERS[spec["type"]](spec)  # type: ignore[no-any-return]


def load(path: str | os.PathLike[str]) -> Module:
    """Rebuild the model saved by `Module.save` from the file alone: architecture and weights.

    Works for the library's modules (`MLP`, `ValueMLP`, `Sequential` of `Linear` and activation
    layers, `Layer`, `Neuron`); a file saved from your own `Module` subclass names the class to
    build before calling its ``.load(path)``. Pickles are refused, as by `Module.load`; parameters
    come back with the dtypes they were saved with.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
        >>> MLP([2, 3, 2], activation="tanh", seed=0).save(path)
        >>> load(path)
        MLP(
          (fc1): Linear(2 -> 3)
          (act1): Tanh()
          (fc2): Linear(3 -> 2)
        )
        n_params = 17
    """
    where = f"load({os.fspath(path)!r})"
    state, header = _read_npz(path, where)
    if header is None:
        raise ValueError(f"{where}: the file has no architecture record (written by an older version or by "
                         "np.savez); build the model yourself and call model.load(path)")
    spec = header.get("model")
    missing = _unbuildable(spec)
    if missing is not None:
        raise ValueError(f"{where}: the file holds a {missing} model, which cannot be rebuilt from the file "
                         f"alone (only the library's modules can); build {missing}(...) yourself and call "
                         "its .load(path)")
    assert isinstance(spec, dict)
    try:
        expected = _spec_size(spec)
        held = sum(int(a.size) for a in state.values())
        if expected != held:
            raise ValueError(f"it describes {expected:,} parameters but the file holds {held:,}")
        model = _build(spec)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{where}: the file's architecture record is malformed ({err})") from None
    try:
        model.load_state_dict(state)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    for name, p in model.named_parameters():  # float32 weights come back as float32
        if isinstance(p, Tensor) and name in state and state[name].dtype != p.data.dtype:
            p.data = p.data.astype(state[name].dtype)
    return model
