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


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """The parts of a pact file that are the contract; the writer's library versions are not."""
    return {
        "consumer": document["consumer"],
        "provider": document["provider"],
        "specification": document.get("metadata", {}).get("pactSpecification"),
        "interactions": sorted(document["interactions"], key=lambda i: json.dumps(i, sort_keys=True)),
    }


def _all_tests_of_module_ran(request: pytest.FixtureRequest) -> bool:
    module = request.module
    defined = {name for name in vars(module) if name.startswith("test_") and callable(vars(module)[name])}
    selected = {item.originalname for item in request.session.items if getattr(item, "module", None) is module}
    return defined <= selected


class ConsumerPacts:
    """One consumer's pact with one provider, built test by test into a scratch file.

    A pact handle cannot take new interactions once a mock server has served it, so each test
    gets a fresh :class:`Pact` (:meth:`new`) and its interactions are merged into the scratch file
    when the test ends (:meth:`keep`).
    """

    def __init__(self, consumer: str, provider: str, scratch: Path) -> None:
        self.consumer, self.provider, self.scratch = consumer, provider, scratch

    def new(self) -> Pact:
        return Pact(self.consumer, self.provider).with_specification("V4")

    def keep(self, pact: Pact) -> None:
        pact.write_file(self.scratch, overwrite=False)

    def check(self) -> None:
        """Compare the scratch pact with the committed one (or, with PACT_UPDATE=1, replace it)."""
        written = self.scratch / pact_path(self.consumer, self.provider).name
        committed = pact_path(self.consumer, self.provider)
        if os.environ.get("PACT_UPDATE") == "1":
            PACTS.mkdir(exist_ok=True)
            shutil.copyfile(written, committed)
            return
        assert committed.is_file(), f"{committed} is not committed: run `make pacts` and commit it"
        fresh, kept = json.loads(written.read_text()), json.loads(committed.read_text())
        assert comparable(fresh) == comparable(kept), (
            f"{committed.name} is stale: the {self.consumer} consumer's tests now expect something else; "
            "run `make pacts` and commit the file"
        )


def consumer_pacts(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, consumer: str, provider: str
) -> Iterator[ConsumerPacts]:
    """A module's pact; when the module is done, its file is checked against pacts/ (see the docstring)."""
    pacts = ConsumerPacts(consumer, provider, tmp_path_factory.mktemp(f"pact-{consumer}-{provider}"))
    yield pacts
    # A partial run (-k, one test) makes a partial pact: there is nothing to compare it with.
    if _all_tests_of_module_ran(request):
        pacts.check()


def fresh_pact(pacts: ConsumerPacts) -> Iterator[Pact]:
    """One test's pact: its interactions join the module's file if the test passed its mock server."""
    pact = pacts.new()
    yield pact
    pacts.keep(pact)
