"""HOG throughput: mnistbench.HOGTransformer vs skimage's per-image loop.

All 70,000 MNIST images go through the batched HOG; skimage's ``hog`` runs image by
image on a sample (``--sample``, default 5,000) and its per-image time is scaled to
70,000. Outputs are compared on the sample (max abs difference). Target: >= 20x,
identical output (<= 1e-6). Writes ``results/bench/hog_throughput.json``. Run::

    python benchmarks/run.py hog_throughput [--sample 5000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import time

from _common import machine, now, write_json


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import numpy as np
    from skimage.feature import hog

    from mnistbench import load_dataset
    from mnistbench.estimators.features import HOGTransformer

    ds = load_dataset("mnist")
    X = np.concatenate([ds.X_train, ds.X_test])  # 70,000 images
    transformer = HOGTransformer().fit(X[:10])
    params = dict(orientations=transformer.orientations, pixels_per_cell=transformer.pixels_per_cell_,
                  cells_per_block=transformer.cells_per_block, block_norm=transformer.block_norm)

    batch_times, loop_times = [], []
    for _ in range(args.repeats):  # alternate, so noise hits both
        t0 = time.perf_counter()
        features = transformer.transform(X)
        batch_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        reference = np.stack([hog(x, **params) for x in X[: args.sample]])
        loop_times.append((time.perf_counter() - t0) / args.sample * len(X))
    max_diff = float(np.abs(features[: args.sample] - reference).max())
    speedup = min(loop_times) / min(batch_times)
    result = {
        "benchmark": "hog_throughput",
        "target": "speedup >= 20x with max abs difference <= 1e-6",
        "n_images": len(X),
        "hog_params": {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()},
        "n_features": int(features.shape[1]),
        "batched_seconds": [round(t, 3) for t in batch_times],
        "skimage_loop_seconds_scaled_to_70k": [round(t, 2) for t in loop_times],
        "skimage_sample": args.sample,
        "batched_ms_per_image": round(min(batch_times) / len(X) * 1e3, 5),
        "skimage_ms_per_image": round(min(loop_times) / len(X) * 1e3, 4),
        "speedup": round(speedup, 1),
        "max_abs_difference": max_diff,
        "meets_target": speedup >= 20 and max_diff <= 1e-6,
        "machine": machine(),
        "timestamp": now(),
    }
    write_json("hog_throughput", result)
    print(json.dumps({k: result[k] for k in ("speedup", "max_abs_difference", "batched_ms_per_image",
                                             "skimage_ms_per_image")}))
