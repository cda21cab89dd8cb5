"""The tuned mode: ``run-all --tune`` is nested CV (each unit searches its own
training data by successive halving), records its choice, and puts tuned beside default."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from mnistbench import run_benchmark
from mnistbench.cli import build_parser
from mnistbench.errors import UsageError
from mnistbench.estimators.models import MODELS
from mnistbench.evaluation.records import as_records
from mnistbench.evaluation.tuning import halving_search, search_summary, tuning_table
from mnistbench.harness import PRESETS, RunOptions
from mnistbench.harness.execute import run_unit
from mnistbench.harness.learning_curves import learning_curve
from mnistbench.harness.units import Unit, params_hash, plan_units


def _records(out):
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


def test_tune_plans_a_tuned_twin_of_every_unit_with_its_own_hash():
    quick = PRESETS["quick"]
    plain = plan_units(["digits"], ["svc", "logreg"], quick)
    tuned = plan_units(["digits"], ["svc", "logreg"], quick, tune=True)
    assert {u.key for u in plain} < {u.key for u in tuned}  # the default units unchanged
    twins = [u for u in tuned if u.tune]
    assert len(twins) == len(plain) and {u.label for u in twins} == {"svc-tuned", "logreg-tuned"}
    assert all(u.tune == MODELS[u.model].grid for u in twins)
    # the grid and the search's budget are part of what a tuned record stands for
    h = params_hash("digits", "svc", quick, 0, {}, tune={"svc__C": [1, 10]})
    assert h != params_hash("digits", "svc", quick, 0, {}, tune={"svc__C": [1, 100]})
    assert h != params_hash("digits", "svc", dataclasses.replace(quick, tune_max_samples=50), 0,
                            {}, tune={"svc__C": [1, 10]})


@pytest.mark.e2e
def test_tune_on_tiny_data_records_its_choice_and_writes_the_side_by_side_table(tmp_path):
    out = tmp_path / "out"
    preset = dataclasses.replace(PRESETS["quick"], tune_max_samples=400)
    df = run_benchmark(["digits"], ["logreg", "svc"], preset=preset, tune=True, output=out,
                       figures=False, quiet=True)
    assert set(df["model"]) == {"logreg", "svc", "logreg-tuned", "svc-tuned"}
    assert (df["status"] == "ok").all()
    tuned = [r for r in _records(out) if r["model"].endswith("-tuned")]
    assert len(tuned) == 2 * (preset.cv + 1)
    for r in tuned:
        grid = MODELS[r["tuned_from"]].grid
        (name, value), = r["search"]["best_params"].items()
        assert value in grid[name] and r["grid"] == grid
        assert r["search"]["candidates"] == len(grid[name])
        # each unit searched its own training data (a fold's: 500 of the 1,000 images),
        # its last round capped at tune_max_samples; the refit used all of it
        assert r["search"]["samples_per_round"][-1] <= 400
        assert r["n_train"] == (500 if r["split"] != "test" else 1347)
    table = (out / "tuning_digits.md").read_text()
    assert "Nested CV" in table and "svc" in table and "logreg" in table
    assert "C=" in table  # the chosen parameters, per unit
    page = (out / "report.html").read_text()
    assert "Default and tuned (run-all --tune)" in page and "chosen_for_test" in page


def test_tuning_table_puts_tuned_beside_default_with_the_gain():
    import pandas as pd
    df = pd.DataFrame([
        {"dataset": "d", "model": "svc", "cv_accuracy_mean": 0.90, "test_accuracy": 0.91,
         "fit_seconds": 1.0},
        {"dataset": "d", "model": "svc-tuned", "cv_accuracy_mean": 0.95, "test_accuracy": 0.93,
         "fit_seconds": 4.0},
    ])
    chosen = lambda split, c: {"dataset": "d", "model": "svc-tuned", "split": split,  # noqa: E731 - a one-line helper reads best as a lambda
                               "status": "ok", "search": {"best_params": {"svc__C": c}}}
    records = [chosen("fold-1", 10), chosen("fold-2", 10), chosen("fold-3", 1), chosen("test", 10)]
    row = tuning_table(df, as_records(records)).iloc[0]
    assert row["model"] == "svc" and row["test_gain_points"] == pytest.approx(2.0)
    assert row["chosen_for_test"] == "C=10"
    assert row["chosen_in_folds"] == "C=10 (2/3); C=1 (1/3)"


def test_a_tuned_cnn_unit_keeps_the_refitted_models_history_and_budget():
    preset = dataclasses.replace(
        PRESETS["quick"], cv=2, cv_subsample=200,
        model_params={"deep": {"epochs": 1, "batch_size": 32, "min_steps": 0}})
    grid = {"learning_rate": [1e-3, 3e-3]}
    unit = Unit("digits", "cnn-baseline", "fold-1", preset, 0, preset.params_for(
        "cnn-baseline", "deep"), "h", tune=grid)
    record = run_unit(unit)
    assert record["model"] == "cnn-baseline-tuned" and record["tuned_from"] == "cnn-baseline"
    assert record["search"]["best_params"]["learning_rate"] in grid["learning_rate"]
    assert record["n_train"] == 100 and record["n_test"] == 100
    assert record["budget"]["epochs"] == 1 and len(record["history"]["loss"]) == 1
    # the fold's held-out part is not passed to the search as validation data
    assert "val_loss" not in record["history"]


def test_halving_search_caps_the_last_round_and_refits_on_everything():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(600, 5)), np.arange(600) % 3
    X[:, 0] += y
    search = halving_search(LogisticRegression(), {"C": [0.01, 0.1, 1.0]}, seed=0,
                            max_samples=300, n_samples=len(y)).fit(X, y)
    summary = search_summary(search)
    assert summary["samples_per_round"][-1] <= 300 and summary["candidates"] == 3
    assert summary["best_params"]["C"] in (0.01, 0.1, 1.0)
    assert isinstance(summary["best_params"]["C"], float)  # plain JSON, not numpy
    assert search.best_estimator_.n_features_in_ == 5
    with pytest.raises(ValueError, match="empty grid"):
        halving_search(LogisticRegression(), {})


@pytest.mark.e2e
def test_tune_is_a_cli_flag_and_refused_by_learning_curve(tmp_path):
    args = build_parser().parse_args(["run-all", "--tune", "--dataset", "digits"])
    assert RunOptions.from_namespace(args).tune is True
    assert RunOptions.from_namespace(build_parser().parse_args(["run-all"])).tune is False
    with pytest.raises(UsageError, match="tune do not apply to a learning curve"):
        learning_curve(["digits"], ["svc"], tune=True, output=tmp_path)
