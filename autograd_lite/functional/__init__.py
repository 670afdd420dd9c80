"""The functional API: every op as a function (``F.softmax(t)``) and the derivative transforms.

Example:
    >>> import autograd_lite.functional as F
    >>> sorted(set(F.__all__)) == sorted(F.__all__)
    True
"""

from ..core import ops
from ..core.ops import *  # noqa: F403
from ..transforms import grad, gradients, hessian, hvp, jacobian, jvp, value_and_grad, vjp

__all__: list[str] = [*ops.__all__, "grad", "gradients", "hessian", "hvp", "jacobian", "jvp",
                      "value_and_grad", "vjp"]
