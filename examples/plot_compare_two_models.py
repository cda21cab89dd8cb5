"""
Comparing models with paired tests
==================================

:func:`~mnistbench.run_benchmark` fits every model on the same stratified folds and the
same test split, and reports each test accuracy with its Wilson interval and every pair
of models with McNemar's exact test (Holm-corrected). Here two registry models and one
of your own, on digits with the ``quick`` preset.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from mnistbench import run_benchmark
from mnistbench.estimators.features import ImageFlattener

out = Path(tempfile.mkdtemp())
knn = make_pipeline(ImageFlattener(), KNeighborsClassifier(n_neighbors=3))
table = run_benchmark(["digits"], ["logreg", "svc", ("knn", knn)], preset="quick",
                      output=out, quiet=True, figures=False, robustness=False)
print(table[["model", "test_accuracy", "test_ci_low", "test_ci_high", "group"]])

# %%
# Every pair: the images only one of the two got right, and the tests' p-values.
print(pd.read_csv(out / "significance_digits.csv").to_string(index=False))

# %%
# The intervals side by side: models that share a group letter cannot be told apart.
fig, ax = plt.subplots(figsize=(5, 2.5))
low = 100 * (table["test_accuracy"] - table["test_ci_low"])
high = 100 * (table["test_ci_high"] - table["test_accuracy"])
ax.errorbar(100 * table["test_accuracy"], table["model"], xerr=[low, high], fmt="o")
ax.set_xlabel("test accuracy % (95 % Wilson interval)")
fig.tight_layout()
