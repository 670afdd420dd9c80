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
# # 2. Derivatives of basic functions
#
# The first part of the seeds' homework ("Derivatives and relationships between basic functions")
# asks for a dozen identities and derivatives. Here each one is checked **three ways**:
#
# * with the formula you derive by hand,
# * with `autograd_lite` (reverse mode, `grad` / `jacobian` / `vjp`),
# * with central finite differences $\dfrac{f(x + \varepsilon) - f(x - \varepsilon)}{2\varepsilon}$,
#   which need no calculus at all.
#
# The definitions: $\sigma(x) = \dfrac{1}{1 + e^{-x}}$, $\operatorname{softplus}(x) = \ln(1 + e^x)$,
# $\operatorname{rect}(x) = \max(0, x)$, $S(x)_i = e^{x_i} / \sum_j e^{x_j}$ (softmax).

# %%
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np
from autograd_lite.rules import RULES
from IPython.display import display

from autograd_lite import Tensor, check_grad, grad, jacobian, vjp

plt.rcParams["figure.dpi"] = 100
rng = np.random.default_rng(0)
xs = np.linspace(-6, 6, 241)            # contains 0 exactly (index 120)


def central_difference(f, x, eps=1e-6):
    """Elementwise derivative of an elementwise numpy function by central differences."""
    return (f(x + eps) - f(x - eps)) / (2 * eps)


def elementwise_derivative(method, x):
    """f'(x) for an elementwise Tensor method, with the library: the gradient of sum f(x)."""
    return grad(lambda t: getattr(t, method)().sum())(x)


def sigmoid_np(x):
    return 1 / (1 + np.exp(-x))


# %% [markdown]
# ## (a) $\sigma(x) = \tfrac12\left(\tanh(\tfrac{x}{2}) + 1\right)$
#
# Multiply numerator and denominator of $\tanh(x/2) = \dfrac{e^{x/2} - e^{-x/2}}{e^{x/2} + e^{-x/2}}$
# by $e^{-x/2}$: $\tanh(x/2) = \dfrac{1 - e^{-x}}{1 + e^{-x}}$, so
# $\tfrac12(\tanh(x/2) + 1) = \dfrac{1}{1 + e^{-x}}$. This form is also how the library computes
# $\sigma$: it never overflows, even at $x = \pm 1000$ where $e^{-x}$ would.

# %%
lhs = Tensor(xs).sigmoid().data
rhs = 0.5 * (np.tanh(xs / 2) + 1)
print(f"max |sigmoid(x) - (tanh(x/2) + 1)/2| on [-6, 6]: {np.abs(lhs - rhs).max():.1e}")
print("sigmoid at -1000, 0, 1000:", Tensor([-1000.0, 0.0, 1000.0]).sigmoid().data)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.3))
ax1.plot(xs, lhs, lw=3, alpha=0.5, label=r"$\sigma(x)$ (library)")
ax1.plot(xs, rhs, "--", label=r"$\frac{1}{2}(\tanh(x/2) + 1)$")
ax1.plot(xs, np.tanh(xs), color="0.6", lw=1, label=r"$\tanh(x)$")
ax1.legend()
ax1.grid(alpha=0.3)
difference = np.abs(lhs - rhs)
exact = difference == 0
ax2.semilogy(xs[~exact], difference[~exact], ".", ms=3)
ax2.set_title(f"|difference|: rounding only; exactly 0 at {exact.sum()} of {len(xs)} points", fontsize=10)
ax2.grid(alpha=0.3)
plt.show()

# %% [markdown]
# ## (b) $\ln \sigma(x) = -\operatorname{softplus}(-x)$
#
# $\ln \sigma(x) = \ln \dfrac{1}{1 + e^{-x}} = -\ln(1 + e^{-x}) = -\operatorname{softplus}(-x)$.
#
# The identity matters numerically: computing $\ln(1/(1 + e^{-x}))$ literally gives $-\infty$ at
# $x = -1000$ (the exponential overflows), while the library's `log_sigmoid` uses the softplus form
# and returns the right answer, $-1000$, with a finite derivative $1 - \sigma(x)$.

# %%
wide = np.linspace(-1000, 1000, 9)
with np.errstate(over="ignore", divide="ignore"):
    naive = np.log(1 / (1 + np.exp(-wide)))
