"""Does a trained CNN read realistic images as well as MNIST's own 28x28 digits?

Takes MNIST test digits, renders each one the way users' pictures arrive
(``tests/_photos.py``: dark ink on white, ten times larger, off-centre on a
bigger sheet, blurred, JPEG-compressed, a "photo" with uneven light and noise,
and two digits side by side), prepares them with ``mnistbench.data.imaging.to_mnist``
and compares the model's predictions with its predictions on the original
digits (agreement) and with the true labels (accuracy). Writes
``results/bench/imaging_agreement.json`` and ``.md``. Run::

    python -m mnistbench train --model cnn-deep --dataset mnist --output cnn-deep.keras
    python benchmarks/run.py imaging_agreement --model cnn-deep.keras [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _common import BENCH, machine, markdown_table, now, write_json, write_page


def write_markdown(record):
    """imaging_agreement.md from the record (``--render-only``: from the stored JSON)."""
    rows = record["rows"]
    lines = [
        "# Realistic images vs the original MNIST digits",
        "",
        f"Written by `benchmarks/imaging_agreement.py` ({record['timestamp']}). Model: "
        f"`{record['model']}` trained by `python -m mnistbench train` on all 60,000 MNIST "
        f"training images (test accuracy {100 * record['model_test_accuracy']:.2f} %"
        + (f", {record['model_precision']}" if record["model_precision"] else "") + "). "
        f"The first {rows[0]['n']:,} MNIST test digits, each rendered as below, prepared with "
        "`mnistbench.data.imaging.to_mnist`, predicted. Agreement = same prediction as on the "
        "original 28x28 digit; accuracy = equal to the true label (originals: "
        f"{100 * record['original_accuracy_on_these_digits']:.2f} %). Machine: "
        f"{record['machine']['host']}.",
        "",
    ]
    table = [{
        "variant": r["variant"], "images": f"{r['n']:,}",
        "image size": r.get("image_size", "360x700"), "agreement": f"{100 * r['agreement']:.2f} %",
        "accuracy": f"{100 * r['accuracy']:.2f} %",
        "to_mnist ms/image": r.get("prepare_ms_per_image", ""),
    } for r in rows]
    tail = f"Pairs split into exactly two digits: {100 * rows[-1]['segmented_into_two']:.1f} %."
    write_page("imaging_agreement",
               "\n".join(lines) + "\n" + markdown_table(table) + "\n\n" + tail + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render-only", action="store_true",
                        help="re-write the .md from imaging_agreement.json")
    parser.add_argument("--model", help="a model file written by `train` (needed unless "
                        "--render-only)")
    parser.add_argument("--n", type=int, default=2000, help="MNIST test digits per variant")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.render_only:
        write_markdown(json.loads((BENCH / "imaging_agreement.json").read_text()))
        return
    if not args.model:
        parser.error("--model is required (a file written by `python -m mnistbench train`)")

    from _common import photos

    VARIANTS, pair, render = photos().VARIANTS, photos().pair, photos().render

    from mnistbench import load_dataset
    from mnistbench.data.imaging import to_mnist
    from mnistbench.estimators.persist import load_model

    model, meta = load_model(args.model)
    ds = load_dataset("mnist")
    X, y = ds.X_test[: args.n], ds.y_test[: args.n]
    original = model.predict(X)
    rng = np.random.default_rng(args.seed)
    rows = []
    for variant in VARIANTS:
        rendered = [render(x, variant, rng) for x in X]
        t0 = time.perf_counter()
        prepared = np.stack([to_mnist(img).digits[0] for img in rendered])
        seconds = time.perf_counter() - t0  # to_mnist only, not the rendering
        pred = model.predict(prepared)
        rows.append({"variant": variant, "n": len(X),
                     "agreement": float(np.mean(pred == original)),
                     "accuracy": float(np.mean(pred == y)),
                     "image_size": "x".join(map(str, rendered[0].shape)),
                     "prepare_ms_per_image": round(1000 * seconds / len(X), 2)})
        print(rows[-1], flush=True)
    # two digits side by side: the string must match both original predictions
    found, same, correct = 0, 0, 0
    for i in range(0, len(X) - 1, 2):
        res = to_mnist(pair(X[i], X[i + 1]))
        found += len(res.digits) == 2
        text = "".join(str(v) for v in model.predict(res.digits))
        same += text == f"{original[i]}{original[i + 1]}"
        correct += text == f"{y[i]}{y[i + 1]}"
    n_pairs = len(X) // 2
    rows.append({"variant": "pair (two digits)", "n": n_pairs, "agreement": same / n_pairs,
                 "accuracy": correct / n_pairs, "segmented_into_two": found / n_pairs})
    print(rows[-1], flush=True)

    record = {
        "model_file": Path(args.model).name,
        "model": meta.get("model"),
        "model_test_accuracy": meta.get("test_accuracy"),
        "model_precision": getattr(model, "precision_", None),
        "original_accuracy_on_these_digits": float(np.mean(original == y)),
        "rows": rows,
        "seed": args.seed,
        "machine": machine(),
        "timestamp": now(),
    }
    write_json("imaging_agreement", record)
    write_markdown(record)
