"""Each CNN at its registry defaults against the tutorial's plain Keras recipe, at every size.

Issue 12's target: at every training size of the learning curve, each of cnn-baseline,
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

Each (dataset, size, seed, arch, arm) is appended to ``results/bench/cnn_vs_recipe.jsonl``
as it finishes and skipped when run again, so an interrupted run resumes; the Markdown
``results/bench/cnn_vs_recipe.md`` is re-rendered from all of them. Run::

    python benchmarks/cnn_vs_recipe.py [--datasets digits mnist] [--sizes N ...]
                                       [--seeds S] [--render-only]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, append_jsonl, bench_page, machine, now, read_jsonl  # noqa: E402
from cnn_accuracy import TUTORIAL  # noqa: E402

OUT = RESULTS / "bench" / "cnn_vs_recipe.jsonl"
ARCHS = ("baseline", "batchnorm", "deep")
#: the arms: the registry default under run-all's default preset, and the tutorial's recipe
ARMS = {"defaults": None, "recipe": dict(TUTORIAL, min_steps=0)}


def _key(r):
    return (r["dataset"], r["size"], r["seed"], r["arch"], r["arm"])


def _fit_one(ds, dataset, size, seed, arch, arm, info):
    from sklearn.model_selection import train_test_split

    from mnistbench.cnn import KerasCNNClassifier
    from mnistbench.harness import PRESETS
    from mnistbench.models import make_model

    n = len(ds.y_train)
    if size < n:
        X, _, y, _ = train_test_split(ds.X_train, ds.y_train, train_size=size,
                                      stratify=ds.y_train, random_state=seed)
    else:
        X, y = ds.X_train, ds.y_train
    if arm == "defaults":
        est = make_model(f"cnn-{arch}", random_state=seed)
        est.set_params(**PRESETS["default"].params_for(f"cnn-{arch}", "deep"))
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


def run(datasets, sizes, seeds):
    from mnistbench import load_dataset
    from mnistbench.harness.curve import CURVE_SIZES, repeats_at

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
                    for arm in ARMS:
                        if (dataset, size, seed, arch, arm) not in done:
                            _fit_one(ds, dataset, size, seed, arch, arm, info)


def render():
    import numpy as np

    records = {}
    for r in read_jsonl(OUT):
        records[_key(r)] = r  # the latest of each
    if not records:
        return
    rows, verdicts = [], []
    for dataset, size, arch in sorted({(k[0], k[1], k[3]) for k in records}):
        arms = {arm: [r for k, r in records.items() if k[:2] == (dataset, size)
                      and k[3] == arch and k[4] == arm] for arm in ARMS}
        if not all(arms.values()):
            continue
        seeds = sorted({r["seed"] for r in arms["defaults"]} & {r["seed"] for r in arms["recipe"]})
        acc = {arm: [next(r["test_accuracy"] for r in rs if r["seed"] == s) for s in seeds]
               for arm, rs in arms.items()}
        lead = 100 * (np.mean(acc["defaults"]) - np.mean(acc["recipe"]))
        verdicts.append(lead >= 0)
        rows.append({
            "data": dataset, "size": f"{size:,}", "CNN": arch, "seeds": str(len(seeds)),
            "defaults test %": f"{100 * np.mean(acc['defaults']):.2f}",
            "recipe test %": f"{100 * np.mean(acc['recipe']):.2f}",
            "lead (pts)": f"{lead:+.2f}",
            "per seed": " / ".join(f"{100 * (a - b):+.2f}"
                                   for a, b in zip(acc["defaults"], acc["recipe"])),
            "defaults fit s": f"{np.mean([r['fit_seconds'] for r in arms['defaults']]):.1f}",
            "recipe fit s": f"{np.mean([r['fit_seconds'] for r in arms['recipe']]):.1f}",
            "at least as accurate": "yes" if lead >= 0 else "**no**",
        })
    text = bench_page(
        "Registry CNNs against the tutorial's plain Keras recipe, at every size (issue 12)",
        records.values(), "python benchmarks/cnn_vs_recipe.py",
        "defaults: the registry CNN under run-all's default preset (epochs=6, "
        "batch_size=\"auto\", min_steps=2500), as `learning-curve` fits it. recipe: the "
        "tutorial's SGD lr 0.01, momentum 0.9, batch 32, exactly 10 epochs, constant rate, "
        "'valid' padding ('same' on 8x8 digits), no dropout. Same stratified subsample "
        "(seed 0, 1, 2...) for both; scored on the whole test split. lead: defaults minus "
        "recipe, mean over seeds.\n\n"
        f"At least as accurate in {sum(verdicts)} of {len(verdicts)} (size, CNN) cells.", rows)
    (RESULTS / "bench" / "cnn_vs_recipe.md").write_text(text)
    print(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits"], choices=["digits", "mnist"])
    parser.add_argument("--sizes", nargs="+", type=int, help="default: the learning curve's")
    parser.add_argument("--seeds", type=int, default=3,
                        help="subsamples up to 1,000 images (2 below 30,000, 1 above)")
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args()
    if not args.render_only:
        run(args.datasets, args.sizes, args.seeds)
    render()


if __name__ == "__main__":
    main()
