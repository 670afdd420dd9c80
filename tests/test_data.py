"""Data: seeded generators, the shipped real data sets (offline, licensed), deterministic splits."""

from __future__ import annotations

import hashlib
from importlib import resources

import numpy as np
import pytest
from autograd_lite.data import (
    info,
    load_digits,
    load_iris,
    make_blobs,
    make_circles,
    make_moons,
    make_spirals,
    standardize,
    train_test_split,
)

GENERATORS = [
    (make_moons, {}),
    (make_circles, {}),
    (make_spirals, {"n_classes": 3}),
    (make_blobs, {"centers": 4}),
]


@pytest.mark.parametrize("make, kwargs", GENERATORS)
def test_generators_are_seeded_balanced_and_typed(make: object, kwargs: dict[str, object]) -> None:
    X, y = make(101, seed=5, **kwargs)  # type: ignore[operator]
    X2, y2 = make(101, seed=5, **kwargs)  # type: ignore[operator]
    X3, _ = make(101, seed=6, **kwargs)  # type: ignore[operator]
    assert X.shape == (101, 2) and X.dtype == np.float64 and y.dtype == np.int64
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert not np.array_equal(X, X3)
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= 1  # classes differ in size by at most one
    assert not np.array_equal(y, np.sort(y))  # rows are shuffled


def test_generator_geometry_without_noise() -> None:
    X, y = make_circles(40, noise=0.0, factor=0.3)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0)
    np.testing.assert_allclose(r[y == 1], 0.3)
    X, y = make_moons(40, noise=0.0)
    np.testing.assert_allclose(np.hypot(X[y == 0, 0], X[y == 0, 1]), 1.0)
    np.testing.assert_allclose(np.hypot(X[y == 1, 0] - 1.0, X[y == 1, 1] - 0.5), 1.0)
    X, y = make_blobs(400, centers=[[0.0, 0.0], [10.0, -10.0]], std=1.0, seed=0)
    np.testing.assert_allclose(X[y == 1].mean(axis=0), [10.0, -10.0], atol=0.3)
    assert X[y == 0].std() == pytest.approx(1.0, rel=0.15)


def test_generator_errors() -> None:
    with pytest.raises(ValueError, match="n_samples must be an integer >= 2"):
        make_moons(1)
    with pytest.raises(ValueError, match="noise is a standard deviation"):
        make_moons(10, noise=-0.1)
    with pytest.raises(ValueError, match=r"factor .* must be in \(0, 1\)"):
        make_circles(10, factor=1.5)
    with pytest.raises(ValueError, match="n_classes must be an integer >= 2"):
        make_spirals(10, n_classes=1)
    with pytest.raises(ValueError, match="centers must be"):
        make_blobs(10, centers=np.zeros(3))


def test_digits_is_the_uci_8x8_set() -> None:
    X, y = load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.min() == 0.0 and X.max() == 1.0
    raw, _ = load_digits(scale=False)
    assert set(np.unique(raw)) <= set(range(17))
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    # the first image is a zero: a ring of ink around an empty centre
    img = raw[0].reshape(8, 8)
    assert y[0] == 0 and img[3:5, 3:5].sum() == 0 and img[:, 2:6].sum() > 100
    X[0, 0] = 5.0  # callers get copies: the cache is not touched
    assert load_digits()[0][0, 0] == 0.0


def test_digits_split_is_fixed_stratified_and_disjoint() -> None:
    X_train, _ = load_digits(split="train")
    X_test, y_test = load_digits(split="test")
    assert (len(X_train), len(X_test)) == (1438, 359)
    X, y = load_digits()
    # the two parts partition the rows (compare row fingerprints)
    rows = {hashlib.sha1(r.tobytes()).hexdigest() for r in X}
    assert len(rows) > 1700
    train_rows = [hashlib.sha1(r.tobytes()).hexdigest() for r in X_train]
    test_rows = [hashlib.sha1(r.tobytes()).hexdigest() for r in X_test]
    assert sorted(train_rows + test_rows) == sorted(hashlib.sha1(r.tobytes()).hexdigest() for r in X)
    share = np.bincount(y_test, minlength=10) / np.bincount(y, minlength=10)
    assert np.all(np.abs(share - 0.2) < 0.01)
    # deterministic: the same rows every call (and on every machine: fixed seed, no shuffling state)
    assert np.array_equal(load_digits(split="test")[1], y_test)
    assert hashlib.sha1(y_test.tobytes()).hexdigest() == hashlib.sha1(
        train_test_split(X, y, 0.2, seed=0)[3].tobytes()).hexdigest()
    with pytest.raises(ValueError, match="split must be one of"):
        load_digits(split="validation")


def test_iris() -> None:
    X, y = load_iris()
    assert X.shape == (150, 4) and np.bincount(y).tolist() == [50, 50, 50]
    assert X[0].tolist() == [5.1, 3.5, 1.4, 0.2]
    Xs, _ = load_iris(split="train", scale=True)
    np.testing.assert_allclose(Xs.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Xs.std(axis=0), 1.0)


def test_data_files_licence_and_source_ship_in_the_package() -> None:
    folder = resources.files("autograd_lite.data")
    names = {p.name for p in folder.iterdir()}
    assert {"digits.csv.gz", "iris.csv", "README.md", "LICENSE"} <= names
    licence = folder.joinpath("LICENSE").read_text()
    assert "CC BY 4.0" in licence and "10.24432/C50P49" in licence
    readme = folder.joinpath("README.md").read_text()
    assert "UCI Machine Learning Repository" in readme and "Alpaydin" in readme
    facts = info("digits")
    assert facts["n"] == 1797 and "CC BY 4.0" in facts["licence"] and "UCI" in facts["source"]
    with pytest.raises(ValueError, match="unknown data set 'mnist'"):
        info("mnist")


def test_train_test_split_and_standardize() -> None:
    X = np.arange(40.0).reshape(20, 2)
    y = np.array([0] * 10 + [1] * 10)
    a = train_test_split(X, y, test_fraction=0.3, seed=1)
    b = train_test_split(X, y, test_fraction=0.3, seed=1)
    for u, v in zip(a, b):
        assert np.array_equal(u, v)
    assert np.bincount(a[3]).tolist() == [3, 3]
    assert len(train_test_split(X, y, 0.25, stratify=False)[1]) == 5
    with pytest.raises(ValueError, match="X has 20 rows but y has 3"):
        train_test_split(X, y[:3])
    with pytest.raises(ValueError, match="test_fraction must be in"):
        train_test_split(X, y, test_fraction=1.0)
    train, test = standardize(np.array([[1.0, 5.0], [3.0, 5.0]]), np.array([[2.0, 6.0]]))
    np.testing.assert_allclose(train, [[-1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(test, [[0.0, 1.0]])
