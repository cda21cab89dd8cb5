"""Your own models beside the zoo: the Python API, --models-from files, installed entry
points, what identifies a model for resuming, and every bad input refused before work."""

import json
import pickle
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier

from mnistbench import CustomModel, learning_curve, load_models_file, run_benchmark
from mnistbench.cli import main
from mnistbench.errors import UsageError
from mnistbench.estimators.features import ImageFlattener
from mnistbench.estimators.user_models import resolve_models
from mnistbench.harness import PRESETS, RecordStore, plan_units

FAST = {"preset": "quick", "quiet": True, "figures": False}


def ridge(alpha=1.0):
    return make_pipeline(ImageFlattener(), RidgeClassifier(alpha=alpha))


def tree(random_state=None):
    """A factory: the harness calls it for each unit with the unit's seed."""
    return make_pipeline(ImageFlattener(rescale=False),
                         DecisionTreeClassifier(max_depth=8, random_state=random_state))


def _records(out):
    return RecordStore(out / "records.jsonl").load()


def _table(out, name):
    return pd.read_csv(out / f"{name}_digits.csv")


# ------------------------------------------------------------------ the comparison
@pytest.mark.e2e
def test_custom_rows_stand_beside_the_registry_rows_and_resume(tmp_path):
    out = tmp_path / "run"
    df = run_benchmark(["digits"], ["logreg", ("ridge", ridge()), ("tree", tree)], output=out,
                       **FAST)
    assert set(df["model"]) == {"logreg", "ridge", "tree"} and (df["status"] == "ok").all()
    results = _table(out, "results")
    mine = results[results["model"] == "ridge"].iloc[0]
    assert mine.notna()[["test_ci_low", "test_ci_high", "cv_ci_low", "group"]].all()
    pairs = _table(out, "significance")
    assert {("logreg", "ridge"), ("logreg", "tree"), ("ridge", "tree")} <= {
        tuple(sorted(p)) for p in zip(pairs["model A"], pairs["model B"], strict=True)}
    assert "ridge" in set(_table(out, "robustness")["model"])
    records = _records(out)
    assert len(records) == 9
    assert {r["origin"] for r in records if r["model"] != "logreg"} == {"python"}

    run_benchmark(["digits"], ["logreg", ("ridge", ridge()), ("tree", tree)], output=out, **FAST)
    assert len(_records(out)) == 9  # the same models: every unit re-used

    run_benchmark(["digits"], ["logreg", ("ridge", ridge(alpha=10.0)), ("tree", tree)],
                  output=out, **FAST)
    redone = _records(out)[9:]
    assert [r["model"] for r in redone] == ["ridge"] * 3  # only the changed model's units


@pytest.mark.e2e
def test_the_command_line_takes_a_models_file_whose_class_lives_in_it(tmp_path, capsys):
    models = tmp_path / "my_models.py"
    models.write_text(textwrap.dedent("""
        import numpy as np
        from sklearn.base import BaseEstimator, ClassifierMixin

        class Centroid(ClassifierMixin, BaseEstimator):
            def __init__(self, shrink=0.0):
                self.shrink = shrink

            def fit(self, X, y):
                X = np.asarray(X, float).reshape(len(X), -1)
                self.classes_ = np.unique(y)
                self.means_ = np.stack([X[y == c].mean(0) for c in self.classes_])
                return self

            def predict(self, X):
                X = np.asarray(X, float).reshape(len(X), -1)
                d = ((X[:, None, :] - self.means_[None]) ** 2).sum(-1)
                return self.classes_[d.argmin(1)]

        MODELS = {"centroid": Centroid()}
    """))
    out = tmp_path / "run"
    code = main(["run", "--datasets", "digits", "--models", "svc", "--models-from",
                 str(models), "--preset", "quick", "--no-figures", "--output", str(out)])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert "centroid" in stdout and "svc" in stdout
    assert f"running {models}" in err and "as `python" in err  # it says the file's code runs
    mine = [r for r in _records(out) if r["model"] == "centroid"]
    assert len(mine) == 3 and all(r["status"] == "ok" for r in mine)
    assert mine[0]["origin"] == f"file {models}" and mine[0]["accuracy"] > 0.8

    assert main(["list", "--models-from", str(models)]) == 0
    listed = capsys.readouterr().out
    assert "centroid" in listed and f"[classic; file {models}]" in listed


