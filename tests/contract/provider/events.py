"""The content service's events as its consumers receive them: made by the real pipeline.

Each message a consumer's pact names is produced by doing the thing through the API on the local
stack (build a package, create or revoke a bundle, overwrite a bundle's manifest behind the
service's back, revoke a device) and taking the event the real
fan_out function then publishes on the EventBridge bus. A queue subscribed to the bus by a rule
of the test's own (as a consumer would subscribe) catches every event.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3

from content_service.local.stack import LocalStack
from tests.contract.provider.states import ProviderStates

Event = dict[str, Any]


class BusObserver:
    """Every event published on the stack's bus, caught by an SQS queue behind a rule."""

    def __init__(self, stack: LocalStack) -> None:
        self._sqs, events = boto3.client("sqs"), boto3.client("events")
        self._url = self._sqs.create_queue(QueueName=f"pact-bus-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self._url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        bus = stack.function_environment("FanOutFunction")["EVENT_BUS_NAME"]
        pattern = json.dumps({"source": ["content-service"]})
        events.put_rule(Name="pact-observer", EventBusName=bus, EventPattern=pattern)
        events.put_targets(Rule="pact-observer", EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
        self.seen: list[Event] = []
        self._lock = threading.Lock()

    def wait_for(self, subject: str, match: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> Event:
        """The first published ``subject`` event whose data ``match``es; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                self._drain()
                for event in self.seen:
                    if event["detail-type"] == subject and match(event["detail"]["data"]):
                        return event
            if time.monotonic() > deadline:
                raise AssertionError(f"no {subject} event was published within {timeout:.0f} s")
            time.sleep(0.05)

    def _drain(self) -> None:
        while messages := self._sqs.receive_message(
            QueueUrl=self._url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", []):
            for message in messages:
                self.seen.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])


class EventProducer:
    """Makes each event subject happen on the stack and hands the published event to the verifier."""

    def __init__(self, states: ProviderStates, bus: BusObserver) -> None:
        self.states, self.bus = states, bus
        self.producers: dict[str, Callable[[], Event]] = {
            "content.package.built.v1": self._package_built,
            "content.bundle.created.v1": self._bundle_created,
            "content.bundle.revoked.v1": self._bundle_revoked,
            "content.bundle.tampered.v1": self._bundle_tampered,
            "content.device.revoked.v1": self._device_revoked,
        }

    def message(self, name: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        """pact-python's message handler: the verifier names the message by its description."""
        event = self.producers[name]()
        return {
            "contents": json.dumps(event["detail"]).encode(),
            "metadata": {"detail-type": event["detail-type"], "source": event["source"]},
            "content_type": "application/json",
        }

    def _package_built(self) -> Event:
        package_id = self.states.set_up("a package version is built", {})["package_id"]
        return self.bus.wait_for("content.package.built.v1", lambda d: d["package_id"] == package_id)

    def _new_bundle(self) -> str:
        self.states.set_up("the caller is the catalog service", {})
        return self.states.set_up("a bundle is built for a learner", {})["bundle_id"]

    def _bundle_created(self) -> Event:
        bundle_id = self._new_bundle()
        return self.bus.wait_for("content.bundle.created.v1", lambda d: d["bundle_id"] == bundle_id)

    def _bundle_revoked(self) -> Event:
        bundle_id = self._new_bundle()
        self.states.catalog().revoke_bundle(bundle_id, "withdrawn by the catalog")
        return self.bus.wait_for("content.bundle.revoked.v1", lambda d: d["bundle_id"] == bundle_id)

    def _bundle_tampered(self) -> Event:
        # A write to the bundles bucket that the service did not make: the storage watcher's case.
        bundle_id = self._new_bundle()
        bundle = self.states.catalog().get_bundle(bundle_id)
        bucket = self.states.stack.endpoints.buckets["BundlesBucket"]
        boto3.client("s3").put_object(Bucket=bucket, Key=bundle["manifest_key"], Body=b"eyJhbGciOiJub25lIn0.e30.")
        return self.bus.wait_for("content.bundle.tampered.v1", lambda d: d["bundle_id"] == bundle_id)

    def _device_revoked(self) -> Event:
        self.states.set_up("the caller is the learner", {})
        device_id = self.states.set_up("a learner has an enrolled device", {})["device_id"]
        _, learner = self.states.learner()
        learner.revoke_device(device_id, "lost")
        return self.bus.wait_for("content.device.revoked.v1", lambda d: d["device_id"] == device_id)
