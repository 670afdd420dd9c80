# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. Quick start: values, gradients and graphs
#
# `autograd_lite` records every operation you do on a `Value` (a scalar) or a `Tensor` (a numpy
# array) in a **computation graph**, then walks that graph backwards to get derivatives:
# *reverse mode*, or backpropagation. The same rule table also pushes derivatives forwards:
# *forward mode*.
#
# In this notebook:
#
# 1. a single neuron $y = \tanh(wx + b)$, its gradients, and the gradients of its intermediates;
# 2. drawing the graph, with the gradient that flows along each edge, and stepping through
#    backprop one node at a time;
# 3. what happens when you run `backward()` twice (a re-run cell);
# 4. forward mode and the function transforms `grad` and `jvp`.

# %%
# %matplotlib inline
import math

import matplotlib.pyplot as plt
import numpy as np

from autograd_lite import Value, draw_backward_steps, draw_graph, grad, jvp

plt.rcParams["figure.dpi"] = 100

# %% [markdown]
# ## A neuron, forwards and backwards
#
# Take $h = wx + b$ and $y = \tanh(h)$. By hand, with the chain rule and $\tanh' = 1 - \tanh^2$:
#
# $$\frac{\partial y}{\partial h} = 1 - y^2, \qquad
#   \frac{\partial y}{\partial w} = (1 - y^2)\,x, \qquad
#   \frac{\partial y}{\partial x} = (1 - y^2)\,w, \qquad
#   \frac{\partial y}{\partial b} = 1 - y^2 .$$
#
# Labels are optional; they only make the printout and the drawing easier to read.

# %%
x = Value(0.5, label="x")
w = Value(-1.0, label="w")
b = Value(2.0, label="b")
h = w * x + b
h.label = "h"
y = h.tanh()
y.label = "y"
y.backward()

for v in (x, w, b, h, y):
    print(f"{v.label}: data = {v.data:+.6f}   dy/d{v.label} = {v.grad:+.6f}")

# %% [markdown]
# `backward()` wrote `.grad` on **every** node, the intermediate `h` included: `h.grad` is
# $\partial y / \partial h$, exactly the quantity you write in a hand derivation. Compare with the
# formulas above:

# %%
dy_dh = 1 - y.data ** 2
hand = {"h": dy_dh, "w": dy_dh * x.data, "x": dy_dh * w.data, "b": dy_dh}
for name, node in (("h", h), ("w", w), ("x", x), ("b", b)):
    print(f"d y / d {name}: library {node.grad:+.12f}   by hand {hand[name]:+.12f}")
    assert math.isclose(node.grad, hand[name], rel_tol=1e-12)

# %% [markdown]
# ## Drawing the graph
#
# `draw_graph` renders the graph with Graphviz: one box per value. Blue boxes are parameters
# (leaves that require a gradient), green is the output; a box made by an op has the op on top
# (orange), then the value's data and its gradient (red). With `edge_grads=True` each edge carries
# the gradient flowing back along it. Hover a box for all of its numbers and its op's rule.

# %%
draw_graph(y, edge_grads=True, title="y = tanh(w x + b)")

# %% [markdown]
# ## Backprop, one step at a time
#
# `backward()` visits the nodes from the output down, in reverse creation order: at each node
# the gradient is complete (every use of the node was visited before), and the op's rule sends a
# contribution back to each input. `draw_backward_steps` replays exactly that, one frame per node,
# without touching `.grad`: the current node is outlined in orange, gradients not known yet are
# `?`, and use **next** / **previous** or the slider (in an HTML export too; where scripts do not
# run, the steps are shown one under the other).

# %%
draw_backward_steps(y)

# %% [markdown]
# ## A value used twice
#
# When a value feeds several ops, its gradient is the **sum** of what flows back along each
# use (the multivariate chain rule). For $f = x \cdot x + x$ we expect $f'(x) = 2x + 1$; the
# drawing shows the three contributions $x$, $x$ and $1$ on the three edges leaving $x$.

# %%
x = Value(3.0, label="x")
f = x * x + x
f.label = "f"
f.backward()
print("df/dx =", x.grad, "  (2x + 1 =", 2 * x.data + 1, ")")
draw_graph(f, edge_grads=True, show_rules=True, legend=False)

# %% [markdown]
# ## Running `backward()` twice
#
# In a notebook you often re-run a cell. Leaves **accumulate** gradients (that is what lets
# mini-batches add up), so a silent second pass would double them. `autograd_lite` refuses
# instead and tells you what to do:

# %%
try:
    f.backward()
except RuntimeError as err:
    print("RuntimeError:", err)

# %% [markdown]
# Rebuild the forward pass (and reset the leaves' gradients) to start again; or, when you really
# want two passes to add up, say so with `retain_graph=True` on the first call.

