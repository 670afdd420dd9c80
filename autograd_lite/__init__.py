"""autograd_lite: a small, fast, correct automatic-differentiation engine.

Example:
    >>> from autograd_lite import Value
    >>> x = Value(2.0)
    >>> y = x * x + x.exp()
    >>> y.backward()
    >>> round(x.grad, 4)
    11.3891
"""

from .engine import (
    AnomalyError,
    detect_anomaly,
    enable_grad,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    zero_grad,
)
from .tensor import Tensor
from .value import Value

__version__ = "0.1.0"

__all__ = [
    "AnomalyError",
    "Tensor",
    "Value",
    "detect_anomaly",
    "enable_grad",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
    "zero_grad",
]

# Each block below belongs to one area; edit only your own block (imports + __all__ additions).
# --- tensor ops (issue 3) ---
from .tensor import (
    arange,
    clip,
    concatenate,
    eye,
    manual_seed,
    matmul,
    maximum,
    minimum,
    one_hot,
    ones,
    ones_like,
    randn,
    stack,
    where,
    zeros,
    zeros_like,
)

__all__ += ["arange", "clip", "concatenate", "eye", "manual_seed", "matmul", "maximum", "minimum",
            "one_hot", "ones", "ones_like", "randn", "stack", "where", "zeros", "zeros_like"]
# --- end tensor ops ---

# --- derivative toolkit (issue 4) ---
from .cost import cost_report, cost_sweep  # noqa: E402
from .functional.transforms import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp  # noqa: E402
from .gradcheck import GradCheckError, GradCheckReport, GradCheckWarning, check_grad  # noqa: E402

__all__ += ["grad", "hessian", "hvp", "jacobian", "jvp", "value_and_grad", "vjp"]
__all__ += ["GradCheckError", "GradCheckReport", "GradCheckWarning", "check_grad"]
__all__ += ["cost_report", "cost_sweep"]
# --- end derivative toolkit ---

# --- models and training (issue 5) ---
from . import data, losses, nn, optim  # noqa: E402
from .losses import ElasticNet, cross_entropy, elastic_net, mse  # noqa: E402
from .nn import MLP, Linear, Module, ValueMLP  # noqa: E402
from .optim import SGD, Adam  # noqa: E402
from .train import History, accuracy, fit, plot_decision_boundary, predict  # noqa: E402

__all__ += [
    "MLP", "SGD", "Adam", "ElasticNet", "History", "Linear", "Module", "ValueMLP", "accuracy",
    "cross_entropy", "data", "elastic_net", "fit", "losses", "mse", "nn", "optim", "plot_decision_boundary",
    "predict",
]
# --- end models and training ---

# --- graph renderer (issue 6) ---
from .viz import draw_graph  # noqa: E402

__all__ += ["draw_graph"]
# --- end graph renderer ---
