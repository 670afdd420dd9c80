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
# # 4. Matrix calculus: linear layers, least squares, Jacobians, and what each mode costs
#
# Two seed worksheets: the gradients of a batched linear layer under the mean squared error, and a
# tutorial sheet on the chain rule, Jacobians and the cost of forward versus reverse mode. The
# habit to build: **write the gradient of a matrix as a matrix of the same shape**, check the
# shapes, then check the numbers with `check_grad`.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
from autograd_lite.losses import mse
from IPython.display import display

from autograd_lite import Tensor, check_grad, cost_report, cost_sweep, draw_graph, jacobian, value_and_grad

plt.rcParams["figure.dpi"] = 100
rng = np.random.default_rng(4)

# %% [markdown]
# ## The chain rule for Jacobians
#
# For $G: \mathbb R^n \to \mathbb R^m$ and $F: \mathbb R^m \to \mathbb R^p$,
# $\dfrac{\partial (F \circ G)_j}{\partial x_i} = \sum_l \dfrac{\partial F_j}{\partial y_l}(G(x))
# \dfrac{\partial G_l}{\partial x_i}$, that is $J_{F \circ G}(x) = J_F(G(x))\, J_G(x)$.
# Reverse mode evaluates this product from the left ($v^\top J_F$ first), forward mode from the
# right ($J_G u$ first). Here with $G(x) = \sin(Bx)$ and $F(y) = \tanh(Ay)$:

# %%
A, B = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
x0 = rng.normal(size=4)


def G(x):
    return (B @ x).sin()


def F(y):
    return (A @ y).tanh()


J_G = jacobian(G)(x0)
J_F = jacobian(F)(np.sin(B @ x0))
J_FG = jacobian(lambda x: F(G(x)), mode="fwd")(x0)
print("shapes: J_F", J_F.shape, " J_G", J_G.shape, " J_{F∘G}", J_FG.shape)
print("J_{F∘G} == J_F J_G:", np.allclose(J_FG, J_F @ J_G))

# %% [markdown]
# ## A batched linear layer under the mean squared error
#
# Rows are examples: $X \in \mathbb R^{q \times n}$, $W \in \mathbb R^{n \times p}$,
# $b \in \mathbb R^{1 \times p}$, $\hat Y = XW + b$, and
# $C = \operatorname{mse}(\hat Y, Y) = \dfrac{1}{qp}\sum_{i,j} (\hat Y_{ij} - Y_{ij})^2$.
# With $G = \dfrac{\partial C}{\partial \hat Y} = \dfrac{2}{qp}(\hat Y - Y)$ (same shape as $\hat Y$),
# the French seed solution's matrix forms (questions 4 and 5) are
#
# $$\frac{\partial C}{\partial X} = G W^\top \in \mathbb R^{q \times n}, \qquad
#   \frac{\partial C}{\partial W} = X^\top G \in \mathbb R^{n \times p}, \qquad
#   \frac{\partial C}{\partial b} = \mathbf 1_q^\top G \in \mathbb R^{1 \times p}.$$
#
# Each shape matches its variable; that alone rules out most wrong orders of the factors.

# %%
q, n, p = 6, 4, 3
X, W, b = rng.normal(size=(q, n)), rng.normal(size=(n, p)), rng.normal(size=(1, p))
Y = rng.normal(size=(q, p))


def cost(X, W, b):
    return mse(X @ W + b, Y)


def hand_gradients(X, W, b):
    G = 2 / (q * p) * (X @ W + b - Y)
    return G @ W.T, X.T @ G, np.ones((1, q)) @ G


report = check_grad(cost, X, W, b, expected=hand_gradients)
assert report.ok
display(report)

# %% [markdown]
# The graph of this cost, with each node's gradient and the gradient each edge sends back: $b$ is
# added to every one of the $q$ rows of $XW$ (numpy broadcasting, no node of its own), so what the
# `add` sends back to $b$, on the edge from $b$, is the sum over rows $\mathbf 1_q^\top G$, and
# that is $b$'s gradient. Hover a box for all its numbers.

# %%
Xt = Tensor(X, label="X")
Wt = Tensor(W, requires_grad=True, label="W")
bt = Tensor(b, requires_grad=True, label="b")
C = mse(Xt @ Wt + bt, Y)
C.label = "C"
C.backward()
draw_graph(C, edge_grads=True, title="C = mse(XW + b, Y)")

# %% [markdown]
# ### Which mean? The seed's normalization slips
#
# The same seed answer uses three different normalizations: question 3 divides by $q$
# ($\partial/\partial \hat Y_{ij} = \tfrac{2}{q}(\hat Y_{ij} - Y_{ij})$), question 4 by $p$, question 5
# by $qp$. Only one matches $C$ as defined (the mean over all $qp$ entries). `check_grad` flags the
# others as wrong, and the hand/autodiff ratio is the missing factor:

