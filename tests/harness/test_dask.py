"""run-all on Dask: a LocalCluster with 2 workers gives the sequential run's records,
and a unit whose worker dies is run again elsewhere."""

import json
import os
import sys
from pathlib import Path

import pytest

distributed = pytest.importorskip("dask.distributed")

from mnistbench.harness import PRESETS, run_benchmark  # noqa: E402 - only where Dask is installed

MODELS = ["logreg", "svc", "random-forest"]
SPLITS = sorted([f"fold-{k}" for k in range(1, PRESETS["quick"].cv + 1)] + ["test"])


def _records(out):
    return [json.loads(line) for line in open(Path(out) / "records.jsonl")]


def _scores(records):
    return {(r["dataset"], r["model"], r["split"]): (r["status"], r["accuracy"], r["n_train"])
            for r in records}


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    out = tmp_path_factory.mktemp("seq")
    run_benchmark(["digits"], MODELS, preset="quick", output=out, quiet=True, figures=False)
    return _records(out)


@pytest.mark.e2e
def test_local_cluster_gives_the_sequential_records(tmp_path, sequential):
    df = run_benchmark(["digits"], MODELS, preset="quick", output=tmp_path, quiet=True,
                       figures=False, backend="dask", n_jobs=2)
    records = _records(tmp_path)
    assert len(records) == len(sequential) == len(MODELS) * len(SPLITS)  # each exactly once
    assert _scores(records) == _scores(sequential)
    assert (df["status"] == "ok").all()
    # the store is the same kind of store: a second run finds everything done
    run_benchmark(["digits"], MODELS, preset="quick", output=tmp_path, quiet=True,
                  figures=False, backend="dask", n_jobs=2)
    assert len(_records(tmp_path)) == len(records)


class KillFirstTask(distributed.WorkerPlugin):
    """Kills the worker process the first time any task starts on any worker."""

    def __init__(self, marker):
        self.marker = str(marker)

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and not os.path.exists(self.marker):
            Path(self.marker).write_text(str(os.getpid()))
            os._exit(1)


@pytest.mark.e2e
def test_a_lost_worker_s_unit_is_retried(tmp_path, sequential):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    marker = tmp_path / "killed"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.register_plugin(KillFirstTask(marker))
        run_benchmark(["digits"], ["logreg"], preset="quick", output=tmp_path / "out",
                      quiet=True, figures=False, scheduler=cluster.scheduler_address)
    assert marker.exists()  # a worker really died mid-unit
    records = _records(tmp_path / "out")
    assert sorted(r["split"] for r in records) == SPLITS
    assert all(r["status"] == "ok" for r in records)
    expected = {k: v for k, v in _scores(sequential).items() if k[1] == "logreg"}
    assert _scores(records) == expected


@pytest.mark.e2e
def test_timeout_is_refused_with_dask(tmp_path):
    with pytest.raises(ValueError, match="--timeout works with the local backend only"):
        run_benchmark(["digits"], ["logreg"], preset="quick", output=tmp_path, quiet=True,
                      backend="dask", timeout=10)


@pytest.mark.e2e
def test_a_models_file_is_loaded_again_on_each_dask_worker(tmp_path):
    """Its class lives only in the file: a worker loads the file rather than unpickle it."""
    from mnistbench import load_models_file

    path = tmp_path / "mine.py"
    path.write_text("from sklearn.linear_model import RidgeClassifier\n"
                    "class Flat(RidgeClassifier):\n"
                    "    def fit(self, X, y):\n"
                    "        return super().fit(X.reshape(len(X), -1), y)\n"
                    "    def predict(self, X):\n"
                    "        return super().predict(X.reshape(len(X), -1))\n"
                    "MODELS = {'flat-ridge': Flat()}\n")
    df = run_benchmark(["digits"], list(load_models_file(path).values()), preset="quick",
                       output=tmp_path / "out", quiet=True, figures=False, robustness=False,
                       backend="dask", n_jobs=2)
    assert list(df["model"]) == ["flat-ridge"] and (df["status"] == "ok").all()
    assert len(_records(tmp_path / "out")) == len(SPLITS)


@pytest.mark.e2e
def test_a_lost_scheduler_is_one_line_exit_3_and_keeps_the_records(tmp_path):
    """The scheduler killed mid-run: the units it held are recorded as failed with one
    line each, one closing line, no traceback, exit 3; finished units stay recorded."""
    import signal
    import socket
    import subprocess
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bin_dir = Path(sys.executable).parent
    address = f"tcp://127.0.0.1:{port}"
    scheduler = subprocess.Popen([str(bin_dir / "dask"), "scheduler", "--port", str(port),
                                  "--no-dashboard", "--host", "127.0.0.1"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([str(bin_dir / "dask"), "worker", address, "--nthreads", "1",
                               "--no-dashboard"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    out = tmp_path / "out"
    try:
        run = subprocess.Popen(
            [sys.executable, "-m", "mnistbench", "run", "--datasets", "digits", "--models",
             "logreg", "cnn-deep", "--preset", "quick", "--no-figures", "--no-robustness",
             "--scheduler", address, "--output", str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and run.poll() is None:
            records = out / "records.jsonl"
            if records.exists() and records.read_text().count("\n") >= 1:
                break  # a unit finished: now lose the scheduler
            time.sleep(0.2)
        scheduler.send_signal(signal.SIGKILL)
        _, err = run.communicate(timeout=240)
    finally:
        for proc in (scheduler, worker):
            proc.kill()
            proc.wait()
    lines = _records(out)
    if all(r["status"] == "ok" for r in lines):
        pytest.skip("every unit finished before the scheduler was killed")
    assert run.returncode == 3, err
    assert "Traceback" not in err, err
    assert f"the Dask scheduler at {address} was lost: " in err
    assert any(r["status"] == "ok" for r in lines)  # what finished is kept
    failed = [r for r in lines if r["status"] != "ok"]
    assert {r["error"] for r in failed} == {f"the Dask scheduler at {address} was lost during "
                                            "the run"}
