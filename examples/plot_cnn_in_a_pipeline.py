"""
The CNN in a Pipeline and a grid search
=======================================

:class:`~mnistbench.KerasCNNClassifier` is a scikit-learn classifier, so it takes part in
a :class:`~sklearn.pipeline.Pipeline` and a :class:`~sklearn.model_selection.GridSearchCV`
like any other: here a deskewing step before the network, and a search over its learning
rate with stratified 3-fold cross-validation on the training split. The held-out test
split is scored once, at the end.
"""

import matplotlib.pyplot as plt
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from mnistbench import KerasCNNClassifier, load_dataset
from mnistbench.estimators.features import DeskewTransformer

digits = load_dataset("digits")
X_train, y_train = digits.train
X_test, y_test = digits.test

# %%
# A small budget keeps the example quick: 5 epochs raised to at least 400 optimizer
# steps (the estimator's default is 2,500).
pipe = make_pipeline(
    DeskewTransformer(),
    KerasCNNClassifier(architecture="baseline", epochs=5, min_steps=400, random_state=0),
)
search = GridSearchCV(pipe, {"kerascnnclassifier__learning_rate": [1e-3, 3e-3]}, cv=3)
search.fit(X_train, y_train)
print("chosen:", search.best_params_)
print(f"3-fold CV accuracy of the choice: {search.best_score_:.4f}")
print(f"test accuracy: {search.score(X_test, y_test):.4f}")

# %%
# The refitted network's training curves (``history_``, one point per epoch).
history = search.best_estimator_[-1].history_
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(history["loss"], label="loss")
ax.plot(history["accuracy"], label="accuracy")
ax.set_xlabel("epoch")
ax.legend()
fig.tight_layout()
