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
# # 3. Backpropagation through a one-hidden-layer MLP
#
# Part B of the seeds' homework derives, by hand, every gradient of a one-hidden-layer network
# for $m$-class classification:
#
# $$h^a = W^{(1)} x + b^{(1)}, \quad h^s = \operatorname{rect}(h^a), \quad
#   o^a = W^{(2)} h^s + b^{(2)}, \quad o^s = \operatorname{softmax}(o^a), \quad
#   L(x, y) = -\log o^s_y = \log \sum_{k} e^{o^a_k} - o^a_y ,$$
#
# with $W^{(1)} \in \mathbb R^{d_h \times d}$, $b^{(1)} \in \mathbb R^{d_h}$,
# $W^{(2)} \in \mathbb R^{m \times d_h}$, $b^{(2)} \in \mathbb R^{m}$.
#
# In this notebook we build that network node by node, let the library backpropagate, and then
# **check each hand-derived gradient with `check_grad`**: the correct derivation, and the mistakes
# real students made in the seed solutions, to see what the report says about each (including
# *what kind* of slip it is, when one explanation reproduces the numbers). Then the elastic-net
# penalty, and finally training on the two-moons data set.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
from autograd_lite.data import make_moons
from autograd_lite.losses import ElasticNet
from autograd_lite.nn import MLP
from autograd_lite.optim import Adam
from autograd_lite.train import accuracy, fit, plot_decision_boundary
from IPython.display import display

from autograd_lite import Tensor, check_grad, draw_graph

plt.rcParams["figure.dpi"] = 100

# %% [markdown]
# ## Building the network, one labelled node per symbol of the derivation
#
# $d = 4$ inputs, $d_h = 5$ hidden units, $m = 3$ classes and one example $(x, y = 2)$. Every
# intermediate gets the name it has in the homework, so we can ask for its gradient by name.
# $o^a_y$ is written as $\langle \operatorname{onehot}_m(y), o^a\rangle$.

# %%
rng = np.random.default_rng(2)
d, d_h, m = 4, 5, 3
y = 2
onehot = np.eye(m)[y]

x = Tensor(rng.normal(size=d), requires_grad=True, label="x")
W1 = Tensor(0.7 * rng.normal(size=(d_h, d)), requires_grad=True, label="W1")
b1 = Tensor(0.1 * rng.normal(size=d_h), requires_grad=True, label="b1")
W2 = Tensor(0.7 * rng.normal(size=(m, d_h)), requires_grad=True, label="W2")
b2 = Tensor(0.1 * rng.normal(size=m), requires_grad=True, label="b2")

ha = W1 @ x + b1
ha.label = "ha"
hs = ha.relu()
hs.label = "hs"
oa = W2 @ hs + b2
oa.label = "oa"
L = oa.logsumexp() - (oa * onehot).sum()
L.label = "L"
L.backward()

print("h^a =", ha.data.round(3), "(some units are off: rect kills their gradient)")
print("L   =", round(L.item(), 6))
draw_graph(L, title="L(x, y) for the one-hidden-layer MLP")

# %% [markdown]
# ## The derivation, checked
#
# The correct chain of results (the French seed solution, questions 7 to 17):
#
# | quantity | hand formula | shape |
# |---|---|---|
# | $\partial L / \partial o^a$ | $o^s - \operatorname{onehot}_m(y)$ | $m$ |
# | $\partial L / \partial W^{(2)}$ | $\dfrac{\partial L}{\partial o^a}\,(h^s)^\top$ | $m \times d_h$ |
# | $\partial L / \partial b^{(2)}$ | $\partial L / \partial o^a$ | $m$ |
# | $\partial L / \partial h^s$ | $(W^{(2)})^\top \dfrac{\partial L}{\partial o^a}$ | $d_h$ |
# | $\partial L / \partial h^a$ | $\dfrac{\partial L}{\partial h^s} \odot \mathbb 1_{\{h^a > 0\}}$ | $d_h$ |
# | $\partial L / \partial W^{(1)}$ | $\dfrac{\partial L}{\partial h^a}\,x^\top$ | $d_h \times d$ |
# | $\partial L / \partial b^{(1)}$ | $\partial L / \partial h^a$ | $d_h$ |
# | $\partial L / \partial x$ | $(W^{(1)})^\top \dfrac{\partial L}{\partial h^a}$ | $d$ |
#
# We write it as one numpy function. `check_grad(L, expected=...)` calls it with the recorded
# values of the nodes it names (`oa`, `hs`, `ha`), then compares every entry with autodiff **and**
# with central finite differences (for an intermediate such as `ha`, by replaying the graph
# downstream of it with its value nudged).

