"""mypy on shop/, against a baseline of known errors that may only shrink.

mypy runs with the settings in pyproject.toml ([tool.mypy]). Every error it reports
becomes a key without its line number, "<file>: [<code>] <message>", so that moving
code around changes nothing; tests/mypy-baseline.txt lists the known ones, one key a
line, sorted, a key that occurs n times written n times. The test fails

- when mypy reports an error the baseline does not list (or more often than it lists
  it): fix it. Only when it cannot be fixed, add its key to the baseline by hand, where
  a reviewer sees it;
- when the baseline lists an error that no longer occurs: delete those lines, or run

      UPDATE_MYPY_BASELINE=1 pytest tests/test_types.py

  which rewrites the baseline without them. That never adds a line: the baseline only
  shrinks.
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "tests" / "mypy-baseline.txt"
UPDATE = os.environ.get("UPDATE_MYPY_BASELINE") == "1"

# "shop/app.py:12: error: Name "x" is not defined  [name-defined]"
ERROR = re.compile(
    r"^(?P<file>[^:\s][^:]*):(?:(?P<line>\d+):)?(?:\d+:)? error: (?P<message>.*?)"
    r"(?:  \[(?P<code>[a-z0-9-]+)\])?$"
)


def key(file: str, code: str | None, message: str) -> str:
    return f"{file.replace(os.sep, '/')}: [{code or 'misc'}] {message}"


def run_mypy() -> list[tuple[str, str]]:
    """mypy's errors on shop/ as (key, the error as mypy printed it, with its line)."""
    if importlib.util.find_spec("mypy") is None:
        raise AssertionError("mypy is not installed: pip install -e '.[test]'")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "pyproject.toml",
         "--no-pretty", "--no-error-summary", "--show-error-codes", "--no-color-output",
         "--hide-error-context", "shop"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    if result.returncode not in (0, 1):
        raise AssertionError(f"mypy did not run (exit {result.returncode}):\n"
                             f"{result.stdout}{result.stderr}")
    errors = []
    for line in result.stdout.splitlines():
        if ": note: " in line or not line.strip():
            continue
        found = ERROR.match(line)
        if found is None:
            raise AssertionError(f"An output line of mypy this test cannot read:\n{line}")
        errors.append((key(found["file"], found["code"], found["message"]), line))
    if result.returncode == 1 and not errors:
        raise AssertionError(f"mypy failed without an error this test can read:\n"
                             f"{result.stdout}{result.stderr}")
    return errors


def read_baseline() -> tuple[list[str], Counter[str]]:
    """The baseline's header (its leading comment lines) and its keys, counted."""
    if not BASELINE.exists():
        raise AssertionError(f"{BASELINE.relative_to(ROOT)} is missing; "
                             "an empty file means that mypy must find no error")
    header, keys = [], Counter()
    for line in BASELINE.read_text().splitlines():
        if line.startswith("#") and not keys:
            header.append(line)
        elif line.strip() and not line.startswith("#"):
            keys[line.rstrip()] += 1
    return header, keys


def write_baseline(header: list[str], keys: Counter[str]) -> None:
    lines = header + sorted(keys.elements())
    BASELINE.write_text("".join(f"{line}\n" for line in lines))


def test_mypy_finds_no_error_beyond_the_baseline():
    errors = run_mypy()
    found = Counter(k for k, _ in errors)
    header, known = read_baseline()
    new = found - known
    gone = known - found

    if UPDATE and gone:
        write_baseline(header, known & found)  # only ever removes lines
    problems = []
    if new:
        report = []
        for k, extra in sorted(new.items()):
            seen = [line for e, line in errors if e == k]
            allowed = known[k]
            report.append(f"  {k}\n"
                          + (f"    ({extra} more than the baseline's {allowed}; all of them:)\n"
                             if allowed else "")
                          + "".join(f"    {line}\n" for line in seen))
        problems.append(
            "mypy reports errors that tests/mypy-baseline.txt does not list. Fix them; "
            "UPDATE_MYPY_BASELINE=1 never adds to the baseline (add a line by hand only "
            "when an error cannot be fixed):\n" + "".join(report))
    if gone and not UPDATE:
        problems.append(
            "Errors in tests/mypy-baseline.txt that mypy no longer reports: delete these "
            "lines (one line per occurrence), or run "
            "UPDATE_MYPY_BASELINE=1 pytest tests/test_types.py:\n"
            + "".join(f"  {k}" + (f"   (delete {n} of these lines)" if n > 1 else "") + "\n"
                      for k, n in sorted(gone.items())))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
