"""Intervals and paired tests, each checked against an independent computation."""

import math
import statistics

import numpy as np
import pytest
from scipy import stats as sps

from mnistbench.evaluation import stats
from mnistbench.evaluation.records import as_records
from mnistbench.reporting.report import significance, summarize, write_report


def test_mcnemar_equals_statsmodels_and_the_binomial_test():
    from statsmodels.stats.contingency_tables import mcnemar

    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.random(500) < 0.9
        b = np.where(rng.random(500) < 0.1, ~a, a)
        p, only_a, only_b = stats.mcnemar_exact(a, b)
        table = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
        assert p == mcnemar(table, exact=True).pvalue
        # exact McNemar: a two-sided binomial test on the discordant pairs
        expected = sps.binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue \
            if only_a + only_b else 1.0
        assert p == pytest.approx(expected, abs=1e-12)


def _corrected_t_by_hand(a, b, n_train, n_test):
    d = [x - y for x, y in zip(a, b, strict=True)]
    j = len(d)
    t = statistics.fmean(d) / math.sqrt((1 / j + n_test / n_train) * statistics.variance(d))
    return 2 * (1 - sps.t.cdf(abs(t), j - 1))


def test_corrected_ttest_equals_an_independent_implementation():
    rng = np.random.default_rng(1)
    for j in (3, 5, 10):
        a = 0.95 + rng.normal(0, 0.01, j)
        b = a - 0.004 + rng.normal(0, 0.005, j)
        got = stats.corrected_ttest(a, b, n_train=6000, n_test=3000)
        assert got == pytest.approx(_corrected_t_by_hand(a, b, 6000, 3000), abs=1e-12)
    assert stats.corrected_ttest([0.9, 0.9], [0.9, 0.9], 10, 5) == 1.0


def test_corrected_interval_is_wider_than_the_naive_one_and_reduces_to_it():
    scores = [0.97, 0.975, 0.968, 0.972, 0.979]
    mean, low, high = stats.corrected_cv_interval(scores, n_train=48000, n_test=12000)
    naive = sps.t.interval(0.95, 4, loc=np.mean(scores), scale=sps.sem(scores))
    assert mean == pytest.approx(np.mean(scores))
    assert high - low > naive[1] - naive[0]  # the folds overlap: more uncertainty
    # with a vanishing test fraction the correction disappears: the classic t interval
    _, low0, high0 = stats.corrected_cv_interval(scores, n_train=1e15, n_test=1e-15)
    assert (low0, high0) == pytest.approx(naive, abs=1e-12)


def test_wilson_interval_equals_scipy():
    for k, n in ((9933, 10000), (0, 20), (20, 20), (413, 450)):
        ci = sps.binomtest(k, n).proportion_ci(0.95, method="wilson")
        assert stats.wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_holm_matches_its_definition():
    p = [0.01, 0.04, 0.03, 0.005, np.nan]
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1, then running maximum
    assert np.allclose(stats.holm(p)[:4], [0.03, 0.06, 0.06, 0.02])
    assert np.isnan(stats.holm(p)[4])


def test_predictions_round_trip():
    y = np.array([3, 1, 2, 2, 9] * 7)
    pred = np.array([3, 1, 1, 2, 9] * 7)
    stored = stats.encode_predictions(y, pred)
    got, correct = stats.decode_predictions(stored)
    np.testing.assert_array_equal(got, pred)
    np.testing.assert_array_equal(correct, y == pred)


def test_groups_are_runs_of_models_that_cannot_be_told_apart():
    significant = {frozenset("AC"), frozenset("AD"), frozenset("BD")}
    letters = stats.groups(list("ABCD"), lambda a, b: 0.001 if frozenset((a, b)) in significant
                           else 0.5)
    assert letters == {"A": "a", "B": "ab", "C": "bc", "D": "c"}


# --------------------------------------------------------------------------- in the report
def _records(models, with_predictions=True, failed=()):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 400)
    out = []
    for i, model in enumerate(models):
        for k in (1, 2, 3):
            out.append({"dataset": "d", "model": model, "split": f"fold-{k}", "params_hash": "h",
                        "status": "ok", "accuracy": 0.9 - 0.01 * i + 0.002 * k,
                        "n_train": 200, "n_test": 100, "seed": 0, "preset": "p"})
        pred = np.where(rng.random(400) < 0.05 + 0.1 * i, (y + 1) % 10, y)
        test = {"dataset": "d", "model": model, "split": "test", "params_hash": "h",
                "status": "failed" if model in failed else "ok",
                "accuracy": float(np.mean(pred == y)), "macro_f1": 0.9, "n_train": 300,
                "n_test": 400, "fit_seconds": 1.0, "predict_seconds": 0.1, "device": "cpu",
                "seed": 0, "preset": "p", "error": "boom" if model in failed else ""}
        if with_predictions:
            test["predictions"] = stats.encode_predictions(y, pred)
        out.append(test)
    return out


def test_report_has_intervals_groups_and_a_significance_table(tmp_path):
    records = _records(["m0", "m1", "m2"])
    df = write_report(records, tmp_path, "p", 0, figures=True)
    assert (df["test_ci_low"] < df["test_accuracy"]).all()
    assert (df["test_accuracy"] < df["test_ci_high"]).all()
    assert df.set_index("model").loc["m0", "group"].startswith("a")
    assert df.set_index("model").loc["m2", "group"] != "a"  # 45 % vs 5 % errors: told apart
    text = (tmp_path / "significance_d.md").read_text()
    assert "| m0" in text and "McNemar p (Holm)" in text
    assert (tmp_path / "d_pvalues.png").stat().st_size > 0
    page = (tmp_path / "report.html").read_text()
    for section in ("Protocol", "Machine", "Pairwise tests (Holm-corrected)", "Figures",
                    "Failures and timeouts"):
        assert f">{section}<" in page
    assert page.count('src="data:image/png;base64,') == len(list(tmp_path.glob("*.png")))
    assert "http" not in page.replace("data:", "") and "<script" not in page
    assert "3-fold stratified CV" in page and "400 held-out test images" in page


def test_old_records_without_predictions_still_render_and_say_what_to_rerun(tmp_path):
    df = write_report(_records(["m0", "m1"], with_predictions=False), tmp_path, "p", 0,
                      figures=False)
    assert (df["group"] == "").all()
    text = (tmp_path / "significance_d.md").read_text()
    assert "m0: no stored predictions" in text and "re-run" in text
    assert "n/a" in text  # McNemar not computed, the CV t-test is


def test_a_single_model_has_no_pairwise_section(tmp_path):
    df = write_report(_records(["m0"]), tmp_path, "p", 0, figures=False)
    assert list(df["group"]) == ["a"]
    assert not list(tmp_path.glob("significance_*"))


def test_a_failed_model_is_shown_but_left_out_of_the_tests(tmp_path):
    records = _records(["m0", "m1", "m2"], failed=("m1",))
    write_report(records, tmp_path, "p", 0, figures=False)
    assert "d / m1: failed: test: failed (boom)" in (tmp_path / "report.html").read_text()
    tests = significance(as_records(records), "d")
    assert "m1" in tests["left_out"] and "failed" in tests["left_out"]["m1"]
    assert all("m1" not in (p["model_a"], p["model_b"]) for p in tests["pairs"])
    assert "m1" in set(summarize(records)["model"])
