"""The content service honours every consumer's HTTP pact, replayed against the local stack.

pact-python's Verifier (the Pact reference verifier, through its FFI) replays each committed
interaction over HTTP against the local API gateway, after setting up the interaction's
provider states through the service's own API (tests/contract/provider/states.py); the states
mint the caller's token, which the verifier puts in each request's Authorization header.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from pact import Verifier

from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from tests.contract.pactfiles import PACTS, PROVIDER
from tests.contract.provider.states import ProviderStates, state_server

pytestmark = pytest.mark.xdist_group("pact-provider")

CONSUMERS = ["authoring", "catalog", "enrollment", "delivery", "sync"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        home=tmp_path_factory.mktemp("home"),
        runner_settings=RunnerSettings(schedules_enabled=False, stream_poll_interval=0.05),
    ) as running:
        yield running


@pytest.fixture(scope="module")
def states(stack: LocalStack) -> ProviderStates:
    return ProviderStates(stack)


@pytest.mark.parametrize("consumer", CONSUMERS)
def test_the_provider_honours_the_consumers_pact(consumer: str, stack: LocalStack, states: ProviderStates):
    pact_file = PACTS / f"{consumer}-{PROVIDER}.json"
    assert pact_file.is_file(), f"{pact_file} is missing: the {consumer} consumer's tests write it"
    with state_server(states) as state_url:
        verifier = (
            Verifier(PROVIDER, host=urlsplit(stack.api_url).hostname)
            .add_transport(url=stack.api_url)
            .add_source(pact_file)
            .state_handler(state_url, body=True)
            .set_error_on_empty_pact(enabled=True)
            .set_request_timeout(30_000)
            .set_coloured_output(enabled=False)
        )
        try:
            verifier.verify()
        except RuntimeError as failure:
            pytest.fail(f"{consumer}'s pact is not honoured:\n{verifier.output(strip_ansi=True)}\n{failure}")
    assert verifier.results["result"], verifier.output(strip_ansi=True)
