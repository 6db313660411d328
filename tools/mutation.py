"""Mutation testing (mutmut) of one or more packages, with the score written to QUALITY.md.

mutmut 3 finds code under ``src/``, ``source/`` or the root and imports what it mutated from its
own ``mutants/`` copy, but our package lives in ``shared/`` and the editable install would win. So
each run happens in a staging copy (``.mutation/<package>``): ``shared/`` becomes ``src/``, pytest
gets ``pythonpath = src`` and everything but the package under test is listed in
``do_not_mutate``. Usage::

    python tools/mutation.py domain crypto packaging [--min-domain 80] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "shared" / "content_service"
TESTS = {"domain": "tests/unit/", "crypto": "tests/unit/crypto/", "packaging": "tests/unit/packaging/"}
QUALITY = ROOT / "QUALITY.md"
# The tests read files next to them and the documents they check the code against (docs/schemas, ...).
COPIED = ("tests", "docs")
MUTMUT = Path(sys.executable).with_name("mutmut")


def stage(target: str) -> Path:
    """A copy of the tree where mutmut mutates ``content_service/<target>`` only."""
    staging = ROOT / ".mutation" / target
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    shutil.copytree(PACKAGE.parent, staging / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for tree in COPIED:
        shutil.copytree(ROOT / tree, staging / tree, ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pyproject = re.sub(r'(?m)^pythonpath = .*$', 'pythonpath = ["src", "."]', pyproject)
    if "pythonpath" not in pyproject:
        pyproject = pyproject.replace('testpaths = ["tests"]', 'testpaths = ["tests"]\npythonpath = ["src", "."]')
    (staging / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    (staging / "setup.cfg").write_text(
        "[mutmut]\nsource_paths = src/\n"
        f"only_mutate = src/content_service/{target}/*\n"
        f"pytest_add_cli_args_test_selection = {TESTS[target]}\n"
        "also_copy =\n" + "".join(f"    {tree}/\n" for tree in COPIED),
        encoding="utf-8",
    )
    return staging


def run(target: str, workers: int) -> tuple[Counter[str], float]:
    staging = stage(target)
    environment = {**os.environ, "PYTHONPATH": "src"}
    started = time.monotonic()
    subprocess.run([str(MUTMUT), "run", "--max-children", str(workers)], cwd=staging, env=environment, check=False)
    results = subprocess.run(
        [str(MUTMUT), "results", "--all", "true"], cwd=staging, env=environment, capture_output=True, text=True
    )
    statuses = Counter(line.rsplit(": ", 1)[-1].strip() for line in results.stdout.splitlines() if ": " in line)
    return statuses, time.monotonic() - started


def score(statuses: Counter[str]) -> float:
    killed = statuses["killed"] + statuses["timeout"]
    total = sum(statuses.values()) - statuses["skipped"]
    return 100.0 * killed / total if total else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="+", choices=sorted(TESTS))
    parser.add_argument("--workers", type=int, default=1, help="mutmut children (the CPU is shared)")
    parser.add_argument("--min-domain", type=float, default=80.0, help="fail below this domain score")
    arguments = parser.parse_args()
    rows, failed = [], False
    for target in arguments.targets:
        statuses, seconds = run(target, arguments.workers)
        value = score(statuses)
        detail = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
        rows.append(f"| `{target}` | {value:.1f} % | {detail} | {seconds:.0f} s |")
        print(f"{target}: {value:.1f} % ({detail})")  # noqa: T201
        if target == "domain" and value < arguments.min_domain:
            failed = True
    command = "make mutation  # python tools/mutation.py " + " ".join(arguments.targets)
    section = (
        "## Mutation score\n\n"
        f"`{command}` (mutmut, {arguments.workers} workers; score = killed or timed out / all mutants "
        "but skipped; `no tests` counts as survived)\n\n"
        "| package | score | mutants | time |\n| --- | --- | --- | --- |\n" + "\n".join(rows) + "\n"
    )
    text = QUALITY.read_text(encoding="utf-8") if QUALITY.exists() else "# Quality gates\n\n"
    text = re.sub(r"## Mutation score\n.*?(?=\n## |\Z)", "", text, flags=re.DOTALL).rstrip() + "\n\n" + section
    QUALITY.write_text(text, encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
