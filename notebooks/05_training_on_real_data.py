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
# # 5. Training on real data: handwritten digits
#
# The seeds' network, $o^a = W^{(2)}\operatorname{rect}(W^{(1)}x + b^{(1)}) + b^{(2)}$ with the
# cross-entropy loss $L = \log\sum_k e^{o^a_k} - o^a_y$, trained on a real data set that ships with
# the package (no download): the UCI *Optical Recognition of Handwritten Digits* test set, 1797
# images of $8 \times 8$ pixels, ten classes (CC BY 4.0; see `autograd_lite/data/README.md`).
#
# We train the `Tensor` MLP with mini-batch Adam, watch a progress bar and the learning curves,
# read the confusion matrix, look at the mistakes, and save and reload the trained weights.

# %%
# %matplotlib inline
import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np
from autograd_lite.data import info, load_digits
from autograd_lite.losses import ElasticNet, cross_entropy
from autograd_lite.nn import MLP
from autograd_lite.optim import Adam
from autograd_lite.train import accuracy, fit, predict, predict_proba

from autograd_lite import draw_graph

plt.rcParams["figure.dpi"] = 100

# %% [markdown]
# ## The data
#
# `load_digits` returns the pixels scaled to $[0, 1]$ and the labels; `split="train"` and
# `split="test"` give a fixed, stratified 80/20 split, so results are reproducible.

# %%
meta = info("digits")
print(meta["title"])
print("source:", meta["source"])
print("licence:", meta["licence"])

X_train, y_train = load_digits(split="train")
X_test, y_test = load_digits(split="test")
print(f"train {X_train.shape}, test {X_test.shape}, classes {np.bincount(y_train)}")

fig, axes = plt.subplots(2, 10, figsize=(10, 2.4))
for digit in range(10):
    for row in range(2):
        ax = axes[row, digit]
        ax.imshow(X_train[y_train == digit][row].reshape(8, 8), cmap="gray_r")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, digit].set_title(str(digit))
fig.suptitle("two training examples of each digit")
plt.show()

# %% [markdown]
# ## The model and one step, drawn
#
# $d = 64$ inputs, $d_h = 64$ hidden rect units, $m = 10$ classes:
# $n_\theta = d_h d + d_h + m d_h + m$ parameters. Before training, look at the graph of the loss
# on a batch of 4 images: the two layers are boxes inside the model's box (the transposed weight
# is written into the matmul, `Wᵀ`, rather than drawn), and the cross-entropy shows its two terms,
# $\log\sum_k e^{o^a_k}$ and the picked logit $o^a_y$. Past 20 boxes `draw_graph` draws each layer
# as a single box by default; `collapse=1` (keep one level of boxes: the model's) asks for that
# here, `collapse=False` never.

# %%
model = MLP([64, 64, 10], activation="relu", seed=0)
print(model)
print("parameters:", model.num_parameters(), "= 64*64 + 64 + 10*64 + 10 =", 64 * 64 + 64 + 10 * 64 + 10)

loss = cross_entropy(model(X_train[:4]), y_train[:4])
loss.label = "loss"
loss.backward()
model.zero_grad()
draw_graph(loss, title="cross-entropy of the MLP on a batch of 4")

# %% [markdown]
# ## Training
#
# `fit` runs mini-batch steps (zero the gradients, forward, loss + penalty, backward, optimizer
# step) and shows a progress bar with the running loss and accuracies. A light elastic-net penalty
# (notebook 3) regularizes the weights; the test set serves as validation data, evaluated after
# every epoch.

# %%
history = fit(model, X_train, y_train, optimizer=Adam(model.parameters(), lr=0.01), epochs=30,
              batch_size=64, regularizer=ElasticNet(l1=1e-5, l2=1e-4),
              validation=(X_test, y_test), seed=0, desc="digits")
print(history)

# %%
fig = history.plot(title="MLP 64-64-10 on the UCI digits")
plt.show()
test_accuracy = accuracy(model, X_test, y_test)
print(f"test accuracy: {test_accuracy:.3f}")

# %% [markdown]
# ## Where does it go wrong? The confusion matrix
#
# Entry $(i, j)$ counts test images of digit $i$ predicted as $j$; a perfect classifier is diagonal.

# %%
predicted = predict(model, X_test)
confusion = np.zeros((10, 10), dtype=int)
np.add.at(confusion, (y_test, predicted), 1)

fig, ax = plt.subplots(figsize=(5.5, 5))
ax.imshow(confusion, cmap="Blues")
for i in range(10):
    for j in range(10):
        if confusion[i, j]:
            ax.text(j, i, confusion[i, j], ha="center", va="center",
                    color="white" if confusion[i, j] > confusion.max() / 2 else "black", fontsize=9)
ax.set_xticks(range(10))
ax.set_yticks(range(10))
ax.set_xlabel("predicted digit")
ax.set_ylabel("true digit")
ax.set_title(f"confusion matrix, test accuracy {test_accuracy:.1%}")
plt.show()

# %% [markdown]
# And the misclassified images themselves, with the model's probability for its (wrong) answer:

# %%
wrong = np.flatnonzero(predicted != y_test)
probabilities = predict_proba(model, X_test)
shown = wrong[:8]
if len(shown):
    fig, axes = plt.subplots(1, len(shown), figsize=(1.4 * len(shown), 1.9), squeeze=False)
    for ax, i in zip(axes[0], shown):
        ax.imshow(X_test[i].reshape(8, 8), cmap="gray_r")
        ax.set_title(f"{y_test[i]}→{predicted[i]}\n{probabilities[i, predicted[i]]:.0%}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{len(wrong)} of {len(y_test)} test images misclassified (true→predicted)", y=1.08)
    plt.show()

# %% [markdown]
# ## Save and load
#
# `save` writes every parameter to an `.npz` file (plain arrays, no pickle); `load` checks names and
# shapes before writing anything into a fresh model. The reloaded model predicts exactly the same.

# %%
folder = tempfile.mkdtemp()
path = os.path.join(folder, "digits_mlp.npz")
model.save(path)
print(f"saved {os.path.getsize(path):,} bytes:", sorted(np.load(path).files))

restored = MLP([64, 64, 10], activation="relu", seed=123).load(path)
same = np.array_equal(predict(restored, X_test), predicted)
print("reloaded model gives the same predictions:", same)
print(f"reloaded test accuracy: {accuracy(restored, X_test, y_test):.3f}")
assert same

# %% [markdown]
# A model of the wrong shape is refused with a message saying what does not match:

# %%
try:
    MLP([64, 32, 10], activation="relu").load(path)
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# **Where next:** the same training runs from the command line, `python -m autograd_lite train`;
# the hand-derivation checks of notebooks 2 to 4 work on any function you write.