# %%
def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def correct(oa, hs, ha):
    g_oa = softmax(oa) - onehot
    g_hs = W2.data.T @ g_oa
    g_ha = g_hs * (ha > 0)
    return {"oa": g_oa, "W2": np.outer(g_oa, hs), "b2": g_oa, "hs": g_hs,
            "ha": g_ha, "W1": np.outer(g_ha, x.data), "b1": g_ha, "x": W1.data.T @ g_ha}


report = check_grad(L, expected=correct)
assert report.ok
display(report)

# %% [markdown]
# All eight rows agree three ways. The backward pass also left every gradient on its node, so
# $\partial L / \partial o^a$ can be read directly and compared with $o^s - \operatorname{onehot}$:

# %%
print("oa.grad            :", oa.grad.round(6))
print("softmax(oa) - onehot:", (softmax(oa.data) - onehot).round(6))

# %% [markdown]
# ## The students' mistakes, and what the report shows
#
# ### Mistake 1: $\operatorname{rect}'(z) = z$ for $z > 0$ (English solution, question 2.13)
#
# The solution writes $\frac{d}{dz}\operatorname{rect}(z) = h^a_j$ if $h^a_j > 0$, else 0: the value
# of the unit instead of 1. (It then writes the indicator in 2.14, so the two answers disagree.)
# With 2.13's derivative, $\partial L / \partial h^a = \partial L / \partial h^s \odot h^a \odot
# \mathbb 1_{\{h^a > 0\}}$, and the error flows into $W^{(1)}$, $b^{(1)}$ and $x$:

# %%
def mistake_rect_prime(oa, hs, ha):
    grads = correct(oa, hs, ha)
    g_ha = grads["hs"] * ha * (ha > 0)          # rect'(h^a) taken as h^a
    grads.update(ha=g_ha, W1=np.outer(g_ha, x.data), b1=g_ha, x=W1.data.T @ g_ha)
    return grads


report = check_grad(L, expected=mistake_rect_prime)
display(report)
print("failing:", [e.name for e in report.failed])
print("worst element of ha:", report["ha"].worst_index, report["ha"].values_at_worst())
print("diagnosis of ha:", report["ha"].diagnosis)

# %% [markdown]
# The report pins the error down: everything between $L$ and $h^s$ passes, and the first failing
# node on the way back is $h^a$; the parameters fed by it fail with it. Only the
# active units are wrong (the inactive ones are 0 either way), and the hand value is off by the
# factor $h^a_j$. The **diagnosis** line says which slip it is: with relu's derivative replaced by
# $\operatorname{rect}'(z) = z$, autodiff reproduces the student's numbers exactly, for $h^a$ and for
# $W^{(1)}$, $b^{(1)}$, $x$ downstream of the mistake. It is also there as data,
# `report["ha"].diagnosis.kind`, and shown only when such an explanation fits to the check's
# tolerance.
#
# ### Mistake 2: an inner product instead of an outer product (English solution, 2.9 and 2.10)
#
# The solution writes $\nabla_{W^{(2)}} L = (o^s - \operatorname{onehot}_m(y))^\top \cdot h^s$ and in
# Python `grad_W2 = numpy.dot(numpy.transpose(grad_oa), h_s)`. On 1-D numpy arrays `transpose`
# does nothing and `dot` is the inner product: with $m \ne d_h$ numpy refuses, and with $m = d_h$
# it silently returns **a single number**. The gradient of a matrix has the matrix's shape, and the
# diagnosis recognizes the number (the trace of the gradient, $\sum_k g_k h_k$), and the transposed
# outer product (the values match after `.T`):