# %%
x = Value(3.0, label="x")
f = x * x + x
f.backward(retain_graph=True)
f.backward()
print("two passes accumulate on the leaf:", x.grad, "= 2 * 7")
x.zero_grad()
print("after zero_grad():", x.grad)

# %% [markdown]
# ## Any expression, any depth
#
# Graphs can be as deep as you like (the graph walk is iterative, not recursive). Here is the
# derivative of $\sigma(x) = 1 / (1 + e^{-x})$ built from its definition, compared with the
# closed form $\sigma(1 - \sigma)$, and the derivative of $\tanh$ along a whole curve with the
# function transform `grad`, which turns a Python function into its derivative.

# %%
x = Value(0.7, label="x")
s = 1 / (1 + (-x).exp())
s.backward()
print(f"sigma'(0.7) by backprop: {x.grad:.12f}   sigma(1 - sigma): {s.data * (1 - s.data):.12f}")

dtanh = grad(lambda t: t.tanh())
xs = np.linspace(-4, 4, 201)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(xs, np.tanh(xs), label=r"$\tanh(x)$")
ax.plot(xs, [dtanh(float(t)) for t in xs], label=r"$\tanh'(x)$ from grad()")
ax.plot(xs[::10], 1 - np.tanh(xs[::10]) ** 2, "o", ms=4, label=r"$1 - \tanh^2(x)$")
ax.set_xlabel("x")
ax.set_ylabel("value")
ax.set_title(r"$\tanh$ and its derivative: grad() against $1 - \tanh^2$")
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown]
# ## Forward mode
#
# Reverse mode gives the derivative of **one output** with respect to **all inputs** in one
# backward pass. Forward mode goes the other way: it pushes a *tangent* (a direction in input
# space) forwards through the same rules and gives the derivative of **all outputs** along that
# one direction, the Jacobian-vector product $J u$.
#
# `jvp(f, primals, tangents)` returns $f(\text{primals})$ and $J\,\text{tangents}$. With the
# tangent $(1, 0, 0)$ on $(x, w, b)$ we get $\partial y / \partial x$, the number backprop gave
# above.

# %%
def neuron(x, w, b):
    return (w * x + b).tanh()


value, dy_dx = jvp(neuron, (0.5, -1.0, 2.0), (1.0, 0.0, 0.0))
print(f"y = {value:.6f}, dy/dx by forward mode = {dy_dx:+.6f}")
_, dy_dw = jvp(neuron, (0.5, -1.0, 2.0), (0.0, 1.0, 0.0))
print(f"dy/dw by forward mode = {dy_dw:+.6f}")
print("reverse mode, all at once:", grad(neuron, argnums=(0, 1, 2))(0.5, -1.0, 2.0))

# %% [markdown]
# Forward mode costs one pass **per input direction**, reverse mode one pass **per output**. For a
# loss (one output, many parameters) reverse mode wins; for a curve $t \mapsto (\cos t, \sin t)$
# (one input, several outputs) forward mode gives the whole velocity vector in one pass:

# %%
def circle(t):
    return (t.cos(), t.sin())


ts = np.linspace(0, 2 * np.pi, 13)[:-1]
points, velocities = [], []
for t in ts:
    (cx, sy), (dcx, dsy) = jvp(circle, (float(t),), (1.0,))
    points.append((cx, sy))
    velocities.append((dcx, dsy))
points, velocities = np.array(points), np.array(velocities)

fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.plot(np.cos(np.linspace(0, 2 * np.pi, 200)), np.sin(np.linspace(0, 2 * np.pi, 200)), color="0.7")
ax.quiver(points[:, 0], points[:, 1], velocities[:, 0], velocities[:, 1], angles="xy",
          scale_units="xy", scale=2.5, color="tab:red", width=0.008)
ax.set_aspect("equal")
ax.set_title("tangents of (cos t, sin t) by forward mode")
plt.show()

# %% [markdown]
# ## Tensors
#
# Everything above works the same on numpy arrays with `Tensor`. A Tensor needs
# `requires_grad=True` to receive a gradient (Python numbers and arrays mixed in are constants).
# The gradient of $\tfrac12\lVert Wx\rVert^2$ with respect to $W$ is $(Wx)\,x^\top$:

# %%
from autograd_lite import Tensor  # noqa: E402

W = Tensor(np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]]), requires_grad=True, label="W")
xv = np.array([0.5, -2.0])
z = W @ xv
z.label = "z = W x"
loss = 0.5 * (z * z).sum()
loss.label = "loss"
loss.backward()
print("W.grad =\n", W.grad)
print("(W x) x^T =\n", np.outer(W.data @ xv, xv))
draw_graph(loss)

# %% [markdown]
# **Next:** notebook 2 checks the classic identities and derivatives of the seeds' homework
# (sigmoid, tanh, softplus, sign, abs, rect, norms, softmax) numerically and with the library.
