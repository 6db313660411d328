"""Deriving local resources from a template: short tags, intrinsics, names and event sources."""

from __future__ import annotations

import functools
import sys
import types
from pathlib import Path

import pytest

from content_service.local.cfn_yaml import load_template
from content_service.local.cold_start import clear_cached_state
from content_service.local.intrinsics import Resolver, UnsupportedIntrinsicError, logical_id_of
from content_service.local.template import (
    ApiEventSource,
    ScheduleEventSource,
    SqsEventSource,
    StreamEventSource,
    load_local_template,
    parse_rate,
)

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Env: {Type: String, Default: dev}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Globals:
  Function:
    Timeout: 10
    Environment:
      Variables:
        TABLE: !Ref Events
        QUEUE_URL: !Ref Jobs
        MODE: !If [IsProd, strict, relaxed]
Resources:
  Events:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-events-${Env}"
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Dead:
    Type: AWS::SQS::Queue
    Properties: {FifoQueue: true}
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
      VisibilityTimeout: 60
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 5}
  Inbox:
    Type: AWS::S3::Bucket
    Properties:
      NotificationConfiguration:
        QueueConfigurations:
          - Event: s3:ObjectCreated:*
            Queue: !GetAtt [Jobs, Arn]
            Filter: {S3Key: {Rules: [{Name: suffix, Value: .zip}]}}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker/
      Handler: app.handler
      Environment:
        Variables:
          LITERAL: !Sub "${!NotAVariable}-${Env}"
      Events:
        Jobs: {Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn, BatchSize: 7}}
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Events.StreamArn
            StartingPosition: TRIM_HORIZON
            FunctionResponseTypes: [ReportBatchItemFailures]
        Tick: {Type: Schedule, Properties: {Schedule: rate(1 hour)}}
        Health: {Type: Api, Properties: {Path: /health, Method: get, Auth: {Authorizer: NONE}}}
"""


@pytest.fixture
def template_path(tmp_path: Path) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE, encoding="utf-8")
    return path


def test_short_tags_load_as_long_form_intrinsics(template_path: Path) -> None:
    document = load_template(template_path)
    jobs = document["Resources"]["Jobs"]["Properties"]
    assert jobs["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["Dead", "Arn"]}
    assert document["Conditions"]["IsProd"] == {"Fn::Equals": [{"Ref": "Env"}, "prod"]}


def test_a_file_without_resources_is_not_a_template(tmp_path: Path) -> None:
    path = tmp_path / "other.yaml"
    path.write_text("a: 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a CloudFormation template"):
        load_template(path)


def test_resources_take_template_names_or_stack_prefixed_ones(template_path: Path) -> None:
    local = load_local_template(template_path, stack_name="s", endpoint_url="http://h:1")

    assert local.tables["Events"].name == "s-events-dev"
    assert local.tables["Events"].create_args["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_IMAGE",
    }
    assert local.queues["Jobs"].name == "s-jobs.fifo"
    assert local.buckets["Inbox"].name == "s-inbox"


def test_dead_letter_queues_are_created_first_and_wired_by_arn(template_path: Path) -> None:
    local = load_local_template(template_path, stack_name="s")

    dead, jobs = local.queues_in_creation_order()
    assert (dead.logical_id, jobs.logical_id) == ("Dead", "Jobs")
    assert jobs.dead_letter_logical_id == "Dead"
    assert jobs.max_receive_count == 5
    assert jobs.attributes["FifoQueue"] == "true"
    assert dead.arn in jobs.attributes["RedrivePolicy"]


def test_bucket_notifications_keep_their_key_filters(template_path: Path) -> None:
    local = load_local_template(template_path, stack_name="s")

    (config,) = local.buckets["Inbox"].notification["QueueConfigurations"]
    assert config["QueueArn"] == local.queues["Jobs"].arn
    assert config["Filter"] == {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".zip"}]}}


def test_functions_merge_globals_and_resolve_their_environment(template_path: Path) -> None:
    local = load_local_template(template_path, stack_name="s", endpoint_url="http://h:1")

    worker = local.functions["Worker"]
    assert worker.timeout == 10
    assert worker.handler_file == template_path.parent / "functions" / "worker" / "app.py"
    assert local.environment_for("Worker") == {
        "TABLE": "s-events-dev",
        "QUEUE_URL": "http://h:1/123456789012/s-jobs.fifo",
        "MODE": "relaxed",
        "LITERAL": "${NotAVariable}-dev",
    }


def test_parameter_overrides_flow_into_conditions(template_path: Path) -> None:
    local = load_local_template(template_path, stack_name="s", parameter_overrides={"Env": "prod"})
    assert local.environment_for("Worker")["MODE"] == "strict"


def test_every_event_source_kind_is_derived(template_path: Path) -> None:
    events = {source.name: source for source in load_local_template(template_path).functions["Worker"].events}

    assert events["Jobs"] == SqsEventSource("Jobs", "Jobs", batch_size=7, report_batch_item_failures=False)
    assert events["Changes"] == StreamEventSource(
        "Changes", "Events", starting_position="TRIM_HORIZON", report_batch_item_failures=True
    )
    assert events["Tick"] == ScheduleEventSource("Tick", 3600)
    assert events["Health"] == ApiEventSource("Health", "/health", "GET", authorized=False)


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(2 hours)", 7200), ("rate(1 day)", 86400)],
)
def test_rates_become_periods(expression: str, seconds: int) -> None:
    assert parse_rate(expression) == seconds


def test_cron_schedules_are_refused_rather_than_ignored() -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rate("cron(0 12 * * ? *)")


def test_unknown_intrinsics_fail_loudly() -> None:
    with pytest.raises(UnsupportedIntrinsicError):
        Resolver().resolve({"Fn::ImportValue": "shared-vpc"})


def test_no_value_drops_the_property() -> None:
    assert Resolver().resolve({"A": {"Ref": "AWS::NoValue"}, "B": [1, {"Ref": "AWS::NoValue"}]}) == {"B": [1]}


def test_join_select_and_split_resolve() -> None:
    resolver = Resolver(refs={"X": "a,b,c"})
    assert resolver.resolve(
        {"Fn::Join": ["-", [{"Fn::Select": [1, {"Fn::Split": [",", {"Ref": "X"}]}]}, "z"]]}
    ) == ("b-z")


def test_logical_ids_are_read_from_refs_and_getatts() -> None:
    assert logical_id_of({"Ref": "Queue"}) == "Queue"
    assert logical_id_of({"Fn::GetAtt": ["Table", "StreamArn"]}) == "Table"
    assert logical_id_of({"Fn::GetAtt": "Table.StreamArn"}) == "Table"
    assert logical_id_of("arn:aws:sqs:eu-west-1:1:q") is None


def test_cold_start_clears_cached_functions_of_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("content_service.fake_cached")
    calls = []

    @functools.lru_cache(maxsize=1)
    def settings() -> object:
        calls.append(1)
        return object()

    settings.__module__ = module.__name__
    module.settings = settings  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    first = settings()

    cleared = clear_cached_state()

    assert "content_service.fake_cached.settings" in cleared
    assert settings() is not first
    assert len(calls) == 2
