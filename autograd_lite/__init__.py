"""autograd_lite: a small, fast, correct automatic-differentiation engine.

Example:
    >>> from autograd_lite import Value
    >>> x = Value(2.0)
    >>> y = x * x + x.exp()
    >>> y.backward()
    >>> round(x.grad, 4)
    11.3891
"""

import sys as _sys

from . import transforms as _transforms
from .core import engine as _engine
from .core import ops as _ops
from .core import rules as _rules
from .core import tensor as _tensor
from .core import value as _value
from .core.engine import (
    AnomalyError,
    detect_anomaly,
    enable_grad,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    zero_grad,
)
from .core.tensor import (
    Tensor,
    arange,
    clip,
    compute,
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
    tensor,
    where,
    zeros,
    zeros_like,
)
from .core.value import Value
from .models import data, losses, micrograd, nn, optim, train
from .models.losses import ElasticNet, cross_entropy, elastic_net, mse
from .models.nn import MLP, Linear, Module, ValueMLP, load
from .models.optim import SGD, Adam
from .models.train import History, accuracy, fit, plot_decision_boundary, predict
from .tools import cost as _cost
from .tools import expr as _expr
from .tools import gradcheck as _gradcheck
from .tools import viz as _viz
from .tools.cost import cost_report, cost_sweep
from .tools.gradcheck import GradCheckError, GradCheckReport, GradCheckWarning, check_grad
from .tools.viz import draw_backward_steps, draw_graph
from .transforms import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp

# autograd_lite.compile, kept out of __all__: a star import must not shadow the builtin compile()
from .transforms.compile import compile as compile

__version__ = "0.1.0"

# The modules' earlier flat paths (autograd_lite.engine, autograd_lite.viz, ...) keep working.
for _old, _mod in {"engine": _engine, "rules": _rules, "value": _value, "tensor": _tensor,
                   "tensor_rules": _rules,
                   "nn": nn, "losses": losses, "optim": optim, "train": train,
                   "data": data, "viz": _viz, "gradcheck": _gradcheck, "cost": _cost, "expr": _expr,
                   "functional.ops": _ops, "functional.transforms": _transforms,
                   # micrograd's own import paths (micrograd.engine / micrograd.nn) under our name
                   "micrograd": micrograd, "micrograd.engine": _value, "micrograd.nn": micrograd}.items():
    _sys.modules.setdefault(f"{__name__}.{_old}", _mod)

__all__ = [
    "MLP", "SGD", "Adam", "AnomalyError", "ElasticNet", "GradCheckError", "GradCheckReport",
    "GradCheckWarning", "History", "Linear", "Module", "Tensor", "Value", "ValueMLP", "accuracy",
    "arange", "check_grad", "clip", "compute", "concatenate", "cost_report", "cost_sweep", "cross_entropy",
    "data", "detect_anomaly", "draw_backward_steps", "draw_graph", "elastic_net", "enable_grad", "eye", "fit",
    "grad", "hessian", "hvp", "is_anomaly_enabled", "is_grad_enabled", "jacobian", "jvp", "load", "losses",
    "manual_seed", "matmul", "maximum", "micrograd", "minimum", "mse", "nn", "no_grad", "one_hot", "ones",
    "ones_like", "optim", "plot_decision_boundary", "predict", "randn", "stack", "tensor", "value_and_grad",
    "vjp", "where", "zero_grad", "zeros", "zeros_like",
]
