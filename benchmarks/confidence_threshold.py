"""Where should `predict` call an answer "low confidence"? Measured, not guessed.

A CNN answers every image with some digit: random noise came out as "8" with p 0.88.
This script trains the model `predict` is meant for (the default cnn-deep, on all
60,000 MNIST training images, or loads one with --model), then prepares images the
way `predict` does and records the top probability on

* real digits: the first N MNIST test digits, as they are and rendered as a noisy,
  unevenly lit "photo" (tests/_photos.py);
* images that hold no digit: uniform noise, smooth (blurred) noise, salt-and-pepper
  specks on white paper, and "blank-ish" paper (a lighting gradient, sensor noise and
  one or two small specks). Those that `prepare_image` already refuses as blank are
  counted as refused.

For each candidate threshold it writes the share of real digits flagged (false alarms)
and of non-digits flagged, and picks the largest threshold whose false-alarm rate on
the plain test digits stays at most 1 %. Writes results/confidence_threshold.{json,md}::

    python benchmarks/confidence_threshold.py [--model cnn-deep.keras] [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from _common import RESULTS, machine, markdown_table, now

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99)
MAX_FALSE_ALARMS = 0.01


def non_digits(kind, n, rng, side=96):
    """``n`` greyscale images in [0, 1] that hold no digit."""
    from scipy import ndimage

    out = []
    for _ in range(n):
        if kind == "uniform noise":
            img = rng.random((side, side))
        elif kind == "smooth noise":
            img = ndimage.gaussian_filter(rng.random((side, side)), sigma=rng.uniform(2, 6))
            img = (img - img.min()) / (np.ptp(img) or 1)
        elif kind == "salt and pepper":
            img = np.where(rng.random((side, side)) < 0.03, 0.1, 0.95)
        elif kind == "blank-ish":
            ramp = np.linspace(0, rng.uniform(0.05, 0.2), side)
            img = 0.9 - ramp[None, :] + rng.normal(0, 0.02, (side, side))
            for _ in range(rng.integers(1, 3)):  # a speck of dust or two
                r, c = rng.integers(5, side - 8, 2)
                img[r:r + rng.integers(2, 5), c:c + rng.integers(2, 5)] = 0.2
        else:
            raise ValueError(kind)
        out.append(np.clip(img, 0, 1))
    return out


def top_probabilities(model, images):
    """Top class probability of every digit `predict` would find in ``images``
    (``multiple=False``: one digit per image); NaN where the image is refused as blank."""
    from mnistbench.data.imaging import BlankImageError, prepare_image

    prepared, keep = [], []
    for i, img in enumerate(images):
        try:
            prepared.append(prepare_image(img, multiple=False).digits[0])
            keep.append(i)
        except BlankImageError:
            pass
    top = np.full(len(images), np.nan)
    if prepared:
        top[keep] = model.predict_proba(np.stack(prepared)).max(axis=1)
    return top


def write_markdown(result):
    """confidence_threshold.md from the result (``--render-only``: from the stored JSON)."""
    lines = [
        "# Low-confidence threshold of `predict` (benchmarks/confidence_threshold.py)",
        "",
        f"{result['date']}, {result['machine']['host']}; model: {result['model']}, test "
        f"accuracy {100 * result['test_accuracy']:.2f} %. Share of images flagged as low "
        "confidence (top probability below the threshold, or refused as blank) at each "
        f"threshold; chosen: **{result['chosen']}** ({result['rule']}).",
        "",
    ]
    table = [{
        "images": r["images"], "n": r["n"], "refused as blank": r["refused_as_blank"],
        "median top p": "" if r["median_top_p"] is None else f"{r['median_top_p']:.3f}",
        **{f"p < {t}": f"{100 * r['flagged'][str(t)]:.1f} %" for t in THRESHOLDS},
    } for r in result["rows"]]
    (RESULTS / "confidence_threshold.md").write_text(
        "\n".join(lines) + "\n" + markdown_table(table) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render-only", action="store_true",
                        help="re-write the .md from confidence_threshold.json")
    parser.add_argument("--model", help="a model file written by `train` (default: train "
                        "the default cnn-deep on all of MNIST here)")
    parser.add_argument("--n", type=int, default=2000, help="test digits per variant")
    parser.add_argument("--n-other", type=int, default=500, help="images per non-digit kind")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.render_only:
        write_markdown(json.loads((RESULTS / "confidence_threshold.json").read_text()))
        return

    from _common import photos

    render = photos().render

    from mnistbench import load_dataset, make_model
    from mnistbench.estimators.persist import load_model

    ds = load_dataset("mnist")
    t0 = time.perf_counter()
    if args.model:
        model, meta = load_model(args.model)
        model_name = f"{meta['model']} from {args.model}"
    else:
        model = make_model("cnn-deep", random_state=args.seed).fit(ds.X_train, ds.y_train)
        model_name = "cnn-deep (registry defaults, trained here on 60,000 images)"
    fit_seconds = time.perf_counter() - t0
    test_accuracy = float(model.score(ds.X_test, ds.y_test))
    rng = np.random.default_rng(args.seed)
    X = ds.X_test[: args.n]
    sets = {
        "MNIST test digits": [x / 255.0 for x in X],
        "MNIST test digits as photos": [render(x, "photo", rng) for x in X],
    }
    for kind in ("uniform noise", "smooth noise", "salt and pepper", "blank-ish"):
        sets[kind] = non_digits(kind, args.n_other, rng)
    rows = []
    for name, images in sets.items():
        top = top_probabilities(model, images)
        answered = top[~np.isnan(top)]
        rows.append({
            "images": name, "digit": name.startswith("MNIST"), "n": len(images),
            "refused_as_blank": int(np.isnan(top).sum()),
            "median_top_p": float(np.median(answered)) if len(answered) else None,
            # flagged = answered with a top probability below t, or refused
            "flagged": {str(t): float(np.mean(np.nan_to_num(top, nan=-1) < t))
                        for t in THRESHOLDS},
        })
        print(rows[-1], flush=True)
    plain = rows[0]["flagged"]
    ok = [t for t in THRESHOLDS if plain[str(t)] <= MAX_FALSE_ALARMS]
    chosen = max(ok) if ok else None
    result = {"benchmark": "confidence_threshold", "date": now(), "machine": machine(),
              "command": "python benchmarks/confidence_threshold.py "
                         + " ".join(sys.argv[1:]),
              "model": model_name, "fit_seconds": round(fit_seconds, 1),
              "test_accuracy": test_accuracy, "rule": f"largest threshold flagging at most "
              f"{MAX_FALSE_ALARMS:.0%} of the plain MNIST test digits", "chosen": chosen,
              "rows": rows}
    (RESULTS / "confidence_threshold.json").write_text(json.dumps(result, indent=1) + "\n")
    write_markdown(result)
    print(f"chosen threshold: {chosen}")


if __name__ == "__main__":
    main()
