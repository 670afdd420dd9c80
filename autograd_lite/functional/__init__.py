"""The functional API: ops as functions (`ops`) and derivative transforms (`transforms`).

Example:
    >>> import autograd_lite.functional as F
    >>> sorted(set(F.__all__)) == sorted(F.__all__)
    True
"""

# --- ops as functions (issue 3, autograd_lite/functional/ops.py) ---
from . import ops
from .ops import *  # noqa: F403

_OPS = list(ops.__all__)
# --- end ops ---

# --- derivative transforms (issue 4, autograd_lite/functional/transforms.py) ---
from .transforms import grad, gradients, hessian, hvp, jacobian, jvp, value_and_grad, vjp  # noqa: E402, F401

_TRANSFORMS = ["grad", "gradients", "hessian", "hvp", "jacobian", "jvp", "value_and_grad", "vjp"]
# --- end transforms ---

__all__: list[str] = _OPS + _TRANSFORMS
