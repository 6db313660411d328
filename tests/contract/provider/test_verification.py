"""The content service honours every consumer's pact, replayed against the local stack.

pact-python's Verifier (the Pact reference verifier, through its FFI) replays each committed
interaction over HTTP against the local API gateway, after setting up the interaction's
provider states through the service's own API (tests/contract/provider/states.py); the states
mint the caller's token, which the verifier puts in each request's Authorization header. The message pacts are verified with the
events the real fan_out publishes on the bus after the same actions (provider/events.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from pact import Pact, Verifier

from content_service.local.runner import RunnerSettings
from content_service.local.stack import LocalStack
from tests.contract.consumers.terms import bearer, from_state
from tests.contract.pactfiles import EVENTS_PROVIDER, PACTS, PROVIDER
from tests.contract.provider.events import BusObserver, EventProducer
from tests.contract.provider.states import ProviderStates, state_server

pytestmark = pytest.mark.xdist_group("pact-provider")

CONSUMERS = ["authoring", "catalog", "enrollment", "delivery", "sync"]
EVENT_CONSUMERS = ["catalog", "sync"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(
        home=tmp_path_factory.mktemp("home"),
        runner_settings=RunnerSettings(schedules_enabled=False, stream_poll_interval=0.05),
    ) as running:
        yield running


@pytest.fixture(scope="module")
def bus(stack: LocalStack) -> BusObserver:
    # Subscribed before any state is set up, so no event is published before it listens.
    return BusObserver(stack)


@pytest.fixture(scope="module")
def states(stack: LocalStack, bus: BusObserver) -> ProviderStates:
    return ProviderStates(stack)


def _verifier(stack: LocalStack, state_url: str) -> Verifier:
    return (
        Verifier(PROVIDER, host=urlsplit(stack.api_url).hostname)
        .add_transport(url=stack.api_url)
        .state_handler(state_url, body=True)
        .set_error_on_empty_pact(enabled=True)
        .set_request_timeout(30_000)
        .set_coloured_output(enabled=False)
    )


@pytest.mark.parametrize("consumer", CONSUMERS)
def test_the_provider_honours_the_consumers_pact(consumer: str, stack: LocalStack, states: ProviderStates):
    pact_file = PACTS / f"{consumer}-{PROVIDER}.json"
    assert pact_file.is_file(), f"{pact_file} is missing: the {consumer} consumer's tests write it"
    with state_server(states) as state_url:
        verifier = _verifier(stack, state_url).add_source(pact_file)
        try:
            verifier.verify()
        except RuntimeError as failure:
            pytest.fail(f"{consumer}'s pact is not honoured:\n{verifier.output(strip_ansi=True)}\n{failure}")
    assert verifier.results["result"], verifier.output(strip_ansi=True)


@pytest.mark.parametrize("consumer", EVENT_CONSUMERS)
def test_the_events_honour_the_consumers_message_pact(consumer: str, states: ProviderStates, bus: BusObserver):
    pact_file = PACTS / f"{consumer}-{EVENTS_PROVIDER}.json"
    assert pact_file.is_file(), f"{pact_file} is missing: the {consumer} consumer's event tests write it"
    verifier = (
        Verifier(EVENTS_PROVIDER)
        .message_handler(EventProducer(states, bus).message)
        .add_source(pact_file)
        .set_error_on_empty_pact(enabled=True)
        .set_request_timeout(60_000)
        .set_coloured_output(enabled=False)
    )
    try:
        verifier.verify()
    except RuntimeError as failure:
        pytest.fail(f"{consumer}'s message pact is not honoured:\n{verifier.output(strip_ansi=True)}\n{failure}")
    assert verifier.results["result"], verifier.output(strip_ansi=True)


def test_a_pact_the_provider_does_not_honour_fails_the_verification(
    stack: LocalStack, states: ProviderStates, tmp_path
):
    # The verification must be able to fail: a consumer expecting a new bundle to be revoked.
    probe = Pact("probe", PROVIDER).with_specification("V4")
    (
        probe.upon_receiving("a read of a built bundle that expects it revoked")
        .given("the caller is the catalog service")
        .given("a bundle is built for a learner")
        .with_request("GET", from_state("/v1/bundles/bnd_x", "/v1/bundles/${bundle_id}"))
        .with_header("Authorization", bearer())
        .will_respond_with(200)
        .with_body({"state": "revoked"}, content_type="application/json")
    )
    probe.write_file(tmp_path)
    with state_server(states) as state_url:
        verifier = _verifier(stack, state_url).add_source(tmp_path / f"probe-{PROVIDER}.json")
        with pytest.raises(RuntimeError):
            verifier.verify()
    assert "revoked" in verifier.output(strip_ansi=True)