# %%
normalizations = {"question 3: 2/q": 2 / q, "question 4: 2/p": 2 / p, "question 5: 2/(qp)": 2 / (q * p)}
for name, factor in normalizations.items():
    r = check_grad(lambda Yhat: mse(Yhat, Y), X @ W + b,
                   expected=lambda Yhat, factor=factor: factor * (Yhat - Y))
    hand_over_auto = r["Yhat"].values_at_worst()
    ratio = hand_over_auto["hand"] / hand_over_auto["autodiff"]
    print(f"{name:20s} -> {r['Yhat'].status:5s}  hand / autodiff = {ratio:.3g}")

# %% [markdown]
# Question 3 also gives $\dfrac{\partial C}{\partial X_{ij}} = \dfrac{\partial C}{\partial \hat Y_{ij}}
# \sum_u W_{uj}$, which only type-checks when $n = p$ and is wrong even then: the chain rule sums over
# the **outputs** $l$ of row $i$, $\dfrac{\partial C}{\partial X_{ij}} = \sum_l G_{il} W_{jl}$, i.e.
# $G W^\top$. With a square $W$:

# %%
Ws = rng.normal(size=(p, p))
Xs = rng.normal(size=(q, p))
Gs = 2 / (q * p) * (Xs @ Ws + b - Y)
display(check_grad(lambda X: mse(X @ Ws + b, Y), Xs, expected=lambda X: Gs * Ws.sum(axis=0)))
display(check_grad(lambda X: mse(X @ Ws + b, Y), Xs, expected=lambda X: Gs @ Ws.T))

# %% [markdown]
# ## The tutorial sheet, question 3
#
# **Least squares.** $f_1(x) = \tfrac12\lVert Ax - b\rVert_2^2$ with $A \in \mathbb R^{m \times n}$:
# expanding $f_1(x + h) = f_1(x) + (Ax - b)^\top A h + \tfrac12\lVert Ah\rVert^2$ gives
# $\nabla f_1(x) = A^\top (Ax - b)$.
#
# **Affine map.** $f_2(x) = Bx + c$: $f_2(x + h) = f_2(x) + Bh$, so $J_{f_2}(x) = B$, whatever $x$.
#
# **Matrix factorization.** $f_3(P, Q) = \tfrac12\lVert M - PQ\rVert_F^2$: with $R = PQ - M$,
# $f_3(P + H, Q) = f_3(P, Q) + \langle R, HQ\rangle_F + o(H)$ and $\langle R, HQ\rangle_F =
# \langle R Q^\top, H\rangle_F$, so $\nabla_P f_3 = (PQ - M)Q^\top$ and likewise
# $\nabla_Q f_3 = P^\top (PQ - M)$.

# %%
m_, n_, k_ = 5, 4, 2
A_ls, b_ls = rng.normal(size=(m_, n_)), rng.normal(size=m_)
display(check_grad(lambda x: 0.5 * ((A_ls @ x - b_ls) ** 2).sum(), rng.normal(size=n_),
                   expected=lambda x: A_ls.T @ (A_ls @ x - b_ls)))

B_aff, c_aff = rng.normal(size=(3, n_)), rng.normal(size=3)
for mode in ("fwd", "rev"):
    J = jacobian(lambda x: B_aff @ x + c_aff, mode=mode)(rng.normal(size=n_))
    print(f"jacobian(Bx + c, mode={mode!r}) == B:", np.array_equal(J, B_aff))
display(check_grad(lambda x: B_aff @ x + c_aff, rng.normal(size=n_), expected=lambda x: B_aff))

M = rng.normal(size=(m_, n_))
display(check_grad(lambda P, Q: 0.5 * ((M - P @ Q) ** 2).sum(), rng.normal(size=(m_, k_)),
                   rng.normal(size=(k_, n_)),
                   expected=lambda P, Q: ((P @ Q - M) @ Q.T, P.T @ (P @ Q - M))))

# %% [markdown]
# With the gradient in hand, gradient descent on $(P, Q)$ finds a rank-$k$ approximation of $M$.
# The Eckart–Young theorem says the best possible error is $\tfrac12\sum_{i > k}\sigma_i^2$ (the
# discarded singular values), a floor the descent should approach:

# %%
U, _ = np.linalg.qr(rng.normal(size=(30, 20)))
V, _ = np.linalg.qr(rng.normal(size=(20, 20)))
M_big = U @ np.diag(10 * 0.6 ** np.arange(20)) @ V.T        # singular values 10, 6, 3.6, ...
rank = 3
step = value_and_grad(lambda P, Q: 0.5 * ((M_big - P @ Q) ** 2).sum(), argnums=(0, 1))
P, Q = 0.1 * rng.normal(size=(30, rank)), 0.1 * rng.normal(size=(rank, 20))
losses = []
for _ in range(220):
    value, (dp, dq) = step(P, Q)
    losses.append(value)
    P, Q = P - 0.05 * dp, Q - 0.05 * dq
