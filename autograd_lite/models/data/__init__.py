"""Data sets: seeded 2-D toy generators and two small real data sets shipped in the package.

Generators (numpy only, deterministic for a given ``seed``) return ``(X, y)`` with ``X`` float64 of
shape (n, d) and ``y`` int64 class indices 0..m-1: `make_moons`, `make_circles`, `make_spirals`,
`make_blobs`. Real data sets, read from files inside the package (no network access):
`load_digits` (UCI 8x8 handwritten digits, 1797 x 64, 10 classes) and `load_iris` (150 x 4, 3
classes), both CC BY 4.0 (see ``README.md`` and ``LICENSE`` in this folder, or `info`).
`train_test_split` is a deterministic, stratified split; `standardize` scales with training stats.

Example:
    >>> from autograd_lite.data import make_moons, load_digits
    >>> X, y = make_moons(100, noise=0.1, seed=0)
    >>> X.shape, y.dtype.name, sorted(set(y.tolist()))
    ((100, 2), 'int64', [0, 1])
    >>> X_train, y_train = load_digits(split="train")
    >>> X_train.shape, float(X_train.max())
    ((1438, 64), 1.0)
"""

from __future__ import annotations

import functools
import gzip
import io
from importlib import resources
from typing import Any

import numpy as np

__all__ = [
    "info",
    "load_digits",
    "load_iris",
    "make_blobs",
    "make_circles",
    "make_moons",
    "make_spirals",
    "standardize",
    "train_test_split",
]

_INFO: dict[str, dict[str, Any]] = {
    "digits": {
        "file": "digits.csv.gz",
        "title": "Optical Recognition of Handwritten Digits (UCI), 8x8 pixel counts 0..16",
        "n": 1797, "d": 64, "classes": [str(i) for i in range(10)],
        "source": "UCI Machine Learning Repository, E. Alpaydin & C. Kaynak (1998), "
                  "https://doi.org/10.24432/C50P49 (the UCI test part, as redistributed by scikit-learn)",
        "licence": "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)",
    },
    "iris": {
        "file": "iris.csv",
        "title": "Fisher's Iris data: sepal/petal length and width in cm",
        "n": 150, "d": 4, "classes": ["setosa", "versicolor", "virginica"],
        "source": "UCI Machine Learning Repository, R. A. Fisher (1936), https://doi.org/10.24432/C56C76 "
                  "(scikit-learn's copy, which follows Fisher's paper)",
        "licence": "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)",
    },
}

_SPLITS = ("all", "train", "test")


def info(name: str) -> dict[str, Any]:
    """Facts about a shipped data set: title, size, class names, source and licence.

    Example:
        >>> info("digits")["licence"]
        'CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)'
    """
    if name not in _INFO:
        raise ValueError(f"info: unknown data set {name!r}; shipped data sets: {sorted(_INFO)}")
    return {k: (list(v) if isinstance(v, list) else v) for k, v in _INFO[name].items()}


# ------------------------------------------------------------------------------------------ checks

def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def _check_n(n_samples: int, k: int, op: str) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer) or n_samples < k:
        raise ValueError(f"{op}: n_samples must be an integer >= {k} (one per class), got {n_samples!r}")


def _check_noise(noise: float, op: str) -> float:
    noise = float(noise)
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"{op}: noise is a standard deviation and must be >= 0, got {noise}")
    return noise


