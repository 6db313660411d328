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
# The tests that may kill a package's mutants: its own unit tests, and for the domain also the use
# cases' and events' unit tests that drive it (they are pure and quick; tests/unit/local starts
# processes and is left out, tests/unit/api is slow under mutmut's tracing).
TESTS = {
    "domain": ("tests/unit/domain/", "tests/unit/service/", "tests/unit/events/"),
    # The device-state MAC (crypto/state_mac.py) is exercised by the device state's tests only.
    "crypto": ("tests/unit/crypto/", "tests/unit/device/test_state.py"),
    "packaging": ("tests/unit/packaging/",),
}
QUALITY = ROOT / "QUALITY.md"
# The tests read files next to them and what they check the code against: docs/ (schemas, formats),
# events/ (the sample payloads), template.yaml and functions/ (the local stack's view of the stack).
COPIED = ("tests", "docs", "events", "functions", "template.yaml", "samconfig.toml")
MUTMUT = Path(sys.executable).with_name("mutmut")


def stage(target: str) -> Path:
    """A copy of the tree where mutmut mutates ``content_service/<target>`` only."""
    staging = ROOT / ".mutation" / target
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    shutil.copytree(PACKAGE.parent, staging / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for tree in COPIED:
        if (ROOT / tree).is_file():
            shutil.copy2(ROOT / tree, staging / tree)
        else:
            shutil.copytree(ROOT / tree, staging / tree, ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pyproject = re.sub(r'(?m)^pythonpath = .*$', 'pythonpath = ["src", "."]', pyproject)
    if "pythonpath" not in pyproject:
        pyproject = pyproject.replace('testpaths = ["tests"]', 'testpaths = ["tests"]\npythonpath = ["src", "."]')
    (staging / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    (staging / "setup.cfg").write_text(
        "[mutmut]\nsource_paths = src/\n"
        f"only_mutate = src/content_service/{target}/*\n"
        "pytest_add_cli_args_test_selection =\n" + "".join(f"    {tests}\n" for tests in TESTS[target]) +
        "also_copy =\n" + "".join(f"    {tree}\n" for tree in COPIED),
        encoding="utf-8",
    )
    return staging


def refresh_tests(staging: Path) -> None:
    """Copy the current tests (and what they read) over a staging copy's, keeping mutmut's results."""
    for tree in COPIED:
        if (ROOT / tree).is_file():
            shutil.copy2(ROOT / tree, staging / tree)
        else:
            shutil.rmtree(staging / tree, ignore_errors=True)
            shutil.copytree(ROOT / tree, staging / tree, ignore=shutil.ignore_patterns("__pycache__", "node_modules"))


def results(staging: Path, environment: dict[str, str]) -> dict[str, str]:
    """mutmut's status of every mutant of the staging copy, by mutant name."""
    listed = subprocess.run(
        [str(MUTMUT), "results", "--all", "true"], cwd=staging, env=environment, capture_output=True, text=True
    )
    return {
        name.strip(): status.strip()
        for name, _, status in (line.rpartition(": ") for line in listed.stdout.splitlines())
        if name.strip()
    }


def run(target: str, workers: int, *, resume: bool) -> tuple[Counter[str], float]:
    """Mutate ``target`` and run its tests against every mutant.

    With ``resume`` (and a staging copy from an earlier run) only the mutants that were not
    killed are run again, against the current tests: mutmut collects coverage for new tests
    itself, and a killed mutant stays killed because the tests only grow.
    """
    staging = ROOT / ".mutation" / target
    environment = {**os.environ, "PYTHONPATH": "src"}
    names: list[str] = []
    if resume and (staging / "mutants").is_dir():
        refresh_tests(staging)
        names = [name for name, status in results(staging, environment).items() if status not in KILLED]
    else:
        staging = stage(target)
    started = time.monotonic()
    subprocess.run(
        [str(MUTMUT), "run", "--max-children", str(workers), *names], cwd=staging, env=environment, check=False
    )
    statuses = Counter(results(staging, environment).values())
    return statuses, time.monotonic() - started


KILLED = ("killed", "timeout")


def score(statuses: Counter[str]) -> float:
    killed = sum(statuses[status] for status in KILLED)
    total = sum(statuses.values()) - statuses["skipped"]
    return 100.0 * killed / total if total else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="+", choices=sorted(TESTS))
    parser.add_argument("--workers", type=int, default=1, help="mutmut children (the CPU is shared)")
    parser.add_argument("--resume", action="store_true", help="rerun only the mutants an earlier run did not kill")
    parser.add_argument("--min-domain", type=float, default=80.0, help="fail below this domain score")
    arguments = parser.parse_args()
    text = QUALITY.read_text(encoding="utf-8") if QUALITY.exists() else "# Quality gates\n\n"
    # One row per package, each with the run that measured it: a run of one package keeps the others'.
    # The section ends at the next heading of any level (QUALITY.md's notes on survivors follow it).
    section_pattern = re.compile(r"## Mutation score\n.*?(?=\n##+ |\Z)", re.DOTALL)
    previous = section_pattern.search(text)
    rows = dict(re.findall(r"(?m)^\| `(\w+)` (\|.*\|)$", previous.group(0) if previous else ""))
    failed = False
    flag = " --resume" if arguments.resume else ""
    for target in arguments.targets:
        statuses, seconds = run(target, arguments.workers, resume=arguments.resume)
        value = score(statuses)
        detail = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        rows[target] = f"| {value:.1f} % | {detail} | `tools/mutation.py {target}{flag}` | {when} | {seconds:.0f} s |"
        print(f"{target}: {value:.1f} % ({detail})")  # noqa: T201
        if target == "domain" and value < arguments.min_domain:
            failed = True
    section = (
        "## Mutation score\n\n"
        f"`make mutation` (`nice -n 19 python tools/mutation.py domain crypto packaging`; mutmut 3.8.1, "
        f"{arguments.workers} child; score = killed or timed out / all mutants but skipped, `no tests` and "
        f"`not checked` count as survived; the domain gate is {arguments.min_domain:.0f} %)\n\n"
        "| package | score | mutants | run | date | time |\n| --- | --- | --- | --- | --- | --- |\n"
        + "\n".join(f"| `{name}` {row}" for name, row in sorted(rows.items()))
        + "\n"
    )
    if previous:
        text = text[: previous.start()] + section + text[previous.end() :]
    else:
        text = text.rstrip() + "\n\n" + section
    QUALITY.write_text(text, encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
