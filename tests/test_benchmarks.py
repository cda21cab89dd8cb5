"""The maintained benchmarks: at most ten, every script in benchmarks/ reachable through
the one runner, and each answering --help without measuring anything."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


def _runner():
    sys.path.insert(0, str(BENCH))
    try:
        import run
    finally:
        sys.path.remove(str(BENCH))
    return run


def test_at_most_ten_benchmarks_and_every_script_is_one_of_them():
    run = _runner()
    scripts = {p.stem for p in BENCH.glob("*.py")} - {"_common", "run"}
    assert len(run.BENCHMARKS) <= 10
    assert scripts == set(run.BENCHMARKS)


def test_every_benchmark_answers_help_through_the_runner_and_an_unknown_name_is_one_line():
    code = (f"import sys; sys.path.insert(0, {str(BENCH)!r}); import run\n"
            "for name in run.BENCHMARKS:\n"
            "    try:\n"
            "        run.main([name, '--help'])\n"
            "    except SystemExit as exc:\n"
            "        assert exc.code == 0, (name, exc.code)\n"
            "    else:\n"
            "        raise AssertionError(name + ' ran instead of printing its help')\n"
            "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]
    listed = subprocess.run([sys.executable, str(BENCH / "run.py"), "--list"],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0
    assert all(name in listed.stdout for name in _runner().BENCHMARKS)
    wrong = subprocess.run([sys.executable, str(BENCH / "run.py"), "cnn_time_to_99"],
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and len(wrong.stderr.strip().splitlines()) == 1
    assert "unknown benchmark 'cnn_time_to_99'" in wrong.stderr


def test_the_retired_experiments_have_their_decision_pages_and_provenance():
    readme = (ROOT / "results" / "experiments" / "README.md").read_text()
    pages = {p.stem for p in (ROOT / "docs" / "decisions").glob("*.md")} - {"index"}
    index = (ROOT / "docs" / "decisions" / "index.md").read_text()
    assert pages
    for name in pages:
        assert f"<!-- {name}:start -->" in readme and f"<!-- {name}:end -->" in readme
        assert name in index
        text = (ROOT / "docs" / "decisions" / f"{name}.md").read_text()
        assert "**Question.**" in text and "**Decision.**" in text
        assert "results/experiments/" in text