def _per_class(n: int, k: int) -> list[int]:
    """Split n samples into k class sizes differing by at most one."""
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def _finish(parts: list[np.ndarray], noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = np.concatenate(parts).astype(np.float64)
    y = np.concatenate([np.full(len(p), i, dtype=np.int64) for i, p in enumerate(parts)])
    if noise:
        X = X + rng.normal(0.0, noise, size=X.shape)
    order = rng.permutation(len(X))
    return X[order], y[order]


# -------------------------------------------------------------------------------------- generators

def make_moons(n_samples: int = 200, noise: float = 0.1, seed: int | np.random.Generator | None = 0
               ) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles in 2-D (class 0 upper moon, class 1 lower moon).

    Gaussian noise of standard deviation ``noise`` is added to every coordinate; rows are shuffled.

    Example:
        >>> X, y = make_moons(6, noise=0.0, seed=1)
        >>> X.shape, int(y.sum())
        ((6, 2), 3)
    """
    _check_n(n_samples, 2, "make_moons")
    noise = _check_noise(noise, "make_moons")
    rng = _rng(seed)
    n0, n1 = _per_class(int(n_samples), 2)
    t0 = np.linspace(0.0, np.pi, n0)
    t1 = np.linspace(0.0, np.pi, n1)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    return _finish([upper, lower], noise, rng)


def make_circles(n_samples: int = 200, noise: float = 0.05, factor: float = 0.5,
                 seed: int | np.random.Generator | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: class 0 on the unit circle, class 1 on radius ``factor`` (0 < factor < 1).

    Example:
        >>> X, y = make_circles(8, noise=0.0, factor=0.5)
        >>> sorted({round(float(r), 6) for r in (X ** 2).sum(axis=1) ** 0.5})
        [0.5, 1.0]
    """
    _check_n(n_samples, 2, "make_circles")
    noise = _check_noise(noise, "make_circles")
    if not 0.0 < float(factor) < 1.0:
        raise ValueError(f"make_circles: factor (inner radius / outer radius) must be in (0, 1), "
                         f"got {factor}")
    rng = _rng(seed)
    n0, n1 = _per_class(int(n_samples), 2)
    t0 = np.linspace(0.0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0.0, 2 * np.pi, n1, endpoint=False)
    outer = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    inner = float(factor) * np.stack([np.cos(t1), np.sin(t1)], axis=1)
    return _finish([outer, inner], noise, rng)


def make_spirals(n_samples: int = 300, n_classes: int = 2, noise: float = 0.05, turns: float = 1.0,
                 seed: int | np.random.Generator | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n_classes`` interleaved spiral arms in 2-D, each turning ``turns`` times around the origin.

    Arm k: radius r in [0.05, 1], angle 2π(turns·r + k/n_classes).

    Example:
        >>> X, y = make_spirals(9, n_classes=3, noise=0.0)
        >>> X.shape, sorted(set(y.tolist()))
        ((9, 2), [0, 1, 2])
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, int | np.integer) or n_classes < 2:
        raise ValueError(f"make_spirals: n_classes must be an integer >= 2, got {n_classes!r}")
    _check_n(n_samples, int(n_classes), "make_spirals")
    noise = _check_noise(noise, "make_spirals")
    rng = _rng(seed)
    parts = []
    for k, nk in enumerate(_per_class(int(n_samples), int(n_classes))):
        r = np.linspace(0.05, 1.0, nk)
        angle = 2 * np.pi * (float(turns) * r + k / n_classes)
        parts.append(np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1))
    return _finish(parts, noise, rng)


def make_blobs(n_samples: int = 200, centers: int | Any = 3, std: float = 1.0, n_features: int = 2,
               box: tuple[float, float] = (-8.0, 8.0), seed: int | np.random.Generator | None = 0
               ) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian blobs: ``centers`` (a count, drawn uniformly in ``box``, or an array (k, d)).

    Example:
        >>> X, y = make_blobs(30, centers=[[0.0, 0.0], [5.0, 5.0]], std=0.1)
        >>> X.shape, bool(abs(X[y == 1].mean() - 5.0) < 0.1)
        ((30, 2), True)
    """
    std = _check_noise(std, "make_blobs")
    rng = _rng(seed)
    if isinstance(centers, int | np.integer) and not isinstance(centers, bool):
        if centers < 1:
            raise ValueError(f"make_blobs: centers must be >= 1, got {centers}")
        if n_features < 1:
            raise ValueError(f"make_blobs: n_features must be >= 1, got {n_features}")
        C = rng.uniform(box[0], box[1], size=(int(centers), int(n_features)))
    else:
        C = np.asarray(centers, dtype=np.float64)
        if C.ndim != 2 or len(C) < 1:
            raise ValueError(f"make_blobs: centers must be a count or an array of shape (k, d), "
                             f"got shape {C.shape}")
    _check_n(n_samples, len(C), "make_blobs")
    parts = [c + std * rng.standard_normal((nk, C.shape[1]))
             for c, nk in zip(C, _per_class(int(n_samples), len(C)))]
    return _finish(parts, 0.0, rng)


# ------------------------------------------------------------------------------------ real data sets

@functools.cache
def _read(name: str) -> tuple[np.ndarray, np.ndarray]:
    raw = resources.files(__name__).joinpath(_INFO[name]["file"]).read_bytes()
    if name == "digits":
        table = np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",")
    else:
        table = np.loadtxt(io.BytesIO(raw), delimiter=",", skiprows=1)
    X = np.ascontiguousarray(table[:, :-1], dtype=np.float64)
    y = table[:, -1].astype(np.int64)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def _split(name: str, X: np.ndarray, y: np.ndarray, split: str) -> tuple[np.ndarray, np.ndarray]:
    if split not in _SPLITS:
        raise ValueError(f"load_{name}: split must be one of {_SPLITS}, got {split!r}")
    if split == "all":
        return X.copy(), y.copy()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_fraction=0.2, seed=0)
    return (X_train, y_train) if split == "train" else (X_test, y_test)


def load_digits(split: str = "all", scale: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The UCI 8x8 handwritten digits: ``X`` (n, 64) float64, ``y`` (n,) int64 digits 0..9.

    ``split``: "all" (1797 rows), or the fixed stratified split "train" (1438) / "test" (359)
    (`train_test_split` with test_fraction=0.2, seed=0: the same rows on every machine).
    ``scale=True`` divides the pixel counts (0..16) by 16. Licence CC BY 4.0; see `info`.

    Example:
        >>> X, y = load_digits()
        >>> X.shape, y.shape, int(y.max())
        ((1797, 64), (1797,), 9)
    """
    X, y = _read("digits")
    X = X / 16.0 if scale else X
    return _split("digits", X, y, split)


