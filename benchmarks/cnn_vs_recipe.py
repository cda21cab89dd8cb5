"""Each CNN at its registry defaults against the tutorial's plain Keras recipe, at every size.

The target: at every training size of the learning curve, each of cnn-baseline,
cnn-batchnorm and cnn-deep is at least as accurate as the tutorial's recipe for the same
architecture (SGD lr 0.01, momentum 0.9, batch 32, exactly 10 epochs, constant rate,
'valid' padding, no dropout: ``cnn_accuracy.TUTORIAL``), measured in the same run.

Both arms see the same data: the learning curve's stratified subsample of the training
split (``train_test_split(stratify=y, random_state=seed)``, seed 0, 1, 2... as
``learning-curve`` draws them; ``repeats_at`` subsamples per size), scored on the whole
test split (on digits' 8x8 images the recipe uses 'same' padding: 'valid' shrinks them
below the deep net's three 3x3 convolutions). "defaults" is what ``learning-curve`` fits:
the registry model under run-all's default preset (``epochs=6``, ``batch_size="auto"``,
``min_steps=2500``).

A third arm, ``--arms augment``, is the defaults plus ``augment=True`` (random shifts,
rotations and zoom while training): what the registry CNNs would gain from augmentation at
each size, on the same subsamples. It has its own table and no bearing on the verdict.

Each (dataset, size, seed, arch, arm) is appended to ``results/bench/cnn_vs_recipe.jsonl``
as it finishes and skipped when run again, so an interrupted run resumes; the Markdown
``results/bench/cnn_vs_recipe.md`` is re-rendered from all of them. Run::

    python benchmarks/cnn_vs_recipe.py [--datasets digits mnist] [--sizes N ...]
                                       [--seeds S] [--arms A ...] [--render-only]
"""

from __future__ import annotations

import argparse
import time

from _common import (
    RESULTS,
    append_jsonl,
    bench_page,
    machine,
    markdown_table,
    now,
    read_jsonl,
)
from cnn_accuracy import TUTORIAL

OUT = RESULTS / "bench" / "cnn_vs_recipe.jsonl"
ARCHS = ("baseline", "batchnorm", "deep")
#: the arms: the registry default under run-all's default preset, the tutorial's recipe, and
#: the registry default with augmentation (run only when asked for: ``--arms augment``)
ARMS = {"defaults": None, "recipe": dict(TUTORIAL, min_steps=0), "augment": {"augment": True}}
DEFAULT_ARMS = ("defaults", "recipe")


def _key(r):
    return (r["dataset"], r["size"], r["seed"], r["arch"], r["arm"])


def _fit_one(ds, dataset, size, seed, arch, arm, info):
    from sklearn.model_selection import train_test_split

    from mnistbench.estimators.cnn import KerasCNNClassifier
    from mnistbench.estimators.models import make_model
    from mnistbench.harness import PRESETS

    n = len(ds.y_train)
    if size < n:
        X, _, y, _ = train_test_split(ds.X_train, ds.y_train, train_size=size,
                                      stratify=ds.y_train, random_state=seed)
    else:
        X, y = ds.X_train, ds.y_train
    if arm in ("defaults", "augment"):
        est = make_model(f"cnn-{arch}", random_state=seed)
        est.set_params(**PRESETS["default"].params_for(f"cnn-{arch}", "deep"),
                       **(ARMS[arm] or {}))
    else:
        recipe = dict(ARMS[arm])
        if min(ds.X_train.shape[1:3]) < 28:  # 8x8 digits: 'valid' leaves deep no pixels
            recipe["padding"] = "same"
        est = KerasCNNClassifier(arch, random_state=seed, **recipe)
    t0 = time.perf_counter()
    est.fit(X, y)
    seconds = time.perf_counter() - t0
    record = dict(dataset=dataset, size=int(len(y)), seed=seed, arch=arch, arm=arm,
                  test_accuracy=float(est.score(ds.X_test, ds.y_test)),
                  train_accuracy=float(est.history_["accuracy"][-1]),
                  fit_seconds=round(seconds, 2), batch_size=est.batch_size_, epochs=est.epochs_,
                  steps=est.epochs_ * est._epoch_steps, machine=info, when=now())
    append_jsonl(OUT, record)
    print(f"{dataset} n={size} seed {seed} {arch} {arm}: test {record['test_accuracy']:.4f} "
          f"({record['steps']} steps, {seconds:.1f} s)", flush=True)