# %%
g_oa, h_s = softmax(oa.data) - onehot, hs.data
try:
    np.dot(np.transpose(g_oa), h_s)
except ValueError as err:
    print("numpy:", err)

report = check_grad(L, expected={"W2": np.dot(g_oa[:3], h_s[:3])})   # what m = d_h would give
display(report)
display(check_grad(L, expected={"W2": np.outer(h_s, g_oa)}))         # the transposed outer product

# %% [markdown]
# ### Mistake 3: the elastic-net gradient with the wrong sign (English solution, 2.18)
#
# The regularized risk adds
# $\mathcal L(\theta) = \lambda_{11}\lVert W^{(1)}\rVert_1 + \lambda_{12}\lVert W^{(1)}\rVert_2^2 +
# \lambda_{21}\lVert W^{(2)}\rVert_1 + \lambda_{22}\lVert W^{(2)}\rVert_2^2$. Its gradient with respect to a
# weight matrix is $\lambda_{1}\operatorname{sign}(W) + 2\lambda_{2}W$ (notebook 2: the gradients of
# the two norms). The English solution writes $+\,2W - \operatorname{sign}(W)$: the $L^1$ term has
# the wrong sign (and the $\lambda$'s are gone, i.e. all set to 1). Check it against the penalty with
# $\lambda = 1$:

# %%
W = W1.data.copy()


def penalty(W):
    return W.abs().sum() + (W ** 2).sum()


display(check_grad(penalty, W, expected=lambda W: 2 * W - np.sign(W)))        # the solution's
display(check_grad(penalty, W, expected=lambda W: np.sign(W) + 2 * W))        # corrected

# %% [markdown]
# The error is exactly $2\,\operatorname{sign}(W)$: largest, relatively, where $|W|$ is small; the
# diagnosis names it (the $L^1$ term with the wrong sign; with the seeds' $\lambda$'s in the loss it
# also says that they were dropped, see the batch below).
#
# ### What kind of slip? The diagnosis on every answer of the English solution
#
# Some answers only run when the shapes happen to agree, so here is the same network with
# $d_h = m = 4$ (then `np.dot` of two 1-D arrays and $W^{(2)}$ for $(W^{(2)})^\top$ silently
# compute something). Each answer is transcribed as numpy and checked; the last column is the
# diagnosis, empty when no explanation reproduces the numbers (2.17 mixes the indices of two sums:
# nothing simple fits, and nothing is guessed).

# %%
def square_network(d=3, d_h=4, m=4, seed=11):
    r = np.random.default_rng(seed)
    P = {"W1": r.normal(size=(d_h, d)), "b1": 0.5 * r.normal(size=d_h),
         "W2": r.normal(size=(m, d_h)), "b2": 0.5 * r.normal(size=m), "x": r.normal(size=d)}
    T = {k: Tensor(v, requires_grad=True, label=k) for k, v in P.items()}
    ha = T["W1"] @ T["x"] + T["b1"]
    ha.label = "ha"
    hs = ha.relu()
    hs.label = "hs"
    oa = T["W2"] @ hs + T["b2"]
    oa.label = "oa"
    onehot = np.eye(m)[1]
    v = dict(P, ha=ha.data, hs=hs.data, g_oa=softmax(oa.data) - onehot)
    v["g_hs"] = P["W2"].T @ v["g_oa"]
    return oa.logsumexp() - (oa * onehot).sum(), v


