"""The ``train`` command: the seeds' MLP with elastic net on a shipped or generated data set."""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.tensor import Tensor
from ..models import data as D
from ..models import losses as L
from ..models.files import OutputPathError, make_folder
from ..models.losses import ElasticNet
from ..models.nn import MLP
from ..models.optim import SGD, Adam, Optimizer
from ..models.train import TrainingStoppedWarning, accuracy, fit, plot_decision_boundary

_DATASETS = ("digits", "iris", "moons", "circles", "spirals")


def _int_at_least(low: int) -> Callable[[str], int]:

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_nonneg_int = _int_at_least(0)


def _float_in(low: float, high: float | None, low_open: bool = False, high_open: bool = True
              ) -> Callable[[str], float]:

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        ok = math.isfinite(value) and (value > low if low_open else value >= low)
        if high is not None:
            ok = ok and (value < high if high_open else value <= high)
        if not ok:
            lo = f"{'>' if low_open else '>='} {low:g}"
            hi = "" if high is None else f" and {'<' if high_open else '<='} {high:g}"
            raise argparse.ArgumentTypeError(f"must be {lo}{hi}, got {text}")
        return value

    return parse


def add_train_command(sub: Any) -> Any:
    """Register ``train`` on the CLI's sub-parsers (``python -m autograd_lite train --help``).

    Example:
        >>> import argparse
        >>> sub = argparse.ArgumentParser().add_subparsers()
        >>> add_train_command(sub).prog.endswith("train")
        True
    """

    p = sub.add_parser(
        "train", help="train the seeds' one-hidden-layer MLP on the shipped digits data (the main job)",
        description=(
            "Train the seeds' network x -> h^a = W1 x + b1 -> h^s = LeakyReLU_alpha(h^a) -> "
            "o^a = W2 h^s + b2 -> softmax, with the cross-entropy loss L = logsumexp(o^a) - o^a_y and the "
            "elastic-net penalty l11|W1|_1 + l12|W1|^2 + l21|W2|_1 + l22|W2|^2, by (batch) gradient "
            "descent. Prints the test accuracy and writes into --out: loss_curve.png (matplotlib), "
            "history.csv, graph.svg (the computation graph of one test example), model.npz, and "
            "decision_boundary.png for 2-D data."),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", choices=_DATASETS, default="digits",
                   help="data set: digits (UCI 8x8, shipped, 1438 train / 359 test), iris (shipped), or a "
                        "generated 2-D set (1000 points, 80/20 split)")
    p.add_argument("--hidden", type=_positive_int, default=64, help="hidden units d_h")
    p.add_argument("--activation", choices=("leaky_relu", "relu", "tanh", "sigmoid", "softplus"),
                   default="leaky_relu", help="hidden activation")
    p.add_argument("--alpha", type=_float_in(0.0, 1.0), default=0.01,
                   help="leaky-ReLU slope alpha for negative inputs (0 <= alpha < 1)")
    p.add_argument("--epochs", type=_positive_int, default=200, help="passes over the training data")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd",
                   help="sgd: gradient descent (with --momentum); adam: Adam")
    p.add_argument("--lr", type=_float_in(0.0, None, low_open=True), default=0.2,
                   help="learning rate eta > 0")
    p.add_argument("--momentum", type=_float_in(0.0, 1.0), default=0.9,
                   help="momentum for sgd in [0, 1); 0 gives the seeds' plain batch gradient descent")
    p.add_argument("--batch-size", type=_nonneg_int, default=0,
                   help="examples per step; 0 = the full training set (batch gradient descent)")
    for name, default, what in (("l11", 1e-5, "L1 on W1"), ("l12", 1e-4, "squared L2 on W1"),
                                ("l21", 1e-5, "L1 on W2"), ("l22", 1e-4, "squared L2 on W2")):
        p.add_argument(f"--{name}", type=_float_in(0.0, None), default=default,
                       help=f"elastic-net lambda_{name[1:]}: {what} (>= 0)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="seed of the weight init and batch order")
    p.add_argument("--out", default="runs",
                   help="folder for the output files (its last level is created if missing)")
    p.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    p.set_defaults(func=run_train)
    return p


def _load_for_cli(name: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:

    if name == "digits":
        X_train, y_train = D.load_digits(split="train")
        X_test, y_test = D.load_digits(split="test")
    elif name == "iris":
        X_train, y_train = D.load_iris(split="train", scale=True)
        X_test, y_test = D.load_iris(split="test", scale=True)
    else:
        makers: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
            "moons": D.make_moons, "circles": D.make_circles, "spirals": D.make_spirals}
        X, y = makers[name](1000, seed=seed)
        X_train, X_test, y_train, y_test = D.train_test_split(X, y, test_fraction=0.2, seed=seed)
    return X_train, y_train, X_test, y_test


def example_graph(model: Any, x: Any, label: Any, regularizer: Callable[[Any], Any] | None = None,
                  max_nodes: int = 80) -> Any:
    """The computation graph of one example's loss (cross-entropy + penalty), after backward.

    ``x``, ``label``: one example and its class, or examples (rows) and their classes: then the
    first example the model classifies correctly is drawn, or, when it gets none right, the
    first one. The title says which example it is, its class and the predicted class, and
    "misclassified" when they differ. Returns `autograd_lite.tools.viz.draw_graph`'s object
    (``.source``, ``.render(path)``); each module (fc1, act1, fc2, the loss, the penalty) is
    drawn as a box.

    Example:
        >>> import numpy as np
        >>> from autograd_lite.nn import MLP
        >>> g = example_graph(MLP([3, 4, 2]), np.ones(3), 1)
        >>> "cluster" in g.source, "predicted" in g.source
        (True, True)
    """
    from ..core.engine import no_grad
    from .viz import draw_graph

    X = np.asarray(x, dtype=np.float64)
    X = X[None, :] if X.ndim == 1 else X
    labels = np.atleast_1d(np.asarray(label)).astype(int)
    with no_grad():
        predicted = np.argmax(np.asarray(model(X).data).reshape(len(X), -1), axis=-1)
    right = np.flatnonzero(predicted == labels)
    i = int(right[0]) if right.size else 0
    x_t = Tensor(X[i], label="x")
    logits = model(x_t)
    logits.label = "o^a"
    loss = L.cross_entropy(logits, int(labels[i]))
    if regularizer is not None:
        loss = loss + regularizer(model)
    loss.label = "loss"
    loss.backward()
    which = f"example {i}" if len(X) > 1 else "one example"
    verdict = (f"class {labels[i]}, predicted {predicted[i]}" if predicted[i] == labels[i] else
               f"MISCLASSIFIED: predicted class {predicted[i]}, true class {labels[i]}")
    return draw_graph(loss, max_nodes=max_nodes, title=f"{which} ({verdict}): loss and gradients")


def run_train(args: Any) -> int:
    """Run the ``train`` command with parsed arguments; returns the exit code (0 on success).

    Ctrl-C during training writes what the finished epochs made (history, model, loss curve) and
    exits with 130 and a one-line message; a diverging loss does the same with exit code 1.
    """

    try:
        out = str(make_folder(args.out))
    except OutputPathError as err:
        print(f"train: --out: {err}", file=sys.stderr)
        return 2
    X_train, y_train, X_test, y_test = _load_for_cli(args.data, args.seed)
    m = int(max(y_train.max(), y_test.max())) + 1
    model = MLP([X_train.shape[1], args.hidden, m], activation=args.activation, alpha=args.alpha,
                seed=args.seed)
    penalty = ElasticNet(per_layer=[(args.l11, args.l12), (args.l21, args.l22)])
    if args.optimizer == "adam":
        optimizer: Optimizer = Adam(model.parameters(), lr=args.lr)
    else:
        optimizer = SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    print(f"data: {args.data}: {len(X_train)} training / {len(X_test)} test examples, "
          f"d = {X_train.shape[1]}, m = {m} classes")
    print(f"model: {model!r}".replace("\n", "\n       "))
    print(f"loss: cross-entropy + {penalty!r}; optimizer: {optimizer!r}; "
          f"batch: {'full' if not args.batch_size else args.batch_size}; epochs: {args.epochs}")
    with warnings.catch_warnings():  # the stop is reported below, in one line
        warnings.simplefilter("ignore", TrainingStoppedWarning)
        history = fit(model, X_train, y_train, optimizer=optimizer, epochs=args.epochs,
                      batch_size=args.batch_size or None, regularizer=penalty, validation=(X_test, y_test),
                      seed=args.seed, progress=not args.no_progress, desc=f"train {args.data}")
    if history.stopped in ("interrupted", "diverged"):
        title = f"{args.data}: MLP [{X_train.shape[1]}, {args.hidden}, {m}], stopped ({history.stopped})"
        written = _write_outputs(out, model, history, title)
        what = ", ".join(written) if written else "nothing (no epoch finished)"
        reason = history.stop_message.removeprefix("fit: ").rstrip(".")
        print(f"train: {reason}. Wrote {what} into {out}.", file=sys.stderr)
        return 130 if history.stopped == "interrupted" else 1
    train_acc = accuracy(model, X_train, y_train)
    test_acc = accuracy(model, X_test, y_test)
    print(f"final loss R = {history.loss[-1]:.4f} (objective R + penalty = {history.objective[-1]:.4f})")
    print(f"train accuracy: {train_acc:.4f}")
    print(f"test accuracy: {test_acc:.4f} ({round(test_acc * len(y_test))}/{len(y_test)})")
    title = f"{args.data}: MLP [{X_train.shape[1]}, {args.hidden}, {m}], test accuracy {test_acc:.1%}"
    written = _write_outputs(out, model, history, title)
    if X_train.shape[1] == 2 and "loss_curve.png" in written:
        plot_decision_boundary(model, X_test, y_test, path=os.path.join(out, "decision_boundary.png"))
        written.append("decision_boundary.png")
    graph = example_graph(model, X_test, y_test, penalty)
    try:
        graph.save(os.path.join(out, "graph.svg"))
        written.append("graph.svg")
    except Exception as err:  # Graphviz missing or failing: keep the DOT text
        graph.save(os.path.join(out, "graph.dot"))
        written.append("graph.dot")
        print(f"train: could not render graph.svg ({err}); wrote graph.dot instead", file=sys.stderr)
    print(f"wrote {', '.join(written)} into {out}")
    return 0


def _write_outputs(out: str, model: Any, history: Any, title: str) -> list[str]:
    """history.csv, model.npz and loss_curve.png (each all or nothing); the names written."""
    if not len(history):
        return []
    history.to_csv(os.path.join(out, "history.csv"))
    model.save(os.path.join(out, "model.npz"))
    written = ["history.csv", "model.npz"]
    try:
        history.plot(os.path.join(out, "loss_curve.png"), title=title, val_name="test")
        written.append("loss_curve.png")
    except ImportError as err:
        print(f"train: no PNG plots ({err}); the loss curve is in history.csv", file=sys.stderr)
    return written
