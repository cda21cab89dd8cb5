"""Presets: how much work a run does, and each model family's budget under it."""

from __future__ import annotations

import dataclasses

from mnistbench.evaluation.records import Split

__all__ = ["PRESETS", "Preset"]


@dataclasses.dataclass(frozen=True)
class Preset:
    """How much work a run does.

    Attributes
    ----------
    name : str
    cv : int
        Stratified folds on the (subsampled) training split.
    cv_subsample : int or None
        Stratified subsample of the training split used for CV (None: all of it).
    train_subsample : int or None
        Stratified subsample used for the final fit (None: all of it). The test
        split is always used whole.
    model_params : dict
        ``{key: {param: value}}`` passed to ``set_params`` (fewer epochs...). A key is a
        model family (``"deep"``: every CNN of the registry) or one model's name; a
        model's own entry is applied over its family's.
    description : str
    repeats : int
        Repetitions of the K-fold split, each shuffled with its own seed (repeated
        stratified K-fold): more folds for the intervals and paired tests.
    tune_max_samples : int or None
        Under ``--tune``: the most training samples the search's last round uses (the
        refit of the chosen parameters uses all of them). None: no cap.
    robustness : int or None
        Test images per corruption on which each final fit is also scored
        (:mod:`mnistbench.evaluation.robustness`; a stratified subset, all of them when the test split
        is smaller). None: no robustness scores.
    """

    name: str
    cv: int
    cv_subsample: int | None
    train_subsample: int | None
    model_params: dict
    description: str
    repeats: int = 1
    tune_max_samples: int | None = 10000
    robustness: int | None = None

    @property
    def summary(self) -> str:
        """The description, with what the robustness scoring does (or that it is off)."""
        if self.robustness is None:
            return self.description + "; no robustness scores"
        return (self.description + f"; final fits also scored under 15 corruptions "
                f"({self.robustness:,} test images each, at most)")

    @property
    def splits(self) -> list[str]:
        """The CV units' split names: ``fold-k``, or ``r<i>-fold-k`` when repeated."""
        return [str(s) for s in Split.cv_folds(self.cv, self.repeats)]

    def params_for(self, model: str, family: str) -> dict:
        """The ``set_params`` overrides of ``model`` (of ``family``) under this preset."""
        return {**self.model_params.get(family, {}), **self.model_params.get(model, {})}


PRESETS = {
    "quick": Preset(
        "quick", cv=2, cv_subsample=1000, train_subsample=2000,
        model_params={
            "deep": {"epochs": 2, "batch_size": 64, "min_steps": 0},
            "xgboost": {"xgboost__n_estimators": 20},
            "random-forest": {"forest__n_estimators": 50},
        },
        description="smoke run: 2 folds on 1,000 images, final fit on 2,000, CNNs exactly 2 "
        "epochs",
        tune_max_samples=1000,
        robustness=300,
    ),
    "default": Preset(
        "default", cv=3, cv_subsample=10000, train_subsample=None,
        model_params={
            # the budget its recorded results were made with (the estimator's default
            # batch cap is 32); its CV folds and digits get batch 16 either way
            "deep": {"epochs": 6, "max_batch_size": 128},
            "xgboost": {"xgboost__n_estimators": 100},
            "random-forest": {"forest__n_estimators": 100},
        },
        description=(
            "3-fold CV on 10,000 training images, final fit on the full training split, "
            "scored on the full test set; CNNs 6 epochs and at least 2,500 steps (batches up to "
            "128), XGBoost 100 rounds, forest 100 trees"
        ),
        robustness=3000,
    ),
    "full": Preset(
        "full", cv=5, cv_subsample=None, train_subsample=None,
        model_params={"deep": {"epochs": 10}},
        description="the tutorial's protocol: 5-fold CV on the full training split, CNNs 10 "
        "epochs (batch 32 on 48,000 images, as the tutorial)",
        robustness=10000,
    ),
}
