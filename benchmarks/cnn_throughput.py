"""How fast the registry's CNNs train and predict against what the CPU can compute.

For each architecture (at the default width), each precision the CPU offers (float32;
mixed bfloat16 where it has AVX512-BF16) and each thread count (1, and every core), a fresh
process fits ``KerasCNNClassifier`` for one epoch on 12,800 MNIST training images at batch
128 (after a warm-up fit that builds and traces the graphs), then predicts the 10,000 test
images. It reports images per second and the achieved GFLOP/s:

* **FLOP count**: the multiply-adds of the convolution and dense layers (2 FLOP each),
  counted from the built network; pooling, activations, batch normalisation and the
  optimizer are not counted (the usual convention). A training step costs the forward
  pass, the weight gradients (as much again) and the input gradients of every layer but the
  first (as much again): 3x the forward FLOP, 2x for the first layer.
* **Peak**: threads x clock x FLOP per cycle per core. Float32: two 256-bit FMA pipes per
  core (Zen 2/3/4 and Intel since Haswell; Zen 4 runs AVX-512 as two 256-bit halves), so
  2 x 8 lanes x 2 = 32 FLOP per cycle; 64 with AVX-512 on a CPU that is not an AMD Zen
  (two 512-bit pipes). Bfloat16 dot products (``vdpbf16ps``) do twice the float32 rate.
  The clock is the ``cpu MHz`` the kernel reports (on a VM the nominal clock; a core that
  boosts above it makes the efficiency look higher than it is).

One line per configuration goes to ``results/bench/cnn_throughput.jsonl`` and the table to
``cnn_throughput.md``. Run::

    python benchmarks/run.py cnn_throughput [--archs baseline batchnorm deep] [--render-only]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from _common import BENCH, append_jsonl, bench_page, machine, now, read_jsonl, write_page

OUT = BENCH / "cnn_throughput.jsonl"
N_TRAIN = 12_800
BATCH = 128


def flops_per_image(model):
    """``(forward, training)`` FLOP per image of a built Keras model (conv and dense only)."""
    import keras

    forward = training = 0
    first = True
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            flop = 2 * h * w * c_out * kh * kw * layer.input.shape[-1]
        elif isinstance(layer, keras.layers.Dense):
            flop = 2 * layer.input.shape[-1] * layer.units
        else:
            continue
        forward += flop
        training += flop * (2 if first else 3)
        first = False
    return int(forward), int(training)


def peak_gflops(threads, precision):
    """Peak GFLOP/s of ``threads`` cores at the reported clock (see the module docstring)."""
    from mnistbench.hostinfo import cpu_info

    info = cpu_info()
    flags = set(info.get("flags") or ())
    mhz = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                mhz = float(line.split(":")[1])
                break
    except OSError:
        pass
    if mhz is None:
        return None, None
    zen = (info.get("microarchitecture") or "").startswith("Zen")
    per_cycle = 64 if ("avx512f" in flags and not zen) else 32
    if precision == "mixed_bfloat16":
        per_cycle *= 2
    return round(threads * mhz / 1000 * per_cycle, 1), {"clock_mhz": mhz,
                                                        "flop_per_cycle_per_core": per_cycle}


_CHILD = """
import json, sys, time
from mnistbench.estimators.cnn import KerasCNNClassifier
from mnistbench.data.datasets import load_mnist
arch, precision, n, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
d = load_mnist()
X, y = d.X_train[:n], d.y_train[:n]
est = KerasCNNClassifier(architecture=arch, precision=precision, epochs=1, min_steps=0,
                         batch_size=batch, random_state=0, monitor=False)
est.fit(X[:1280], y[:1280])
t0 = time.perf_counter(); est.fit(X, y); fit = time.perf_counter() - t0
t0 = time.perf_counter(); est.predict(d.X_test); predict = time.perf_counter() - t0
print(json.dumps({"fit_seconds": fit, "predict_seconds": predict, "n_test": len(d.X_test)}))
"""


def measure(arch, precision, threads):
    from mnistbench.estimators.architectures import build_cnn
    from mnistbench.harness.local import thread_env

    env = {**os.environ, **thread_env(threads), "PYTHONPATH": str(Path(__file__).parent.parent)}
    run = subprocess.run([sys.executable, "-c", _CHILD, arch, precision, str(N_TRAIN), str(BATCH)],
                         capture_output=True, text=True, env=env, check=True)
    timing = json.loads(run.stdout.strip().splitlines()[-1])
    forward, training = flops_per_image(build_cnn((28, 28, 1), 10, architecture=arch))
    train_rate = N_TRAIN / timing["fit_seconds"]
    predict_rate = timing["n_test"] / timing["predict_seconds"]
    peak, basis = peak_gflops(threads, precision)
    achieved = train_rate * training / 1e9
    return {
        "architecture": arch, "precision": precision, "threads": threads,
        "train_images_per_s": round(train_rate, 1),
        "predict_images_per_s": round(predict_rate, 1),
        "forward_mflop_per_image": round(forward / 1e6, 3),
        "train_mflop_per_image": round(training / 1e6, 3),
        "train_gflops": round(achieved, 2),
        "predict_gflops": round(predict_rate * forward / 1e9, 2),
        "peak_gflops": peak, "peak_basis": basis,
        "train_efficiency": round(achieved / peak, 4) if peak else None,
        "n_train": N_TRAIN, "batch_size": BATCH,
        "machine": machine(), "timestamp": now(),
    }


def render():
    records = read_jsonl(OUT)
    rows = [{
        "architecture": r["architecture"], "precision": r["precision"], "threads": r["threads"],
        "train img/s": f"{r['train_images_per_s']:,.0f}",
        "train MFLOP/img": f"{r['train_mflop_per_image']:.1f}",
        "train GFLOP/s": f"{r['train_gflops']:.1f}",
        "peak GFLOP/s": f"{r['peak_gflops']:.0f}" if r["peak_gflops"] else "?",
        "of peak": f"{100 * r['train_efficiency']:.0f} %" if r["train_efficiency"] else "?",
        "predict img/s": f"{r['predict_images_per_s']:,.0f}",
        "machine": r["machine"]["host"], "when": r["timestamp"][:16],
    } for r in records]
    intro = (f"One epoch on {N_TRAIN:,} MNIST images at batch {BATCH} after a warm-up fit, in "
             "a fresh process per row; FLOP counted over the convolution and dense layers "
             "(training = 3x forward, 2x for the first layer); peak = threads x clock x FLOP "
             "per cycle (see the script's docstring).")
    write_page("cnn_throughput", bench_page(
        "CNN training throughput against the CPU's peak", records,
        "python benchmarks/run.py cnn_throughput", intro, rows))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", nargs="*", default=["baseline", "batchnorm", "deep"])
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args()
    if not args.render_only:
        from mnistbench.estimators.devices import cpu_has_native_bf16

        precisions = ["float32"] + (["mixed_bfloat16"] if cpu_has_native_bf16() else [])
        cores = os.cpu_count() or 1
        for threads in sorted({1, cores}):
            for precision in precisions:
                for arch in args.archs:
                    row = measure(arch, precision, threads)
                    append_jsonl(OUT, row)
                    print(f"{arch} {precision} {threads} thread(s): "
                          f"{row['train_images_per_s']:.0f} img/s, {row['train_gflops']:.1f} "
                          f"GFLOP/s ({100 * (row['train_efficiency'] or 0):.0f} % of peak)",
                          file=sys.stderr)
    render()
