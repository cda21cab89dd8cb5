"""
A learning curve
================

:func:`~mnistbench.learning_curve` fits each model on stratified subsamples of growing
size (several seeds at the small sizes) and scores each on the whole test split: where
does one model overtake another? Classic models only here, so it builds in seconds.
"""

import tempfile

import matplotlib.pyplot as plt

from mnistbench import learning_curve

curve = learning_curve(["digits"], ["logreg", "svc"], sizes=[100, 300, 1347], seeds=2,
                       preset="quick", output=tempfile.mkdtemp(), quiet=True,
                       figures=False)
print(curve[["model", "size", "accuracy_mean", "accuracy_std", "subsamples"]])

fig, ax = plt.subplots(figsize=(5, 3))
for model, part in curve.groupby("model"):
    ax.errorbar(part["size"], 100 * part["accuracy_mean"], yerr=100 * part["accuracy_std"],
                marker="o", label=model)
ax.set_xscale("log")
ax.set_xlabel("training images")
ax.set_ylabel("test accuracy %")
ax.legend()
fig.tight_layout()
