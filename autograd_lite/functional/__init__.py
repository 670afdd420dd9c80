"""The functional API: ops as functions (`ops`) and derivative transforms (`transforms`).

Example:
    >>> import autograd_lite.functional as F
    >>> sorted(set(F.__all__)) == sorted(F.__all__)
    True
"""

# --- ops as functions (issue 3, autograd_lite/functional/ops.py) ---
# --- end ops ---

# --- derivative transforms (issue 4, autograd_lite/functional/transforms.py) ---
# --- end transforms ---

__all__: list[str] = []
# each block above extends __all__ with the names it imports
