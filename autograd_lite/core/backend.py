"""Array libraries: which one an array belongs to, and the few functions the array API lacks.

A `Tensor` holds an array of any library that speaks the Python array API standard: numpy (the
default and the fast path: rules test ``type(x) is np.ndarray`` first and call numpy directly),
PyTorch (CPU or CUDA), CuPy, Dask (chunked and lazy) and the reference ``array_api_strict``.
Other libraries are reached through ``array-api-compat`` (the ``backends`` extra), imported only
when a non-numpy array first appears. Everything that depends on the library lives here, once.

Example:
    >>> import numpy as np
    >>> from autograd_lite.core import backend
    >>> backend.library(np.ones(2)), backend.namespace(np.ones(2)) is np
    ('numpy', True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["check_same", "device", "is_lazy", "library", "namespace", "names", "stats", "to", "to_numpy"]

_ndarray = np.ndarray
_NAMESPACES: dict[type, Any] = {}


def _compat() -> Any:
    try:
        import array_api_compat
    except ImportError:
        raise ImportError(
            "a Tensor of a non-numpy array library needs the array-api-compat package: "
            "pip install 'autograd_lite[backends]' (or pip install array-api-compat)") from None
    return array_api_compat


def namespace(x: Any) -> Any:
    """The array-API namespace of ``x``: numpy itself for ndarrays, else array-api-compat's.

    Example:
        >>> namespace(np.zeros(3)) is np
        True
    """
    if isinstance(x, _ndarray | np.generic | float | int):
        return np
    t = type(x)
    ns = _NAMESPACES.get(t)
    if ns is None:
        try:
            ns = _compat().array_namespace(x)
        except TypeError:
            raise TypeError(f"{t.__module__}.{t.__name__} is not an array of a library autograd_lite "
                            "knows (numpy, torch, cupy, dask, jax or any array-API library); "
                            "convert it first, e.g. np.asarray(x)") from None
        _NAMESPACES[t] = ns
    return ns


def library(x: Any) -> str:
    """The name of the library ``x`` belongs to ('numpy', 'torch', 'dask', 'cupy', ...).

    Example:
        >>> library(np.float64(1.0))
        'numpy'
    """
    if isinstance(x, _ndarray | np.generic | float | int):
        return "numpy"
    mod = type(x).__module__.split(".")[0]
    return "dask" if mod == "dask" else mod


def is_lazy(x: Any) -> bool:
    """True for arrays whose values are not computed yet (Dask): no check may force them."""
    return type(x).__module__.startswith("dask.")


def device(x: Any) -> Any:
    """The device ``x`` lives on ('cpu' for numpy and Dask, a torch.device, a CuPy device...)."""
    if isinstance(x, _ndarray | np.generic | float | int):
        return "cpu"
    return _compat().device(x)


def _where(x: Any) -> str:
    lib = library(x)
    dev = str(device(x))
    return lib if dev in ("cpu", "CPU_DEVICE", "array_api_strict.Device('CPU_DEVICE')") and lib != "torch" \
        else f"{lib} on {dev}"


def check_same(op: str, datas: Any) -> None:
    """Refuse inputs from two libraries or two devices, naming both and the fix. Python numbers go
    with any library; numpy arrays go with Dask (which wraps them) and with nothing else (plain
    numpy constants are moved to the other library before this, by the Tensor layer)."""
    arrays = [d for d in datas if not isinstance(d, np.generic | float | int)]
    lazy = any(is_lazy(d) for d in arrays)
    first = None
    for d in arrays:
        if lazy and isinstance(d, _ndarray):
            continue  # Dask takes numpy arrays as constants
        if first is None:
            first = d
            continue
        if type(d) is not type(first) or (not is_lazy(d) and device(d) != device(first)):
            raise TypeError(
                f"{op}: the inputs live in {_where(first)} and {_where(d)}; an op needs all its "
                f"arrays in one library on one device. Move one first: t.to('{library(d)}'), "
                f"t.to('{library(first)}') (model.to('{library(first)}') moves a model's parameters), "
                "or Tensor(np.asarray(x)) for numpy")


def like(value: Any, ref: Any) -> Any:
    """``value`` (a number or a numpy array) as an array of ``ref``'s library, dtype and device."""
    if isinstance(ref, _ndarray | np.generic):
        return value
    xp = namespace(ref)
    if is_lazy(ref):
        return xp.asarray(value, dtype=ref.dtype)
    return xp.asarray(value, dtype=ref.dtype, device=device(ref))