def run(datasets, sizes, seeds, arms=DEFAULT_ARMS):
    from mnistbench import load_dataset
    from mnistbench.harness.learning_curves import CURVE_SIZES, repeats_at

    info = machine()
    done = {_key(r) for r in read_jsonl(OUT)}
    for dataset in datasets:
        ds = load_dataset(dataset)
        n = len(ds.y_train)
        chosen = sorted({min(s, n) for s in (sizes or CURVE_SIZES[dataset])})
        for size in chosen:
            reps = 1 if size >= n else repeats_at(size, seeds)
            for seed in range(reps):
                for arch in ARCHS:
                    for arm in arms:
                        if (dataset, size, seed, arch, arm) not in done:
                            _fit_one(ds, dataset, size, seed, arch, arm, info)


def _paired(records, cell, a, b):
    """The seeds both arms ``a`` and ``b`` ran for ``cell`` (dataset, size, arch), with each
    arm's test accuracies and fit seconds over those seeds; None where either is missing."""
    dataset, size, arch = cell
    by_arm = {arm: {k[2]: r for k, r in records.items() if k == (dataset, size, k[2], arch, arm)}
              for arm in (a, b)}
    seeds = sorted(set(by_arm[a]) & set(by_arm[b]))
    if not seeds:
        return None
    return seeds, {arm: ([by_arm[arm][s]["test_accuracy"] for s in seeds],
                         [by_arm[arm][s]["fit_seconds"] for s in seeds]) for arm in (a, b)}


def _rows(records, a, b, lead_name):
    import numpy as np

    rows = []
    for cell in sorted({(k[0], k[1], k[3]) for k in records}):
        pair = _paired(records, cell, a, b)
        if pair is None:
            continue
        seeds, arm = pair
        lead = 100 * (np.mean(arm[a][0]) - np.mean(arm[b][0]))
        rows.append({
            "data": cell[0], "size": f"{cell[1]:,}", "CNN": cell[2], "seeds": str(len(seeds)),
            f"{a} test %": f"{100 * np.mean(arm[a][0]):.2f}",
            f"{b} test %": f"{100 * np.mean(arm[b][0]):.2f}",
            f"{lead_name} (pts)": f"{lead:+.2f}",
            "per seed": " / ".join(f"{100 * (x - y):+.2f}" for x, y in zip(arm[a][0], arm[b][0], strict=True)),
            f"{a} fit s": f"{np.mean(arm[a][1]):.1f}", f"{b} fit s": f"{np.mean(arm[b][1]):.1f}",
            "_lead": lead,
        })
    return rows


def render():
    records = {}
    for r in read_jsonl(OUT):
        records[_key(r)] = r  # the latest of each
    rows = _rows(records, "defaults", "recipe", "lead")
    if not rows:
        return
    for row in rows:
        row["at least as accurate"] = "yes" if row["_lead"] >= 0 else "**no**"
    verdicts = [row.pop("_lead") >= 0 for row in rows]
    text = bench_page(
        "Registry CNNs against the tutorial's plain Keras recipe, at every size",
        records.values(), "python benchmarks/cnn_vs_recipe.py",
        "defaults: the registry CNN under run-all's default preset (epochs=6, "
        "batch_size=\"auto\", min_steps=2500), as `learning-curve` fits it. recipe: the "
        "tutorial's SGD lr 0.01, momentum 0.9, batch 32, exactly 10 epochs, constant rate, "
        "'valid' padding ('same' on 8x8 digits), no dropout. Same stratified subsample "
        "(seed 0, 1, 2...) for both; scored on the whole test split. lead: defaults minus "
        "recipe, mean over seeds.\n\n"
        f"At least as accurate in {sum(verdicts)} of {len(verdicts)} (size, CNN) cells.", rows)
    augmented = _rows(records, "augment", "defaults", "gain")
    if augmented:
        for row in augmented:
            del row["_lead"]
        text += ("\n## With augmentation\n\naugment: the defaults plus `augment=True` (random "
                 "shifts of 5 %, rotations of 10 deg, zoom of 5 %, while training only; "
                 "`--arms augment`), the same subsamples and steps. gain: augment minus "
                 "defaults, mean over seeds.\n\n" + markdown_table(augmented) + "\n")
    (RESULTS / "bench" / "cnn_vs_recipe.md").write_text(text)
    print(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits"], choices=["digits", "mnist"])
    parser.add_argument("--sizes", nargs="+", type=int, help="default: the learning curve's")
    parser.add_argument("--seeds", type=int, default=3,
                        help="subsamples up to 1,000 images (2 below 30,000, 1 above)")
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(DEFAULT_ARMS),
                        help="arms to run (default: %(default)s)")
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args()
    if not args.render_only:
        run(args.datasets, args.sizes, args.seeds, args.arms)
    render()


if __name__ == "__main__":
    main()
