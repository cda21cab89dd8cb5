"""The question the package answers, in one sentence per dataset: how does the best classic
model compare with the best deep one? Worded from the records' tests alone (the test
split's Wilson intervals and the Holm-corrected McNemar test), never typed by hand."""

from __future__ import annotations

import pandas as pd

from mnistbench.estimators.models import is_deep_name

__all__ = ["classic_vs_deep", "family_of"]


def family_of(records, model) -> str:
    """A model's family from its records: a user's model records it; a registry model
    (or its tuned twin) has its entry's."""
    for r in records:
        if r.model == model:
            if r.family:
                return r.family
            return "deep" if is_deep_name(r.tuned_from or model) else "classic"
    return "classic"


def classic_vs_deep(df: pd.DataFrame, tests: dict, records, dataset) -> str | None:
    """The sentence for ``dataset``, or None without a finished model of each family.
    ``df``: :func:`~mnistbench.reporting.report.summarize`'s table; ``tests``: its significance."""
    rows = df[(df["dataset"] == dataset) & (df["status"] == "ok")].dropna(
        subset=["test_accuracy"])
    mine = [r for r in records if r.dataset == dataset]
    families = {m: family_of(mine, m) for m in rows["model"]}
    best = {}
    for family in ("classic", "deep"):
        part = rows[rows["model"].map(families) == family]
        if part.empty:
            return None
        best[family] = part.sort_values("test_accuracy", ascending=False).iloc[0]
    c, d = best["classic"], best["deep"]
    pair = next((p for p in tests[dataset]["pairs"]
                 if {p["model_a"], p["model_b"]} == {c["model"], d["model"]}), None)
    lead = 100 * (d["test_accuracy"] - c["test_accuracy"])

    def shown(row):
        return (f"{row['model']} ({100 * row['test_accuracy']:.2f} % test, 95 % CI "
                f"[{100 * row['test_ci_low']:.2f}, {100 * row['test_ci_high']:.2f}])")

    text = (f"{dataset}: the best deep model, {shown(d)}, against the best classic one, "
            f"{shown(c)}: {lead:+.2f} points on {int(d['n_test']):,} test images")
    if pair is None or pair["mcnemar_p_holm"] is None or pd.isna(pair["mcnemar_p_holm"]):
        return text + "; no paired test (a model's predictions were not recorded)."
    only = {pair["model_a"]: pair["a_only_right"], pair["model_b"]: pair["b_only_right"]}
    p, holm = pair["mcnemar_p"], pair["mcnemar_p_holm"]
    if holm < 0.05:
        ahead = "the deep model" if lead > 0 else "the classic model"
        verdict = f"{ahead} is ahead at the 5 % level"
    else:
        verdict = "the two cannot be told apart at the 5 % level"
    n_pairs = len(tests[dataset]["pairs"])
    return (text + f" ({only[d['model']]} images only {d['model']} got right, "
            f"{only[c['model']]} only {c['model']}); McNemar's exact test p = {p:.4g}, "
            f"{holm:.4g} after Holm's correction over the {n_pairs} pairs: {verdict}.")