def test_a_file_model_is_loaded_again_where_it_is_used_and_checked_by_content(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("from sklearn.tree import DecisionTreeClassifier\n"
                    "MODELS = {'t': DecisionTreeClassifier(max_depth=3)}\n")
    spec = load_models_file(path)["t"]
    sent = pickle.loads(pickle.dumps(spec))  # as a worker process receives it
    assert sent.make is None and sent.build(random_state=1).get_params()["model__max_depth"] == 3
    path.write_text(path.read_text().replace("max_depth=3", "max_depth=4"))
    with pytest.raises(UsageError, match=r"the code of model 't' changed during the run .*m\.py"):
        pickle.loads(pickle.dumps(spec)).build()


@pytest.mark.e2e
def test_a_custom_grid_gives_a_tuned_row(tmp_path):
    mine = CustomModel(ridge(), grid={"ridgeclassifier__alpha": [0.1, 10.0]})
    df = run_benchmark(["digits"], {"ridge": mine}, output=tmp_path, tune=True,
                       robustness=False, **FAST)
    assert set(df["model"]) == {"ridge", "ridge-tuned"} and (df["status"] == "ok").all()
    tuned = [r for r in _records(tmp_path) if r["model"] == "ridge-tuned"]
    assert {r["search"]["best_params"]["ridgeclassifier__alpha"] for r in tuned} <= {0.1, 10.0}


@pytest.mark.e2e
def test_a_custom_model_takes_part_in_the_learning_curve(tmp_path):
    df = learning_curve(["digits"], [("ridge", ridge())], sizes=[100], seeds=1,
                        output=tmp_path, quiet=True, figures=False)
    assert set(df["model"]) == {"ridge"} and set(df["family"]) == {"classic"}
    assert (df["failed"] == 0).all() and df["accuracy_mean"].iloc[0] > 0.5


# ------------------------------------------------------------------ building and identity
def test_an_estimator_is_cloned_with_the_seed_and_a_factory_called_with_it():
    forest = make_pipeline(ImageFlattener(), RandomForestClassifier(n_estimators=5))
    specs = resolve_models({"tree": tree, "forest": forest, "lr": LogisticRegression})
    built = {s.name: s.build(random_state=7, device="cpu", n_jobs=1) for s in specs}
    assert built["tree"].get_params()["decisiontreeclassifier__random_state"] == 7
    assert built["forest"].get_params()["randomforestclassifier__random_state"] == 7
    assert built["forest"] is not forest and forest.get_params()[
        "randomforestclassifier__random_state"] is None  # the user's object is untouched
    lr = built["lr"].named_steps["model"]  # a plain estimator gets flat rows
    assert isinstance(lr, LogisticRegression) and lr.random_state == 7


def test_identity_is_stable_and_sees_nested_parameters():
    def identity(est):
        return resolve_models([("m", est)])[0].identity

    assert identity(ridge()) == identity(ridge()) != identity(ridge(alpha=2.0))
    text = json.dumps(identity(ridge()))
    assert "RidgeClassifier" in text and " at 0x" not in text
    # how fast it runs is not what it is
    assert identity(RandomForestClassifier(n_jobs=1)) == identity(RandomForestClassifier(n_jobs=2))
    code = ("import json; from sklearn.linear_model import RidgeClassifier; "
            "from sklearn.pipeline import make_pipeline; "
            "from mnistbench.estimators.features import ImageFlattener; "
            "from mnistbench.estimators.user_models import resolve_models; "
            "print(json.dumps(resolve_models([('m', make_pipeline(ImageFlattener(), "
            "RidgeClassifier()))])[0].identity))")
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout
    assert json.loads(fresh) == identity(ridge())  # another process, the same identity


def test_a_pipeline_ending_in_the_cnn_is_deep_and_takes_the_budget_on_its_final_step():
    from mnistbench.estimators.cnn import KerasCNNClassifier
    from mnistbench.harness import run_unit

    deep = resolve_models([("net", make_pipeline(KerasCNNClassifier(architecture="baseline")))])
    assert deep[0].family == "deep"
    unit = plan_units(["digits"], deep, PRESETS["quick"])[-1]
    assert unit.params == {"kerascnnclassifier__epochs": 2, "kerascnnclassifier__batch_size": 64,
                           "kerascnnclassifier__min_steps": 0}
    record = run_unit(unit)
    assert record["budget"]["epochs"] == 2 and len(record["history"]["loss"]) == 2
    # a family given by the caller decides the budget; keys the model lacks are left out
    forced = resolve_models({"r": CustomModel(ridge(), family="deep")})
    assert forced[0].family == "deep"
    assert plan_units(["digits"], forced, PRESETS["quick"])[0].params == {}


# ------------------------------------------------------------------ installed entry points
@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A distribution on sys.path with a ``mnistbench.models`` entry point, as pip would
    install it: a module, and a dist-info folder naming the entry points."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "mb_plugin.py").write_text(textwrap.dedent("""
        from sklearn.linear_model import RidgeClassifier
        from sklearn.pipeline import make_pipeline
        from mnistbench.estimators.features import ImageFlattener

        def ridge(random_state=None):
            return make_pipeline(ImageFlattener(), RidgeClassifier())
    """))
    dist = site / "mb_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mb-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[mnistbench.models]\nplugin-ridge = mb_plugin:ridge\n"
        "broken = mb_plugin_missing:thing\nsvc = mb_plugin:ridge\n")
    monkeypatch.syspath_prepend(str(site))
    return site


@pytest.mark.e2e
def test_an_installed_entry_point_is_listed_and_runs_when_named(installed_plugin, tmp_path,
                                                               capsys):
    assert main(["list"]) == 0
    listed = capsys.readouterr().out
    assert "plugin-ridge" in listed and "entry point plugin-ridge (mb-plugin)]" in listed
    assert "entry point broken (mb-plugin) left out: ModuleNotFoundError" in listed
    assert "entry point svc (mb-plugin) left out" in listed  # never replaces the built-in
    assert "plugin-ridge" in {s.name for s in resolve_models("all")}
    out = tmp_path / "run"
    code = main(["run", "--datasets", "digits", "--models", "logreg", "plugin-ridge",
                 "--preset", "quick", "--no-figures", "--no-robustness", "-q", "--output",
                 str(out)])
    assert code == 0, capsys.readouterr().err
    assert {r["model"] for r in _records(out) if r["status"] == "ok"} == {"logreg",
                                                                          "plugin-ridge"}


# ------------------------------------------------------------------ bad input, before work
class NoPredict:
    def fit(self, X, y):
        return self

    def get_params(self, deep=True):
        return {}


def _raises():
    raise RuntimeError("boom")


BAD_MODELS = [
    ([("x", 42)], r"model 'x' \(python\) is int 42, not an estimator or a factory"),
    ([("x", NoPredict())], r"it is NoPredict, which has no predict"),
    ([("x", _raises)], r"building it raised RuntimeError: boom"),
    ([("x", lambda: 3)], r"its factory returned int, which has no fit or predict"),
    ([("my/model", ridge())], r"'my/model'.*no spaces or '/'"),
    ([("my model", ridge())], r"'my model'.*no spaces or '/'"),
    ([("svc", ridge())], r"'svc' \(python\) is a built-in model's name"),
    ([("x-tuned", ridge())], r"'x-tuned' \(python\) is reserved"),
    ([("a", ridge()), ("a", ridge(alpha=3.0))], r"two different models are named 'a'"),
    ({"r": CustomModel(ridge(), family="shallow")}, r"family='shallow'"),
    ({"r": CustomModel(ridge(), grid=[1, 2])}, r"grid=\[1, 2\] is not a dict"),
    (["no-such-model"], r"unknown model 'no-such-model'.*--models-from"),
    ([3.5], r"3.5 is not a model name, a \(name, estimator\) pair"),
]


@pytest.mark.e2e
@pytest.mark.parametrize("models, message", BAD_MODELS, ids=[m for _, m in BAD_MODELS])
def test_a_bad_model_is_refused_before_any_work(tmp_path, models, message):
    with pytest.raises(UsageError, match=message):
        run_benchmark(["digits"], models, output=tmp_path / "out", **FAST)
    assert not (tmp_path / "out").exists()


@pytest.mark.e2e
def test_a_model_that_cannot_reach_the_workers_is_refused(tmp_path):
    class Local(RidgeClassifier):  # a class inside a function cannot be pickled
        pass

    with pytest.raises(UsageError, match="cannot be sent to the worker processes.*top level"):
        run_benchmark(["digits"], [("local", Local())], output=tmp_path / "out", **FAST)
    assert not (tmp_path / "out").exists()


def test_the_example_models_file_loads():
    import pathlib

    path = pathlib.Path(__file__).parents[2] / "examples" / "my_models.py"
    specs = load_models_file(path)
    assert set(specs) == {"mlp", "knn"} and {s.family for s in specs.values()} == {"classic"}
    assert specs["mlp"].summary.startswith("A one-hidden-layer perceptron")