stable = Tensor(wide).log_sigmoid().data
minus_softplus = -Tensor(-wide).softplus().data
for x, n, s, m in zip(wide, naive, stable, minus_softplus):
    print(f"x = {x:7.0f}   literal ln(1/(1+e^-x)) = {n:10.4g}   log_sigmoid = {s:10.4g}   "
          f"-softplus(-x) = {m:10.4g}")
print("d/dx log_sigmoid at x = -1000:", elementwise_derivative("log_sigmoid", np.array([-1000.0])))
assert np.allclose(stable, minus_softplus) and np.isfinite(stable).all()

# %% [markdown]
# ## (c, d) $\sigma' = \sigma(1 - \sigma)$ and $\tanh' = 1 - \tanh^2$
#
# $\sigma'(x) = \dfrac{e^{-x}}{(1 + e^{-x})^2} = \dfrac{1}{1 + e^{-x}} \cdot \dfrac{e^{-x}}{1 + e^{-x}}
# = \sigma(x)\,(1 - \sigma(x))$, and with the quotient rule
# $\tanh'(x) = \dfrac{(e^x + e^{-x})^2 - (e^x - e^{-x})^2}{(e^x + e^{-x})^2} = 1 - \tanh^2(x)$.
#
# Both derivatives are written **with the function itself**, which is why backprop can reuse the
# forward output: the rule table says so in its one-line docs.

# %%
print("sigmoid rule:", RULES["sigmoid"].doc)
print("tanh rule:   ", RULES["tanh"].doc)