sigma = np.linalg.svd(M_big, compute_uv=False)
floor = 0.5 * (sigma[rank:] ** 2).sum()

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
ax1.semilogy(np.array(losses) - floor)
ax1.set_title(r"gap to the best rank-3 error $\frac{1}{2}\sum_{i>3}\sigma_i^2$")
ax1.set_xlabel("gradient-descent step")
ax1.set_ylabel(r"$f_3(P, Q) - $ optimum")
ax1.grid(alpha=0.3)
ax2.bar(range(1, 21), sigma, color=["tab:blue"] * rank + ["0.7"] * (20 - rank))
ax2.set_title("singular values of M (kept: blue)")
ax2.set_xlabel("i")
plt.show()
print(f"final {losses[-1]:.4f} vs optimum {floor:.4f}")

# %% [markdown]
# ## The composed tanh network (tutorial sheet, part 2)
#
# $$y = f(w, x) = \sigma\Big(\sum_{i=1}^H w_i\, v_i\Big(\sum_{j=1}^N w_{i,j} x_j\Big)\Big), \qquad
#   \sigma = v_i = \tanh,$$
#
# with $NH + H$ parameters. As a composition $f = \sigma \circ M(w, V \circ L(w, x))$:
# $L(w, x) = W x \in \mathbb R^H$ (with $W = (w_{i,j})$), $V$ applies $\tanh$ to each coordinate,
# $M(w, h) = \sum_i w_i h_i$. The Jacobians: $J_L$ with respect to $w_{i,j}$ is $x_j$ on row $i$,
# $J_V = \operatorname{diag}(1 - \tanh^2(a))$ with $a = Wx$, $J_M = w^\top$ (in $h$) and $h^\top$ (in $w$),
# and $\sigma'(z) = 1 - \tanh^2 z$. Multiplying them:
#
# $$\frac{\partial f}{\partial w_i} = \sigma'(z)\, h_i, \qquad
#   \frac{\partial f}{\partial w_{i,j}} = \sigma'(z)\, w_i\, (1 - \tanh^2 a_i)\, x_j .$$

# %%
N, H = 5, 4
x_in = rng.normal(size=N)


def tanh_net(W, w):
    return (w * (W @ x_in).tanh()).sum().tanh()


def tanh_net_hand(W, w):
    a = W @ x_in
    h = np.tanh(a)
    z = w @ h
    s_prime = 1 - np.tanh(z) ** 2
    return np.outer(s_prime * w * (1 - h ** 2), x_in), s_prime * h


display(check_grad(tanh_net, 0.5 * rng.normal(size=(H, N)), rng.normal(size=H), expected=tanh_net_hand))

# %% [markdown]
# ## Forward versus reverse: what the full gradient costs
#
# Questions 8 and 9 ask how many operations $\nabla_w f$ takes when the Jacobian product is
# evaluated from the input side (forward mode: one tangent per parameter, so $NH + H$ pushes
# through the network) or from the output side (reverse mode: one sweep for the one output).
# `cost_report` does not estimate this: it **counts** the rule applications and multiply-adds the
# engine actually performs.

# %%
def tanh_net_flat(N, H):
    x = rng.normal(size=N)

    def f(theta):                       # theta = (W flattened, w): NH + H parameters
        W = theta[: N * H].reshape(H, N)
        w = theta[N * H:]
        return (w * (W @ x).tanh()).sum().tanh()

    return f, (0.3 * rng.normal(size=N * H + H),)


f, (theta,) = tanh_net_flat(8, 16)
display(cost_report(f, theta))

# %% [markdown]
# Sweep the width $H$ (many inputs, one output: reverse mode is cheap) and, for contrast, a function
# $\mathbb R \to \mathbb R^n$, $t \mapsto \tanh(t\,a)$ (one input, many outputs: forward mode is cheap):

# %%
widths = [2, 4, 8, 16, 32, 64]
many_in = cost_sweep(lambda H: tanh_net_flat(8, H), widths)


def curve(n):
    a = rng.normal(size=n)
    return (lambda t: (t * a).tanh()), (np.array(0.3),)


outputs = [2, 4, 8, 16, 32, 64, 128]
many_out = cost_sweep(curve, outputs)
print(many_in)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
many_in.plot(ax=ax1)
ax1.set_xlabel("hidden width H  (inputs NH + H, one output)")
ax1.set_title(r"$\nabla_w f$ of the tanh network")
many_out.plot(ax=ax2)
ax2.set_xlabel("outputs n  (one input)")
ax2.set_title(r"Jacobian of $t \mapsto \tanh(t\,a)$")
for ax, sizes in ((ax1, widths), (ax2, outputs)):
    ax.minorticks_off()
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# Forward mode's cost grows with the number of **inputs**, reverse mode's with the number of
# **outputs**; each is a small constant times one evaluation when its dimension is 1. A loss has
# one output and millions of parameters, which is why training uses reverse mode (backpropagation).
#
# **Next:** notebook 5 trains the Tensor MLP on a real data set of handwritten digits.
