"""Where the committed pact files live, and the check that a consumer test's pact matches its file.

Each consumer test module builds one :class:`pact.Pact`, adds its interactions test by test and,
when the module is done, writes the pact to a scratch folder and compares it with the committed
file. A difference fails the run (the committed contract is stale) unless ``PACT_UPDATE=1`` is
set, in which case the committed file is rewritten (``make pacts``). The provider verification
replays the committed files, so what is verified is what the consumers' tests last produced.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pact import Pact

PACTS = Path(__file__).parent / "pacts"
PROVIDER = "content-service"
EVENTS_PROVIDER = "content-service-events"


def pact_path(consumer: str, provider: str) -> Path:
    return PACTS / f"{consumer}-{provider}.json"


def _key(interaction: dict[str, Any]) -> str:
    return json.dumps([interaction["description"], interaction.get("providerStates", [])], sort_keys=True)


def interactions(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A pact file's interactions by description and states (what the writer's versions do not change)."""
    return {_key(i): i for i in document["interactions"]}


def _tests_of(module: object) -> set[str]:
    return {name for name, value in vars(module).items() if name.startswith("test_") and callable(value)}


class ConsumerPacts:
    """One consumer's pact with one provider, built test by test into a scratch file.

    A pact handle cannot take new interactions once a mock server has served it, so each test
    gets a fresh :class:`Pact` (:func:`fresh_pact`) and its interactions are merged into the
    scratch file when the test ends. Under pytest-xdist one module's tests may run in several
    workers, so each instance checks what it wrote: every interaction it made must be in the
    committed file as it is; an instance that ran all of the module's tests also checks that the
    committed file holds nothing else.
    """

    def __init__(self, consumer: str, provider: str, scratch: Path, module: object) -> None:
        self.consumer, self.provider, self.scratch = consumer, provider, scratch
        self.tests = _tests_of(module)
        self.ran: set[str] = set()

    @property
    def committed(self) -> Path:
        return pact_path(self.consumer, self.provider)

    def new(self) -> Pact:
        return Pact(self.consumer, self.provider).with_specification("V4")

    def keep(self, pact: Pact, test: str) -> None:
        pact.write_file(self.scratch, overwrite=False)
        self.ran.add(test)

    def check(self) -> None:
        """Compare the scratch pact with the committed one (or, with PACT_UPDATE=1, replace it)."""
        written = self.scratch / self.committed.name
        if not written.is_file():
            return
        complete = self.tests <= self.ran
        if os.environ.get("PACT_UPDATE") == "1":
            assert complete, f"PACT_UPDATE=1 needs all of {self.consumer}'s tests in one process (no -n, no -k)"
            PACTS.mkdir(exist_ok=True)
            shutil.copyfile(written, self.committed)
            return
        stale = f"{self.committed.name} is stale: the {self.consumer} consumer's tests now expect something else; run `make pacts` and commit the file"
        assert self.committed.is_file(), f"{self.committed} is not committed: run `make pacts` and commit it"
        fresh = interactions(json.loads(written.read_text()))
        kept = interactions(json.loads(self.committed.read_text()))
        changed = sorted(fresh[k]["description"] for k in fresh if fresh[k] != kept.get(k))
        assert not changed, f"{stale}; changed or new: {changed}"
        if complete:
            gone = sorted(kept[k]["description"] for k in kept.keys() - fresh.keys())
            assert not gone, f"{stale}; no longer expected: {gone}"


def consumer_pacts(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, consumer: str, provider: str
) -> Iterator[ConsumerPacts]:
    """A module's pact; when the module is done here, what it wrote is checked against pacts/."""
    pacts = ConsumerPacts(
        consumer, provider, tmp_path_factory.mktemp(f"pact-{consumer}-{provider}"), request.module
    )
    yield pacts
    pacts.check()


def fresh_pact(pacts: ConsumerPacts, request: pytest.FixtureRequest) -> Iterator[Pact]:
    """One test's pact: its interactions join the module's scratch file when the test ends."""
    pact = pacts.new()
    yield pact
    pacts.keep(pact, request.node.originalname)
