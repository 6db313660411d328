"""Reading S3 notifications out of build messages: what cannot be built is dropped, not retried."""

from __future__ import annotations

import json

import pytest

from content_service.service.build_events import UploadedObject, uploaded_objects


def notification(*records: object) -> str:
    return json.dumps({"Records": list(records)})


def created(key: str, size: object = 10, bucket: object = "b") -> dict:
    return {
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": size}},
    }


def test_object_created_records_are_read_with_their_keys_url_decoded():
    body = notification(created("uploads/t/p/v1/source+a%2Bb.zip"), {"eventName": "ObjectRemoved:Delete"})
    assert uploaded_objects(body) == [UploadedObject("b", "uploads/t/p/v1/source a+b.zip", 10)]


def test_the_s3_test_event_announces_nothing():
    assert uploaded_objects(json.dumps({"Event": "s3:TestEvent", "Bucket": "b"})) == []


@pytest.mark.parametrize(
    "body",
    ["not json", "[1, 2]", "null", json.dumps({"Records": "nope"}), json.dumps({"Other": 1}), "\udcff"],
)
def test_a_message_that_is_not_a_notification_is_logged_and_dropped(body, caplog):
    with caplog.at_level("WARNING", logger="content_service.service.build_events"):
        assert uploaded_objects(body) == []
    assert "dropped" in caplog.text


@pytest.mark.parametrize(
    "record",
    [
        {"eventName": "ObjectCreated:Put"},
        {"eventName": "ObjectCreated:Put", "s3": {"bucket": {}, "object": {"key": "k"}}},
        {"eventName": "ObjectCreated:Put", "s3": "nope"},
        created("k", size="many"),
        created("k", bucket=["b"]),
        "not a record",
    ],
)
def test_a_malformed_record_is_dropped_and_the_good_ones_kept(record, caplog):
    with caplog.at_level("WARNING", logger="content_service.service.build_events"):
        objects = uploaded_objects(notification(record, created("good")))
    assert objects == [UploadedObject("b", "good", 10)]