checks = {
    "sigmoid": (sigmoid_np, lambda s: s * (1 - s)),
    "tanh": (np.tanh, lambda t: 1 - t ** 2),
}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.3))
for ax, (name, (f, from_output)) in zip(axes, checks.items()):
    library = elementwise_derivative(name, xs)
    hand = from_output(f(xs))
    numeric = central_difference(f, xs)
    print(f"{name}': max |library - hand| = {np.abs(library - hand).max():.1e}, "
          f"max |library - finite differences| = {np.abs(library - numeric).max():.1e}")
    ax.plot(xs, f(xs), color="0.6", label=f"{name}(x)")
    ax.plot(xs, library, lw=3, alpha=0.5, label=f"{name}'(x), autodiff")
    ax.plot(xs[::12], hand[::12], "o", ms=4, label="formula")
    ax.set_title(f"{name}' = " + ("σ(1 − σ)" if name == "sigmoid" else "1 − tanh²"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## (e, f, g) sign, abs and rect with indicator functions
#
# $$\operatorname{sign}(x) = \mathbb 1_{\{x > 0\}} - \mathbb 1_{\{x < 0\}}, \qquad
#   \operatorname{abs}'(x) = \operatorname{sign}(x), \qquad
#   \operatorname{rect}(x) = x\,\mathbb 1_{\{x > 0\}}, \quad
#   \operatorname{rect}'(x) = \mathbb 1_{\{x > 0\}}.$$
#
# The strict inequalities matter at $x = 0$: one seed solution writes
# $\operatorname{sign} = \mathbb 1_{\mathbb R_+} - \mathbb 1_{\mathbb R_-}$, which gives the right
# value 0 at 0 only if **both** $\mathbb R_+$ and $\mathbb R_-$ contain 0; with
# $\mathbb R_+ = [0, \infty)$ and $\mathbb R_- = (-\infty, 0)$ it gives $+1$. The derivatives of
# abs and rect do not exist at 0; like the homework allows, the library returns 0 there
# (its "kink policy"), and finite differences give the average of the two one-sided slopes.

# %%
def indicator(condition):
    return condition.astype(float)


sign_by_indicators = indicator(xs > 0) - indicator(xs < 0)
sign_half_open = indicator(xs >= 0) - indicator(xs < 0)    # R+ = [0, inf), R- = (-inf, 0)
print("sign(x) = 1{x>0} - 1{x<0} matches the library:",
      np.array_equal(sign_by_indicators, Tensor(xs).sign().data))
print("with R+ = [0, inf) it differs at x = 0 only:", xs[sign_half_open != np.sign(xs)])

abs_prime = elementwise_derivative("abs", xs)
rect_prime = elementwise_derivative("relu", xs)
print("abs' == sign everywhere:", np.array_equal(abs_prime, np.sign(xs)))
print("rect' == 1{x>0} everywhere:", np.array_equal(rect_prime, indicator(xs > 0)))
print("at x = 0: library abs' =", abs_prime[120], " rect' =", rect_prime[120])
print("at x = 0: central differences abs' =", central_difference(np.abs, 0.0),
      " rect' =", central_difference(lambda t: np.maximum(t, 0), 0.0))

fig, axes = plt.subplots(1, 3, figsize=(12, 3))
panels = [("sign(x)", np.sign(xs), sign_by_indicators, "1{x>0} − 1{x<0}"),
          ("abs'(x)", abs_prime, np.sign(xs), "sign(x)"),
          ("rect'(x)", rect_prime, indicator(xs > 0), "1{x>0}")]
for ax, (title, library, formula, formula_name) in zip(axes, panels):
    ax.step(xs, library, where="mid", lw=3, alpha=0.5, label="library")
    ax.plot(xs[::10], formula[::10], "o", ms=4, label=formula_name)
    ax.plot([0], [library[120]], "k*", ms=12, label="value at 0")
    ax.set_title(title)
    ax.set_ylim(-1.3, 1.3)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
plt.show()

# %% [markdown]
# ## (h, i) Gradients of $\lVert x\rVert_2^2$ and $\lVert x\rVert_1$
#
# $\lVert x\rVert_2^2 = \sum_i x_i^2$, so $\dfrac{\partial}{\partial x_j} = 2x_j$ and
# $\nabla \lVert x\rVert_2^2 = 2x$. $\lVert x\rVert_1 = \sum_i \lvert x_i\rvert$, so
# $\nabla \lVert x\rVert_1 = \operatorname{sign}(x)$ (componentwise).
#
# `check_grad(f, x, expected=...)` does the three-way comparison for us and prints a report.

# %%
x = rng.normal(size=6)
display(check_grad(lambda x: (x ** 2).sum(), x, expected=lambda x: 2 * x))
display(check_grad(lambda x: x.abs().sum(), x, expected=lambda x: np.sign(x)))

# %% [markdown]
# ## (j, k) The softmax Jacobian
#
# For $i \ne j$:
# $\dfrac{\partial S_i}{\partial x_j} = -\dfrac{e^{x_i} e^{x_j}}{(\sum_k e^{x_k})^2} = -S_i S_j$;
# for $i = j$: $\dfrac{\partial S_i}{\partial x_i} = S_i - S_i^2$. Together
#
# $$\frac{\partial S_i}{\partial x_j} = S_i \mathbb 1_{\{i = j\}} - S_i S_j, \qquad
#   \frac{\partial S}{\partial x} = \operatorname{diag}(S) - S S^\top .$$
#
# The library builds the full Jacobian either with one reverse sweep per output (`mode="rev"`) or one
# forward push per input (`mode="fwd"`); both must equal the formula.

# %%
x = np.array([1.0, 2.0, 0.5, -1.0, 0.0])
S = np.exp(x) / np.exp(x).sum()
J_hand = np.diag(S) - np.outer(S, S)
J_rev = jacobian(lambda t: t.softmax())(x)
J_fwd = jacobian(lambda t: t.softmax(), mode="fwd")(x)
print("reverse == formula:", np.allclose(J_rev, J_hand, atol=1e-15),
      "  forward == formula:", np.allclose(J_fwd, J_hand, atol=1e-15))
print("rows sum to 0 (S sums to 1):", np.allclose(J_hand.sum(axis=1), 0),
      "  symmetric:", np.allclose(J_hand, J_hand.T))
display(check_grad(lambda x: x.softmax(), x, expected=lambda x: np.diag(S) - np.outer(S, S)))

fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
lim = np.abs(J_hand).max()
panels = [("diag(S) − S Sᵀ (by hand)", J_hand), ("jacobian(softmax) (library)", J_rev)]
for ax, (title, M) in zip(axes, panels):
    im = ax.imshow(M, cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.set_title(title)
    ax.set_xlabel("j (input)")
    ax.set_ylabel("i (output)")
fig.colorbar(im, ax=axes, shrink=0.8)
plt.show()

# %% [markdown]
# ## (l) $O(n)$ vector-Jacobian products for $\sigma$ and softmax
#
# Backprop needs $\nabla_x L = J^\top \nabla_y L$, a matrix-vector product: $O(n^2)$ if the
# $n \times n$ Jacobian is built. For these two functions it never has to be:
#
# * elementwise sigmoid: $J = \operatorname{diag}(\sigma(1 - \sigma))$, so
#   $J^\top g = g \odot \sigma \odot (1 - \sigma)$;
# * softmax: $J^\top g = (\operatorname{diag}(S) - S S^\top) g = S \odot g - S\,(S^\top g)
#   = S \odot (g - \langle g, S\rangle)$.
#
# Both are $O(n)$. That is exactly the rule the library uses:

# %%
print("softmax rule:", RULES["softmax"].doc)

n = 7
x, g = rng.normal(size=n), rng.normal(size=n)
s, sigma = np.exp(x) / np.exp(x).sum(), sigmoid_np(x)
_, softmax_vjp = vjp(lambda t: t.softmax(), x)
_, sigmoid_vjp = vjp(lambda t: t.sigmoid(), x)
print("softmax: library VJP == S*(g - <g,S>):", np.allclose(softmax_vjp(g)[0], s * (g - g @ s)),
      " == J^T g:", np.allclose(softmax_vjp(g)[0], (np.diag(s) - np.outer(s, s)).T @ g))
print("sigmoid: library VJP == g*σ*(1-σ):   ", np.allclose(sigmoid_vjp(g)[0], g * sigma * (1 - sigma)),
      " == J^T g:", np.allclose(sigmoid_vjp(g)[0], np.diag(sigma * (1 - sigma)).T @ g))

# %% [markdown]
# How much does it matter? Time the two ways of computing the softmax VJP as $n$ grows: build
# the Jacobian and multiply ($O(n^2)$ time and memory), versus the $O(n)$ formula, versus the
# library's `vjp` (forward pass + the $O(n)$ rule + Python overhead).

# %%
def best_time(fn, *args, repeats=5):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - start)
    return best


sizes = [2 ** k for k in range(6, 12)]         # 64 ... 2048
t_quadratic, t_linear, t_library = [], [], []
for n in sizes:
    x, g = rng.normal(size=n), rng.normal(size=n)
    s = np.exp(x - x.max())
    s /= s.sum()
    t_quadratic.append(best_time(lambda s, g: (np.diag(s) - np.outer(s, s)).T @ g, s, g))
    t_linear.append(best_time(lambda s, g: s * (g - g @ s), s, g))
    t_library.append(best_time(lambda x, g: vjp(lambda t: t.softmax(), x)[1](g), x, g))

fig, ax = plt.subplots(figsize=(6.5, 4))
ax.loglog(sizes, t_quadratic, "o-", label=r"build $J$, then $J^\top g$: $O(n^2)$")
ax.loglog(sizes, t_linear, "s-", label=r"$S \odot (g - \langle g, S\rangle)$: $O(n)$")
ax.loglog(sizes, t_library, "^-", label="library vjp (forward + O(n) rule)")
ax.set_xlabel("n")
ax.set_ylabel("seconds (best of 5)")
ax.set_title("softmax VJP: O(n) versus O(n²)")
ax.grid(alpha=0.3, which="both")
ax.legend()
plt.show()
print(f"at n = {sizes[-1]}: the Jacobian route is {t_quadratic[-1] / t_linear[-1]:.0f}x slower "
      "than the O(n) formula")
slopes = np.diff(np.log(t_quadratic)) / np.diff(np.log(sizes))
overall = np.log(t_quadratic[-1] / t_quadratic[0]) / np.log(sizes[-1] / sizes[0])
print("log-log slope of the Jacobian route, n = 64 -> 128, ..., 1024 -> 2048:", np.round(slopes, 2),
      f" overall: {overall:.2f}")

# %% [markdown]
# The Jacobian route does $n^2$ work, so its curve climbs much faster than the others; a pure
# $n^2$ count would be a straight line of slope 2 on the log-log plot. The measured slopes printed
# above depart from that count, differently on each machine: a fixed cost per call flattens the
# small sizes, and as the $n \times n$ matrix outgrows the CPU caches the cost per entry jumps,
# which steepens the curve over some sizes and lets it bend flatter again once memory bandwidth
# sets the pace. The $O(n)$ curves stay at slope 1 or below (the library's starts flat: its Python
# overhead per call), and the ratio printed at $n = 2048$ is the number to remember.
#
# **Next:** notebook 3 puts these pieces together in the seeds' one-hidden-layer network and checks
# every hand-derived gradient of part B of the homework.