def is_float(x: Any) -> bool:
    """True when ``x`` has a real floating dtype (the only arrays that can have gradients)."""
    if isinstance(x, _ndarray | np.generic):
        return x.dtype.kind == "f"
    return bool(namespace(x).isdtype(x.dtype, "real floating"))


def any_true(mask: Any) -> bool:
    """``bool(any(mask))`` without forcing a lazy array (a lazy mask answers False: its checks run
    when the values are computed, see `autograd_lite.compute`)."""
    if isinstance(mask, _ndarray | np.generic | bool):
        return bool(np.any(mask))
    if is_lazy(mask):
        return False
    return bool(namespace(mask).any(mask))


def count_true(mask: Any) -> int:
    """The number of true entries of a (computed) mask."""
    if isinstance(mask, _ndarray | np.generic | bool):
        return int(np.sum(mask))
    xp = namespace(mask)
    return int(xp.sum(xp.astype(mask, xp.int64)))


def to_numpy(x: Any) -> np.ndarray:
    """A numpy copy of ``x`` in host memory (computes a Dask array, copies a GPU array).

    Example:
        >>> to_numpy(np.arange(3.0))
        array([0., 1., 2.])
    """
    if isinstance(x, _ndarray):
        return x
    if isinstance(x, np.generic | float | int | bool):
        return np.asarray(x)
    lib = library(x)
    if lib == "torch":
        return x.detach().cpu().numpy()
    if lib == "cupy":
        return x.get()
    if lib == "dask":
        return np.asarray(x.compute())
    try:
        return np.asarray(x)
    except (TypeError, ValueError, RuntimeError):
        return np.from_dlpack(x)


def stats(x: Any) -> tuple[Any, ...]:
    """(min, mean, max) over the finite entries and the nan and inf counts of an array of any
    library, as that library's 0-d arrays (lazy ones stay lazy: compute them together)."""
    xp = namespace(x)
    fin = xp.isfinite(x)
    n = xp.sum(xp.astype(fin, xp.int64))
    zero = xp.zeros_like(x)
    lo = xp.min(xp.where(fin, x, zero + math.inf))
    hi = xp.max(xp.where(fin, x, zero - math.inf))
    mean = xp.sum(xp.where(fin, x, zero)) / xp.astype(xp.maximum(n, xp.ones_like(n)), x.dtype)
    nan = xp.sum(xp.astype(xp.isnan(x), xp.int64))
    inf = xp.sum(xp.astype(xp.isinf(x), xp.int64))
    return lo, mean, hi, nan, inf, n


_LIBRARIES = {"numpy": "numpy", "np": "numpy", "torch": "torch", "cupy": "cupy", "dask": "dask",
              "jax": "jax", "array_api_strict": "array_api_strict"}


def to(x: Any, backend: str, device: Any = None, chunks: Any = "auto") -> Any:
    """``x`` converted to another array library (and device): 'numpy', 'torch', 'cupy', 'dask',
    'jax' or 'array_api_strict'; ``chunks`` is Dask's chunk size.

    Example:
        >>> to(np.arange(2.0), "numpy")
        array([0., 1.])
    """
    name = _LIBRARIES.get(backend)
    if name is None:
        raise ValueError(f"to({backend!r}): unknown array library; use one of "
                         f"{', '.join(sorted(set(_LIBRARIES.values())))}")
    if name == library(x) and device is None and name != "dask":
        return x
    host = to_numpy(x) if name != "dask" or library(x) != "dask" else x
    if name == "numpy":
        return host
    if name == "dask":
        import dask.array as da

        return host.rechunk(chunks) if library(host) == "dask" else da.from_array(  # type: ignore[union-attr]
            host, chunks=chunks)
    try:
        mod = __import__(name)
    except ImportError:
        raise ImportError(f"to({backend!r}): the {name} package is not installed "
                          f"(pip install {name})") from None
    if name == "torch":
        try:
            return mod.as_tensor(host, device=device)
        except (AssertionError, RuntimeError) as err:  # torch built without CUDA, a bad device
            raise RuntimeError(f"to('torch', device={device!r}): that device is not available "
                               f"here ({err}); use device='cpu' or leave device out") from None
    xp = namespace(mod.asarray(host[:0] if host.ndim else host))
    return xp.asarray(host, device=device) if device is not None else xp.asarray(host)


def _full(value: Any, ref: Any) -> Any:
    return namespace(ref).full_like(ref, value)