Lsq, v = square_network()
mask = v["ha"] > 0
answers = [
    ("2.7  grad_oa = os - onehot", "oa", v["g_oa"]),
    ("2.10 numpy.dot(numpy.transpose(grad_oa), h_s)", "W2", np.dot(np.transpose(v["g_oa"]), v["hs"])),
    ("2.11 sum_k (os_k - onehot_k) W2_kj", "hs", v["W2"].T @ v["g_oa"]),
    ("2.12 (w_j)ᵀ (os - onehot), w_j the j-th row", "hs", v["W2"] @ v["g_oa"]),
    ("2.13 rect'(z) = z", "ha", v["g_hs"] * v["ha"] * mask),
    ("2.14 ... x I(h^a > 0)", "ha", v["g_hs"] * mask),
    ("2.17 sum_k (...) W2_k I(h^a > 0) W1_k", "x",
     sum(v["g_oa"][k] * v["W2"][k, k] * mask[k] * v["W1"][k] for k in range(4))),
]
for answer, name, formula in answers:
    entry = check_grad(Lsq, expected={name: formula})[name]
    print(f"{answer:48s} {name:3s} {entry.status:6s} {entry.diagnosis or ''}")

# ## The regularized risk over a batch
#
# With $n$ examples, $\tilde R = \frac1n \sum_i L(x^{(i)}, y^{(i)}) + \mathcal L(\theta)$, and
# (French solution, question 18)
#
# $$\frac{\partial \tilde R}{\partial W^{(1)}} = \frac1n \sum_{i} \frac{\partial L}{\partial h^{a(i)}}
#   (x^{(i)})^\top + \lambda_{11}\operatorname{sign}(W^{(1)}) + 2\lambda_{12} W^{(1)}, \qquad
#   \frac{\partial \tilde R}{\partial b^{(1)}} = \frac1n \sum_i \frac{\partial L}{\partial h^{a(i)}},$$
#
# and the same for layer 2. With the examples as the rows of $X \in \mathbb R^{n \times d}$ the sums
# become matrix products. `check_grad(f, W1, b1, W2, b2, expected=...)` checks all four at once:

# %%
n = 8
X = rng.normal(size=(n, d))
labels = rng.integers(0, m, size=n)
Y = np.eye(m)[labels]
lam11, lam12, lam21, lam22 = 0.01, 0.02, 0.03, 0.04


def regularized_risk(W1, b1, W2, b2):
    Ha = X @ W1.T + b1
    Oa = Ha.relu() @ W2.T + b2
    risk = (Oa.logsumexp(axis=1) - (Oa * Y).sum(axis=1)).mean()
    return (risk + lam11 * W1.abs().sum() + lam12 * (W1 ** 2).sum()
            + lam21 * W2.abs().sum() + lam22 * (W2 ** 2).sum())


def hand_regularized(W1, b1, W2, b2):
    Ha = X @ W1.T + b1
    Hs = np.maximum(Ha, 0)
    Oa = Hs @ W2.T + b2
    Os = np.exp(Oa - Oa.max(axis=1, keepdims=True))
    Os /= Os.sum(axis=1, keepdims=True)
    G_oa = (Os - Y) / n                          # row i: dL_i/do^a / n
    G_ha = (G_oa @ W2) * (Ha > 0)
    return (G_ha.T @ X + lam11 * np.sign(W1) + 2 * lam12 * W1, G_ha.sum(axis=0),
            G_oa.T @ Hs + lam21 * np.sign(W2) + 2 * lam22 * W2, G_oa.sum(axis=0))


report = check_grad(regularized_risk, W1.data, b1.data, W2.data, b2.data, expected=hand_regularized)
assert report.ok
display(report)

# %% [markdown]
# The English solution's 2.18 as written, $+\,2W - \operatorname{sign}(W)$ for both layers, and the
# same derivation without the $\frac1n$ of the mean (a sum over the batch where $\hat R$ averages):
# the diagnosis tells the two slips apart, parameter by parameter.

