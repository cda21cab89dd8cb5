"""The words around the code: README for users (short, its two commands first, its
results section generated from results/), and no issue numbers, commit hashes or machine
anecdotes in the package, its tests, docs, examples or README."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: A commit id: 7 to 40 hex digits with at least one letter and one digit.
COMMIT = re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}\b")
HISTORY = re.compile(r"\bissue \d|this project's machine|\bour machine", re.IGNORECASE)


def _texts():
    yield README
    yield from sorted((ROOT / "mnistbench").rglob("*.py"))
    yield from sorted(p for p in (ROOT / "tests").rglob("*.py") if p.name != "test_docs.py")
    yield from sorted(p for p in (ROOT / "docs").rglob("*.md")
                      if not {"_build", "generated", "auto_examples"} & set(p.parts))
    yield from sorted((ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("path", list(_texts()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_issue_numbers_commit_ids_or_machine_anecdotes(path):
    found = [f"{path.name}:{i}: {line.strip()}" for i, line in
             enumerate(path.read_text().splitlines(), 1)
             if COMMIT.search(line) or HISTORY.search(line)]
    assert found == []


def test_the_grep_finds_what_it_is_for():
    assert COMMIT.search("at commit 8d9cbf1") and HISTORY.search("before issue 12")
    assert not COMMIT.search("2,500 steps, 1234567 images, a sha256 of 64 hex digits " + "ab" * 32)


def test_the_readme_is_short_and_starts_with_its_two_commands():
    text = README.read_text()
    assert len(text.splitlines()) <= 220
    blocks = re.findall(r"```(\w*)\n(.*?)```", text, re.DOTALL)
    assert "-m mnistbench run-all" in blocks[0][1] and "pip install -e ." in blocks[0][1]
    assert '".[test]"' in blocks[1][1] and "-m pytest" in blocks[1][1]


def test_the_readme_results_section_is_the_one_results_holds():
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "readme_results.py"),
                           "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
