"""The classic-vs-deep sentence: worded from the tests, for registry and users' models."""

import pandas as pd

from mnistbench.evaluation.records import as_records
from mnistbench.reporting.verdict import classic_vs_deep


def _case(holm, lead_model="cnn-deep", families=None):
    df = pd.DataFrame([
        {"dataset": "d", "model": "cnn-deep", "status": "ok", "test_accuracy": 0.99,
         "test_ci_low": 0.988, "test_ci_high": 0.992, "n_test": 10000},
        {"dataset": "d", "model": "svc", "status": "ok", "test_accuracy": 0.985,
         "test_ci_low": 0.982, "test_ci_high": 0.987, "n_test": 10000},
        {"dataset": "d", "model": "mine", "status": "ok", "test_accuracy": 0.5,
         "test_ci_low": 0.49, "test_ci_high": 0.51, "n_test": 10000},
    ])
    pair = {"model_a": "cnn-deep", "model_b": "svc", "a_only_right": 70, "b_only_right": 20,
            "mcnemar_p": holm / 3, "mcnemar_p_holm": holm}
    tests = {"d": {"pairs": [pair], "groups": {}, "left_out": {}}}
    records = [{"dataset": "d", "model": m, "split": "test", "status": "ok",
                **({"family": f} if f else {})}
               for m, f in (families or {"cnn-deep": None, "svc": None, "mine": "classic"}).items()]
    return classic_vs_deep(df, tests, as_records(records), "d")


def test_a_significant_lead_names_the_model_ahead_with_both_intervals():
    text = _case(holm=0.001)
    assert text.startswith("d: the best deep model, cnn-deep (99.00 % test, 95 % CI [98.80, "
                           "99.20]), against the best classic one, svc (98.50 % test")
    assert "+0.50 points on 10,000 test images" in text
    assert "70 images only cnn-deep got right, 20 only svc" in text
    assert text.endswith("the deep model is ahead at the 5 % level.")


def test_a_difference_the_test_cannot_confirm_is_said_so():
    assert _case(holm=0.2).endswith("the two cannot be told apart at the 5 % level.")


def test_a_user_model_counts_in_its_recorded_family_and_one_family_alone_gives_none():
    # "mine" recorded as deep: it is the deep side's only other candidate, below cnn-deep
    assert "best deep model, cnn-deep" in _case(0.001, families={
        "cnn-deep": None, "svc": None, "mine": "deep"})
    assert _case(0.001, families={"cnn-deep": "classic", "svc": None, "mine": None}) is None