# %%
def hand_en_218(W1, b1, W2, b2):
    g_W1, g_b1, g_W2, g_b2 = hand_regularized(W1, b1, W2, b2)
    return (g_W1 - lam11 * np.sign(W1) - 2 * lam12 * W1 + 2 * W1 - np.sign(W1), g_b1,
            g_W2 - lam21 * np.sign(W2) - 2 * lam22 * W2 + 2 * W2 - np.sign(W2), g_b2)


def hand_without_mean(W1, b1, W2, b2):
    W1_, b1_, W2_, b2_ = hand_regularized(W1, b1, W2, b2)
    pen1, pen2 = lam11 * np.sign(W1) + 2 * lam12 * W1, lam21 * np.sign(W2) + 2 * lam22 * W2
    return (n * (W1_ - pen1) + pen1, n * b1_, n * (W2_ - pen2) + pen2, n * b2_)


for hand in (hand_en_218, hand_without_mean):
    report = check_grad(regularized_risk, W1.data, b1.data, W2.data, b2.data, expected=hand)
    print(f"{hand.__name__}:")
    for e in report:
        print(f"  {e.name}: {e.status:5s} {e.diagnosis or ''}")

# %% [markdown]
# The library's `ElasticNet` is the same penalty, with one $(\lambda_1, \lambda_2)$ pair per layer of a
# model; its gradient lands on the weights only (biases are not penalized):

# %%
model = MLP([d, d_h, m], activation="relu", seed=0)
elastic = ElasticNet(per_layer=[(lam11, lam12), (lam21, lam22)])
elastic(model).backward()
W1m, W2m = model.fc1.W, model.fc2.W
print("fc1.W.grad == λ11 sign(W1) + 2 λ12 W1:",
      np.allclose(W1m.grad, lam11 * np.sign(W1m.data) + 2 * lam12 * W1m.data))
print("fc2.W.grad == λ21 sign(W2) + 2 λ22 W2:",
      np.allclose(W2m.grad, lam21 * np.sign(W2m.data) + 2 * lam22 * W2m.data))
print("fc1.b.grad:", model.fc1.b.grad, " (biases are not in the penalty's graph)")

# %% [markdown]
# ## Training on two moons
#
# Now let the derivatives do their job: batch gradient descent (here Adam) on $\tilde R$ for the
# same architecture, with 32 hidden rect units, on 300 points of the two-moons data set. `fit`
# records the loss per epoch; the decision boundary shows what the network learned.

# %%
X_moons, y_moons = make_moons(300, noise=0.15, seed=0)
net = MLP([2, 32, 2], activation="relu", seed=0)
history = fit(net, X_moons, y_moons, optimizer=Adam(net.parameters(), lr=0.03), epochs=300,
              regularizer=ElasticNet(l1=1e-4, l2=1e-4), progress=False)
print(f"training accuracy: {accuracy(net, X_moons, y_moons):.3f}, final loss {history.loss[-1]:.4f}")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
ax1.plot(history.epoch, history.loss, label="risk R̂ (cross-entropy)")
ax1.plot(history.epoch, history.objective, "--", label="R̂ + elastic net")
ax1.set_yscale("log")
ax1.set_xlabel("epoch")
ax1.set_title("loss curve")
ax1.grid(alpha=0.3)
ax1.legend()
plot_decision_boundary(net, X_moons, y_moons, ax=ax2, title="decision boundary")
plt.show()

# %% [markdown]
# `history.plot()` draws the loss and accuracy curves in one call:

# %%
fig = history.plot(title="two moons, MLP 2-32-2")
plt.show()

# %% [markdown]
# **Next:** notebook 4 does the matrix-calculus sheet: batched linear layers and MSE,
# $\frac12\lVert Ax - b\rVert^2$, Jacobians, matrix factorization, and what forward and reverse mode cost.