def load_iris(split: str = "all", scale: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Fisher's Iris data: ``X`` (n, 4) float64 in cm, ``y`` (n,) int64 in {0, 1, 2}.

    ``split`` as in `load_digits` ("train": 120 rows, "test": 30). ``scale=True`` standardizes each
    feature with the mean and standard deviation of the training part. Licence CC BY 4.0.

    Example:
        >>> X, y = load_iris(split="test")
        >>> X.shape, [int(c) for c in np.bincount(y)]
        ((30, 4), [10, 10, 10])
    """
    X, y = _read("iris")
    if scale:
        X_train, _, _, _ = train_test_split(X, y, test_fraction=0.2, seed=0)
        X = standardize(X_train, X)[1]
    return _split("iris", X, y, split)


# ----------------------------------------------------------------------------------------- helpers

def train_test_split(X: Any, y: Any, test_fraction: float = 0.2, seed: int | None = 0,
                     stratify: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic shuffled split: ``X_train, X_test, y_train, y_test``.

    ``stratify=True`` keeps the class proportions: each class contributes round(test_fraction * count)
    rows to the test part. The same ``seed`` always gives the same rows.

    Example:
        >>> X = np.arange(20.0).reshape(10, 2); y = np.array([0] * 5 + [1] * 5)
        >>> X_train, X_test, y_train, y_test = train_test_split(X, y, test_fraction=0.4)
        >>> len(X_train), len(X_test), [int(c) for c in np.bincount(y_test)]
        (6, 4, [2, 2])
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"train_test_split: X has {len(X)} rows but y has {len(y)}; they must match")
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"train_test_split: test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    if stratify:
        test_parts = []
        for c in np.unique(y):
            idx = np.flatnonzero(y == c)
            idx = idx[rng.permutation(len(idx))]
            test_parts.append(idx[: round(test_fraction * len(idx))])
        test = np.sort(np.concatenate(test_parts))
    else:
        perm = rng.permutation(len(y))
        test = np.sort(perm[: round(test_fraction * len(y))])
    mask = np.zeros(len(y), dtype=bool)
    mask[test] = True
    if mask.all() or not mask.any():
        raise ValueError(f"train_test_split: test_fraction={test_fraction} leaves an empty part with "
                         f"{len(y)} rows; use more rows or another fraction")
    return X[~mask], X[mask], y[~mask], y[mask]


def standardize(train: Any, *others: Any) -> tuple[np.ndarray, ...]:
    """Scale every column to mean 0, std 1 using the statistics of ``train`` only.

    Returns the scaled ``train`` followed by the scaled ``others`` (constant columns are left centred).

    Example:
        >>> a, b = standardize(np.array([[0.0], [2.0]]), np.array([[4.0]]))
        >>> a.ravel().tolist(), b.ravel().tolist()
        ([-1.0, 1.0], [3.0])
    """
    train = np.asarray(train, dtype=np.float64)
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return tuple((np.asarray(a, dtype=np.float64) - mean) / std for a in (train, *others))