class NumpyNames:
    """Numpy's names (the ones our rules use) on another library's array-API namespace: the one
    adapter for every function the standard names differently or lacks. Python numbers are
    accepted wherever numpy takes them; reductions take numpy's ``axis``/``keepdims``.

    Example:
        >>> names(np.ones(2)) is np   # numpy arrays use numpy itself
        True
    """

    def __init__(self, xp: Any) -> None:
        self.xp = xp

    def __getattr__(self, name: str) -> Any:  # exp, log, log1p, sqrt, tanh, sin, cos, abs, ...
        return getattr(self.xp, name)

    def _arrays(self, *xs: Any) -> list[Any]:
        ref = next((x for x in xs if not isinstance(x, float | int | bool)), None)
        return [x if ref is None or not isinstance(x, float | int | bool) else _full(x, ref)
                for x in xs]

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        if isinstance(a, float | int) and isinstance(b, float | int):
            a = self.xp.full_like(cond, a, dtype=self.xp.float64)
        a, b = self._arrays(a, b)
        return self.xp.where(cond, a, b)

    def maximum(self, a: Any, b: Any) -> Any:
        return self.xp.maximum(*self._arrays(a, b))

    def minimum(self, a: Any, b: Any) -> Any:
        return self.xp.minimum(*self._arrays(a, b))

    def power(self, a: Any, b: Any) -> Any:
        return self.xp.pow(*self._arrays(a, b))

    def true_divide(self, a: Any, b: Any) -> Any:
        return a / b

    def concatenate(self, xs: Any, axis: int = 0) -> Any:
        return self.xp.concat(list(xs), axis=axis)

    def stack(self, xs: Any, axis: int = 0) -> Any:
        return self.xp.stack(list(xs), axis=axis)

    def var(self, x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
        return self.xp.var(x, axis=axis, keepdims=keepdims, correction=ddof)

    def expand_dims(self, x: Any, axes: Any) -> Any:
        for a in sorted(axes) if isinstance(axes, tuple) else (axes,):
            x = self.xp.expand_dims(x, axis=a)
        return x


_NAMES: dict[Any, NumpyNames] = {}


def names(x: Any) -> Any:
    """numpy for numpy data, else the `NumpyNames` adapter of ``x``'s library."""
    if isinstance(x, _ndarray | np.generic | float | int):
        return np
    xp = namespace(x)
    adapter = _NAMES.get(xp)
    if adapter is None:
        adapter = _NAMES[xp] = NumpyNames(xp)
    return adapter


def _spread(index: tuple[Any, ...]) -> bool:
    """The index holds an Ellipsis or a new axis (then no trailing Ellipsis may be added)."""
    return any(i is Ellipsis or i is None for i in index)


def _reversed(x: Any, index: tuple[Any, ...]) -> bool:
    """A torch index with a negative-step slice (torch has none: it goes through a flat take)."""
    return library(x) == "torch" and any(isinstance(i, slice) and (i.step or 1) < 0 for i in index)


def _array_count(index: Any) -> int:
    return sum(isinstance(i, _ndarray) for i in index) if isinstance(index, tuple) else 0


def getitem(x: Any, index: tuple[Any, ...]) -> Any:
    """``x[index]`` with numpy's semantics on any library. Torch and Dask (one index array) index
    natively; otherwise integer-array indices go through a flat ``take`` (the array API allows
    index arrays only alone), with the positions worked out on the host from the static index."""
    lib = library(x)
    if lib == "dask":  # a bool mask gives Dask unknown (nan) sizes; its positions are known here
        index = tuple(j for i in index for j in (
            np.nonzero(i) if isinstance(i, _ndarray) and i.dtype == np.bool_ else (i,)))
    arrays = _array_count(index)
    flip = _reversed(x, index)
    if (lib == "torch" and not flip) or (lib == "dask" and arrays <= 1) or lib == "cupy":
        return x[index_for(x, index)]
    if not arrays and not flip:
        return x[index if _spread(index) else (*index, Ellipsis)]
    xp = namespace(x)
    flat = np.arange(math.prod(x.shape)).reshape(tuple(x.shape))[index]
    picked = xp.take(reshape(x, (-1,)), xp.asarray(flat.reshape(-1)), axis=0)
    return reshape(picked, flat.shape)


def reshape(x: Any, shape: tuple[int, ...]) -> Any:
    """``x.reshape(shape)`` on any library (Dask rechunks first when its chunks do not split or
    merge evenly)."""
    xp = namespace(x)
    try:
        return xp.reshape(x, tuple(shape))
    except NotImplementedError:  # Dask: chunks that do not line up with the new shape
        return xp.reshape(x.rechunk({i: -1 for i in range(x.ndim)}), tuple(shape))


def index_for(x: Any, index: Any) -> Any:
    """A numpy index (ints, slices, integer or bool ndarrays) made usable on ``x``'s library:
    index arrays become arrays of that library (Dask takes numpy's)."""
    if isinstance(x, _ndarray) or is_lazy(x) or not isinstance(index, tuple):
        return index
    if not any(isinstance(i, _ndarray) for i in index):
        return index
    xp = namespace(x)
    return tuple(xp.asarray(i, device=device(x)) if isinstance(i, _ndarray) else i for i in index)


def scatter_add(g: Any, index: tuple[Any, ...], shape: tuple[int, ...], once: bool) -> Any:
    """zeros(shape) of ``g``'s library with ``g`` added at ``index`` (repeats add up); ``once``
    says that no element is picked twice, so a plain assignment is exact. The array API has no
    scatter-add: torch uses index_add_, Dask and CuPy bincount, others a one-hot product."""
    xp = namespace(g)
    if once and not _array_count(index) and not _reversed(g, index):  # a plain assignment is exact
        out = xp.zeros(shape, dtype=g.dtype) if is_lazy(g) else \
            xp.zeros(shape, dtype=g.dtype, device=device(g))
        if any(i is None for i in index):  # new axes: Dask and the standard refuse them in a store
            index = tuple(i for i in index if i is not None)
            g = reshape(g, np.broadcast_to(np.empty(()), shape)[index].shape)  # a view, no data
        out[index_for(g, index) if _spread(index) or library(g) != "array_api_strict"
            else (*index, Ellipsis)] = g
        return out
    size = math.prod(shape)
    flat = np.arange(size).reshape(shape)[index].reshape(-1)  # where each element of g goes
    gf = reshape(g, (-1,))
    lib = library(g)
    if lib == "torch":
        import torch

        out = torch.zeros(size, dtype=g.dtype, device=g.device)
        out.index_add_(0, torch.as_tensor(flat, device=g.device), gf)
    elif lib in ("dask", "cupy"):
        mod = __import__("dask.array" if lib == "dask" else "cupy", fromlist=["bincount"])
        where = mod.from_array(flat, chunks=gf.chunks) if lib == "dask" else mod.asarray(flat)
        out = mod.bincount(where, weights=gf, minlength=size)
        out = xp.astype(out, g.dtype)
    else:
        if size * flat.size > 10**8:
            raise MemoryError(f"getitem's gradient on {lib}: a one-hot scatter of {flat.size} "
                              f"elements into {size} would need {size * flat.size} entries; use "
                              "numpy or torch arrays for large integer-array indexing")
        hit = xp.asarray(flat, device=device(g))[None, :] == xp.arange(size, device=device(g))[:, None]
        out = xp.astype(hit, g.dtype) @ gf
    return reshape(out, shape)


_KNOWN = frozenset({"torch", "cupy", "dask", "jax", "jaxlib", "array_api_strict", "sparse", "ndonnx"})


def is_array_of_library(x: Any) -> bool:
    """True for an array of another array library than numpy (kept as it is by `Tensor`)."""
    if isinstance(x, _ndarray | np.generic | float | int | list | tuple):
        return False
    return type(x).__module__.split(".")[0] in _KNOWN or hasattr(x, "__array_namespace__")


def dtype_in(xp: Any, dtype: Any) -> Any:
    """``dtype`` (numpy's, a name such as 'float32', or the library's own) as ``xp``'s dtype."""
    if isinstance(dtype, str) or isinstance(dtype, type) or isinstance(dtype, np.dtype):
        try:
            name = np.dtype(dtype).name
        except TypeError:
            return dtype
        dt = getattr(xp, name, None)
        if dt is None:
            raise TypeError(f"dtype {name} does not exist in {getattr(xp, '__name__', xp)}")
        return dt
    return dtype


def size(x: Any) -> int:
    """The number of elements of a number or an array of any library (numpy's ``np.size``; torch's
    ``.size`` is a method and Dask warns on ``np.size``)."""
    if isinstance(x, _ndarray):
        return x.size
    shape = getattr(x, "shape", None)
    return 1 if shape is None else math.prod(shape)


def shape(x: Any) -> tuple[int, ...]:
    """The shape of a number or an array of any library, as a tuple (numpy's ``np.shape``)."""
    if isinstance(x, _ndarray):
        return x.shape
    s = getattr(x, "shape", None)
    return () if s is None else tuple(s)
